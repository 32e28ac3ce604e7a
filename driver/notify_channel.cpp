// NotifyChannel: worker threads blocked in SECCOMP_IOCTL_NOTIF_RECV, each answering one
// notification at a time; stopped by a wake-up signal that interrupts the blocking ioctl.
#include "driver/notify_channel.h"

#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>

#include "driver/guest_memory.h"
#include "driver/syscall_context_impl.h"
#include <lxhost/syscall_table.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace lx::driver {
using sdk::ArgKind;
using sdk::SyscallInfo;
using sdk::SyscallTable;
namespace {

// The signal that interrupts a worker's blocking RECV when the channel stops.
int wake_signal() noexcept { return SIGRTMIN + 4; }

void install_wake_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the ioctl must return EINTR
    sigaction(wake_signal(), &sa, nullptr);
  });
}

}  // namespace

NotifyChannel::NotifyChannel(int listener, const DispatchTable& table, std::string instance, EventSink* sink)
    : listener_(listener), table_(table), instance_(std::move(instance)), sink_(sink) {}

NotifyChannel::~NotifyChannel() {
  stop();
  if (listener_ >= 0) close(listener_);
}

bool NotifyChannel::enable_sync_wakeup() noexcept {
  std::uint64_t flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
  sync_wakeup_ = ioctl(listener_, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags) == 0;
  return sync_wakeup_;
}

// A handler may block (opening a FIFO waits for the other end, a lock, a slow device): after
// this long (one to two periods) with calls waiting, another worker takes them, up to
// kMaxWorkers in all.
constexpr std::chrono::milliseconds kStall{20};
constexpr int kMaxWorkers = 64;

