// The instance supervisor: posix_spawn of `lxhostd --instance`, the init handshake on its control
// socket, a reader thread per instance for its events (idle, status answers, its end), and the
// linger timers on the daemon's io_context. State shared with the connection threads is guarded
// by mu_; cv_ tells that an instance is gone.
#include "instance_supervisor.h"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "daemon_log.h"
#include "protocol.h"

extern char** environ;

namespace lx::service {
namespace asio = boost::asio;

// One running instance process, as the daemon sees it.
struct InstanceRec {
  std::string name;
  std::string rootfs;
  std::vector<std::string> sets;
  pid_t pid = 0;
  UniqueFd control;
  std::mutex send_mu;
  long long linger_ms = 0;
  long long grace_ms = 2000;
  std::optional<std::string> backend;  // as its InitReply gave it, and why
  std::string backend_why;
  int launches_sent = 0;  // guarded by InstanceSupervisor::mu_
  bool idle = false;      // guarded by InstanceSupervisor::mu_
  bool ending = false;    // guarded by InstanceSupervisor::mu_
  bool gone = false;      // guarded by InstanceSupervisor::mu_
  std::map<int, std::promise<InstanceStatusEvent>> pending;  // guarded by InstanceSupervisor::mu_
  int next_request = 1;                                      // guarded by InstanceSupervisor::mu_
  std::unique_ptr<asio::steady_timer> linger_timer;