bool NotifyChannel::spawn_worker(bool primary) {
  // Workers take no process signals but the wake-up: those belong to the main thread.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  bool ok = true;
  running_.fetch_add(1);
  try {
    workers_.emplace_back([this, primary] {
      run(primary);
      running_.fetch_sub(1);
    });
    worker_count_.fetch_add(1);
  } catch (const std::exception&) {
    running_.fetch_sub(1);
    ok = false;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

Result<void> NotifyChannel::start(int workers) {
  install_wake_handler();
  for (int i = 0; i < workers; ++i) {
    if (!spawn_worker(i == 0)) {
      stop();
      return Error::msg("starting NOTIFY workers failed");
    }
  }
  try {
    watcher_ = std::thread([this] { watch(); });
  } catch (const std::exception& e) {
    stop();
    return Error::msg(std::string("starting the NOTIFY watcher failed: ") + e.what());
  }
  return ok();
}

// A handler is about to block: a helper (an idle one, else a new one) takes the next call.
void NotifyChannel::hand_over() noexcept {
  std::lock_guard lock(mu_);
  if (stopping_.load()) return;
  int helpers = worker_count_.load() - 1;
  // busy_helpers_ counts the calling helper too; the primary is not counted.
  if (busy_helpers_.load() + helper_requests_ >= helpers) {
    if (worker_count_.load() >= kMaxWorkers || !spawn_worker(false)) return;
  }
  ++helper_requests_;
  helper_cv_.notify_one();
}

// While the primary is stuck in a handler and calls are waiting, hands them to helpers, starting
// new ones when every helper is stuck too: blocking handlers never stall the guest tree.
void NotifyChannel::watch() noexcept {
  std::unique_lock lock(mu_);
  std::uint64_t seen = 0;
  auto period = kStall;
  while (!stopping_.load()) {
    watcher_cv_.wait_for(lock, period, [&] { return stopping_.load(); });
    if (stopping_.load()) break;
    // Stalled: the primary has been in the same handler since the last look (kStall ago). An
    // idle guest tree is looked at ten times less often.
    std::uint64_t serving = primary_serving_.load(std::memory_order_relaxed);
    bool stalled = serving != 0 && serving == seen;
    seen = serving;
    period = serving != 0 ? kStall : kStall * 10;
    if (!stalled || helper_requests_ > 0) continue;
    pollfd p{listener_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) continue;
    int helpers = worker_count_.load() - 1;
    if (busy_helpers_.load() >= helpers) {
      if (worker_count_.load() >= kMaxWorkers || !spawn_worker(false)) continue;
    }
    ++helper_requests_;
    helper_cv_.notify_one();
  }
}

void NotifyChannel::stop() noexcept {
  {
    std::lock_guard lock(mu_);
    stopping_.store(true);
  }
  watcher_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();  // no worker starts after this
  if (workers_.empty()) return;
  helper_cv_.notify_all();
  // A signal sent before a worker enters the ioctl is lost, so keep sending until all are out.
  // (pthread_kill on an exited but not yet joined thread is valid.)
  while (running_.load() > 0) {
    for (auto& t : workers_) pthread_kill(t.native_handle(), wake_signal());
    usleep(200);
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
}

// One thread, the primary, waits in RECV and serves every notification: with the sync wake-up
// the guest and the primary hand one CPU to each other. Helpers do not wait in RECV (the kernel
// wakes RECV waiters in FIFO order, so several waiters would take turns and each wake-up would be
// a cold one: measured 7 us a call with two waiters against 4.9 us with one). A helper is woken
// only when the primary sees more notifications pending than it is serving, takes one, and goes
// back to sleep: a multi-threaded guest is served in parallel, a single thread at full speed.
void NotifyChannel::run(bool primary) noexcept {
  sigset_t wake;
  sigemptyset(&wake);
  sigaddset(&wake, wake_signal());
  pthread_sigmask(SIG_UNBLOCK, &wake, nullptr);
  // A handler writing on the guest's behalf to a pipe or socket whose reader is gone gets EPIPE,
  // never a SIGPIPE that would end this whole process (an instance: every guest in it).
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

  seccomp_notif req;
  while (!stopping_.load(std::memory_order_relaxed)) {
    if (!primary) {
      std::unique_lock lock(mu_);
      helper_cv_.wait(lock, [&] { return stopping_.load() || helper_requests_ > 0; });
      if (stopping_.load()) break;
      --helper_requests_;
    }
    std::memset(&req, 0, sizeof req);
    if (ioctl(listener_, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
      if (errno == EINTR) continue;  // a stop request, or a signal
      if (errno == ENOENT) {
        // The guest thread died before we took its call, or every guest task is gone: then the
        // filter has no users, RECV fails at once forever, and the channel is done (POLLHUP).
        pollfd p{listener_, POLLIN, 0};
        if (poll(&p, 1, 0) >= 0 && (p.revents & POLLHUP)) {
          finished_.store(true);
          break;
        }
        continue;
      }
      break;  // listener unusable
    }
    // Only with several guest threads can more calls be waiting: a single thread waits for us.
    if (primary && worker_count_.load(std::memory_order_relaxed) > 1 &&
        (!guest_threads_ || guest_threads_->load(std::memory_order_relaxed) > 1)) {
      // More notifications waiting? Then let a helper take the next one while we serve this.
      pollfd p{listener_, POLLIN, 0};
      if (poll(&p, 1, 0) > 0 && (p.revents & POLLIN)) {
        {
          std::lock_guard lock(mu_);
          ++helper_requests_;
        }
        helper_cv_.notify_one();
      }
    }
    // The primary marks which call it serves (the watcher sees a stall as the same mark twice).
    if (primary) primary_serving_.store(req.id | 1, std::memory_order_relaxed);
    else busy_helpers_.fetch_add(1);
    serve(req);
    if (primary) primary_serving_.store(0, std::memory_order_relaxed);
    else busy_helpers_.fetch_sub(1);
    served_.fetch_add(1, std::memory_order_relaxed);
  }
}

void NotifyChannel::serve(const seccomp_notif& req) noexcept {
  const DispatchEntry& entry = table_.at(req.data.nr);
  NotifyContext ctx(req, listener_, instance_, [this] { hand_over(); });
  SyscallEvent ev;
  if (sink_) {
    ev.tid = static_cast<pid_t>(req.pid);
    ev.nr = req.data.nr;
    ev.route = sdk::Route::kNotify;
    for (int i = 0; i < 6; ++i) ev.args[i] = req.data.args[i];
    capture_string_args(ev);
  }
  sdk::SyscallResult result =
      ctx.reply(entry.plugin ? entry.plugin->handle(ctx) : sdk::SyscallResult::continue_native());
  if (sink_) {
    ev.result = result;
    sink_->on_syscall(ev);
  }
}

}  // namespace lx::driver