  template <class M>
  Result<void> send(const M& m, std::span<const int> fds = {}) {
    std::lock_guard lock(send_mu);
    return send_message(control.get(), m, fds);
  }
};

namespace {

// Starts `program --instance=NAME --control-fd=3` in a process group of its own, with default
// signal dispositions and an empty mask; returns its pid and our end of its control socket.
Result<std::pair<pid_t, UniqueFd>> start_process(const std::string& program, const std::string& name) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return Error::from_errno("socketpair");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, theirs.get(), 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  std::string prog = program;
  std::string title = fmt::format("--instance={}", name);
  char* argv[] = {prog.data(), title.data(), const_cast<char*>("--control-fd=3"), nullptr};
  pid_t pid;
  int e = posix_spawn(&pid, prog.c_str(), &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (e != 0) return Error::from_errno(fmt::format("starting the instance process {}", prog), e);
  return std::pair{pid, std::move(ours)};
}

// Sends a new instance its init and reads its answer: its linger and grace times, its backend.
Result<void> handshake(InstanceRec& rec, const InitCommand& init) {
  LX_TRY(rec.send(init));
  auto reply = recv_frame(rec.control.get(), 60000);
  if (!reply) {
    int status = 0;
    if (waitpid(rec.pid, &status, WNOHANG) == rec.pid && WIFSIGNALED(status))
      return Error::msg(fmt::format("it was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status))));
    return std::move(reply).error();
  }
  if (auto err = reply_error(reply->body)) return *err;
  LX_TRY_ASSIGN(ready, decode<InitReply>(reply->body));
  rec.linger_ms = ready.linger_ms;
  rec.grace_ms = ready.grace_ms;
  rec.backend = ready.backend;
  rec.backend_why = ready.backend_why;
  return ok();
}

}  // namespace

InstanceSupervisor::InstanceSupervisor(asio::io_context& io, std::string program, std::string system_config_dir)
    : io_(io), program_(std::move(program)), system_config_dir_(std::move(system_config_dir)) {}

InstanceSupervisor::~InstanceSupervisor() = default;

Result<void> InstanceSupervisor::launch(InitCommand init, const RunRequest& request, int conn,
                                        std::span<const UniqueFd> stdio) {
  std::string name = init.name;
  init.sets = request.sets;
  LX_TRY_ASSIGN(rec, get(std::move(init)));
  std::vector<int> fds{conn};
  for (const auto& f : stdio)
    if (fds.size() < 1 + kMaxLaunchFds) fds.push_back(f.get());
  {
    std::lock_guard lock(mu_);
    rec->launches_sent++;
    rec->idle = false;
    debug_log(fmt::format("launch {} in '{}' (pid {})", rec->launches_sent, name, rec->pid));
  }
  LaunchCommand launch;
  launch.request = request;
  if (auto r = rec->send(launch, fds); !r)
    return Error{EPIPE, fmt::format("instance '{}' is gone: {}", name, r.error().message)};
  return ok();
}

namespace {

// Whether child `pid` has exited (and is not reaped yet: it is left to on_exit's waitpid).
bool exited(pid_t pid) {
  siginfo_t si{};
  return waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

}  // namespace

Result<std::shared_ptr<InstanceRec>> InstanceSupervisor::get(InitCommand init) {
  std::lock_guard spawn_lock(spawn_mu_);
  std::unique_lock lock(mu_);
  if (shutting_down_) return Error{ESHUTDOWN, "lxhostd is shutting down"};
  const std::string& name = init.name;
  auto it = instances_.find(name);
  // One instance per distro: a launch waits for the ending one to be gone, and for one that
  // died (a crashing plugin) and is not reaped yet: its client may have seen it end first.
  if (it != instances_.end() && (it->second->ending || (!it->second->gone && exited(it->second->pid)))) {
    auto old = it->second;
    wait_gone(lock, old);
    it = instances_.find(name);
  }
  if (it != instances_.end() && !it->second->gone && !it->second->ending) {
    if (!init.sets.empty() && init.sets != it->second->sets)
      return Error{EBUSY, fmt::format("instance '{}' is running with other --set values; end it first with "
                                      "'lx terminate {}'", name, name)};
    return it->second;
  }
  lock.unlock();
  return spawn(std::move(init));
}

Result<std::shared_ptr<InstanceRec>> InstanceSupervisor::spawn(InitCommand init) {
  init.system_config_dir = system_config_dir_;
  LX_TRY_ASSIGN(process, start_process(program_, init.name));
  auto rec = std::make_shared<InstanceRec>();
  rec->name = init.name;
  rec->rootfs = init.rootfs;
  rec->sets = init.sets;
  rec->pid = process.first;
  rec->control = std::move(process.second);
  if (auto r = handshake(*rec, init); !r) {
    kill(rec->pid, SIGKILL);
    waitpid(rec->pid, nullptr, 0);
    std::string why = fmt::format("instance '{}' could not start: {}", rec->name, r.error().message);
    log(why);
    return Error{ECHILD, why};
  }
  rec->linger_timer = std::make_unique<asio::steady_timer>(io_);
  log(fmt::format("instance '{}' started (pid {}{})", rec->name, rec->pid,
                  rec->rootfs.empty() ? ", host root" : ", rootfs " + rec->rootfs));
  log(fmt::format("instance '{}' (pid {}) runs on the {} backend: {}", rec->name, rec->pid, rec->backend.value_or("?"),
                  rec->backend_why));
  {
    std::lock_guard lock(mu_);
    instances_[rec->name] = rec;
  }
  std::thread([this, rec] { read(rec); }).detach();
  return rec;
}

void InstanceSupervisor::read(std::shared_ptr<InstanceRec> rec) {
  for (;;) {
    auto frame = recv_frame(rec->control.get(), -1);
    if (!frame) break;
    auto event = decode_message<InstanceEvent>(frame->body);
    if (event) on_event(rec, *event);
    else log(fmt::format("instance '{}': {}", rec->name, event.error().message));
  }
  on_exit(rec);
}

void InstanceSupervisor::on_event(const std::shared_ptr<InstanceRec>& rec, const InstanceEvent& event) {
  std::visit(Overloaded{
                 [&](const IdleEvent& e) { asio::post(io_, [this, rec, n = e.received] { on_idle(rec, n); }); },
                 [](const EndedEvent&) {},  // the process exits next; EOF follows
                 [&](const InstanceStatusEvent& e) {
                   std::lock_guard lock(mu_);
                   auto it = rec->pending.find(e.id);
                   if (it == rec->pending.end()) return;
                   it->second.set_value(e);
                   rec->pending.erase(it);
                 },
             },
             event);
}

void InstanceSupervisor::on_exit(const std::shared_ptr<InstanceRec>& rec) {
  int status = 0;
  while (waitpid(rec->pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    log(fmt::format("instance '{}' (pid {}) died: killed by signal {} ({}); its processes are gone", rec->name, rec->pid,
                    WTERMSIG(status), strsignal(WTERMSIG(status))));
  else
    log(fmt::format("instance '{}' (pid {}) ended", rec->name, rec->pid));
  {
    std::lock_guard lock(mu_);
    rec->gone = true;
    for (auto& [id, p] : rec->pending) p.set_value(InstanceStatusEvent{});  // no processes
    rec->pending.clear();
    auto it = instances_.find(rec->name);
    if (it != instances_.end() && it->second == rec) instances_.erase(it);
  }
  cv_.notify_all();
  asio::post(io_, [rec] {
    if (rec->linger_timer) rec->linger_timer->cancel();
  });
}

void InstanceSupervisor::on_idle(std::shared_ptr<InstanceRec> rec, int received) {
  std::lock_guard lock(mu_);
  debug_log(fmt::format("'{}' idle after {} launches ({} sent)", rec->name, received, rec->launches_sent));
  if (rec->gone || rec->ending || received != rec->launches_sent) return;  // a launch is on its way
  rec->idle = true;
  if (rec->linger_ms < 0) return;  // "forever": until lx terminate
  if (rec->linger_ms == 0) {
    end_locked(*rec);
    return;
  }
  int sent = rec->launches_sent;
  rec->linger_timer->expires_after(std::chrono::milliseconds(rec->linger_ms));
  rec->linger_timer->async_wait([this, rec, sent](const boost::system::error_code& ec) {
    if (ec) return;
    std::lock_guard lock(mu_);
    if (rec->idle && rec->launches_sent == sent && !rec->gone) end_locked(*rec);
  });
}

void InstanceSupervisor::end_locked(InstanceRec& rec) {
  if (rec.ending || rec.gone) return;
  rec.ending = true;
  log(fmt::format("ending instance '{}'", rec.name));
  (void)rec.send(EndCommand{});
}

bool InstanceSupervisor::wait_gone(std::unique_lock<std::mutex>& lock, const std::shared_ptr<InstanceRec>& rec) {
  auto timeout = std::chrono::milliseconds(rec->grace_ms) + std::chrono::seconds(10);
  return cv_.wait_for(lock, timeout, [&] { return rec->gone; });
}

std::vector<InstanceInfo> InstanceSupervisor::status() {
  std::vector<std::pair<std::shared_ptr<InstanceRec>, std::future<InstanceStatusEvent>>> asks;
  {
    std::lock_guard lock(mu_);
    debug_log(fmt::format("status: {} instances", instances_.size()));
    for (auto& [name, rec] : instances_) {
      StatusCommand ask;
      ask.id = rec->next_request++;
      asks.emplace_back(rec, rec->pending[ask.id].get_future());
      (void)rec->send(ask);
    }
  }
  std::vector<InstanceInfo> out;
  for (auto& [rec, answer] : asks) {
    InstanceInfo info;
    info.name = rec->name;
    info.pid = rec->pid;
    info.rootfs = rec->rootfs.empty() ? "/" : rec->rootfs;
    info.backend = rec->backend;
    info.backend_why = rec->backend_why;
    {
      std::lock_guard lock(mu_);
      info.state = rec->ending ? "ending" : rec->idle ? "idle" : "running";
    }
    if (answer.wait_for(std::chrono::seconds(3)) == std::future_status::ready) {
      auto processes = answer.get();
      info.processes = std::move(processes.processes);
      info.clients = processes.clients;
    } else {
      info.state = "not answering";
    }
    out.push_back(std::move(info));
  }
  return out;
}

Result<void> InstanceSupervisor::terminate(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = instances_.find(name.empty() ? kHostInstance : name);
  if (it == instances_.end()) return Error{ESRCH, fmt::format("no instance of '{}' is running (see 'lx status')", name)};
  auto rec = it->second;
  end_locked(*rec);
  if (!wait_gone(lock, rec)) return Error{ETIMEDOUT, fmt::format("instance '{}' did not end in time", rec->name)};
  return ok();
}

void InstanceSupervisor::end(const std::string& name, const std::function<void()>& on_ending) {
  std::unique_lock lock(mu_);
  auto it = instances_.find(name);
  if (it == instances_.end()) return;
  auto rec = it->second;
  on_ending();
  end_locked(*rec);
  wait_gone(lock, rec);
}

bool InstanceSupervisor::running(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = instances_.find(name);
  return it != instances_.end() && !it->second->gone;
}

bool InstanceSupervisor::shutting_down() {
  std::lock_guard lock(mu_);
  return shutting_down_;
}

void InstanceSupervisor::shutdown_all() {
  std::unique_lock lock(mu_);
  shutting_down_ = true;
  std::vector<std::shared_ptr<InstanceRec>> all;
  for (auto& [name, rec] : instances_) {
    end_locked(*rec);
    all.push_back(rec);
  }
  for (auto& rec : all) wait_gone(lock, rec);
}

}  // namespace lx::service
