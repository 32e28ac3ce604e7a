// The kernel backend's host side (see kernel_instance.h).
#include "driver/kernel_instance.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "base/proc_status.h"
#include "driver/notify_channel.h"
#include "driver/ns_init.h"
#include "driver/ns_wire.h"

namespace lx::driver {
namespace {

using nswire::Type;

[[noreturn]] void child_fail(int ctl, const std::string& what) {
  (void)nswire::send(ctl, Type::kSetupFailed, fmt::format("{}: {}", what, std::strerror(errno)));
  _exit(1);
}

// The first process: a user namespace (mapped by the host), then the other namespaces, then
// init as the first process of the new PID namespace. Never returns.
[[noreturn]] void first_child(int ctl, const NsInitConfig& config) {
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3 && null >= 0; ++fd) dup2(null, fd);
  if (dup2(ctl, 3) != 3) _exit(1);
  ctl = 3;
  syscall(SYS_close_range, 4u, ~0u, 0u);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (unshare(CLONE_NEWUSER) != 0) child_fail(ctl, "unshare(CLONE_NEWUSER)");
  if (!nswire::send(ctl, Type::kUnshared, {})) _exit(1);
  auto mapped = nswire::recv(ctl);
  if (!mapped || mapped->type != Type::kMapped) _exit(1);
  int more = config.new_ipc_and_uts ? CLONE_NEWUTS | CLONE_NEWIPC : 0;
  if (unshare(CLONE_NEWNS | CLONE_NEWPID | more) != 0)
    child_fail(ctl, more ? "unshare(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC)" : "unshare(CLONE_NEWNS|CLONE_NEWPID)");
  pid_t init = fork();
  if (init < 0) child_fail(ctl, "fork");
  if (init == 0) {
    fcntl(ctl, F_SETFD, FD_CLOEXEC);
    ns_init_main(ctl, config);
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, init, 0));
  nswire::Writer w;
  w.u32(static_cast<std::uint32_t>(init));
  int fds[1] = {pidfd};
  (void)nswire::send(ctl, Type::kInitPid, w.bytes(), std::span<const int>(fds, pidfd >= 0 ? 1 : 0));
  _exit(0);
}

// The maps as one string ("u:0:1000:1,1:100000:65536 g:..."): what a tree was converted for.
std::string maps_key(const IdMaps& maps) {
  std::string key = "u:";
  for (const auto& r : maps.uids) key += fmt::format("{}:{}:{},", r.inside, r.outside, r.count);
  key += " g:";
  for (const auto& r : maps.gids) key += fmt::format("{}:{}:{},", r.inside, r.outside, r.count);
  return key;
}

std::string ns_link(pid_t pid) {
  char buf[64];
  ssize_t n = readlink(fmt::format("/proc/{}/ns/pid", pid).c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Why launch `spec` did not start, worded as the emulated launcher words it.
Error launch_error(const nswire::Report& r, const LaunchSpec& spec) {
  const char* what = r.a == 1 ? "chdir" : r.a == 3 ? "seccomp(SECCOMP_SET_MODE_FILTER)" : r.a == 5 ? "setting the launch's user"
                   : r.a == 6 ? "setting the capabilities (PR_CAPBSET_DROP, capset)" : r.a == 7 ? "seccomp(the container's own filter)"
                   : r.a == 8 ? "setrlimit" : "execve";
  return Error{r.b, fmt::format("cannot run '{}': {}: {}", spec.argv[0], what, std::strerror(r.b))};
}

}  // namespace

KernelInstance::KernelInstance(Options options) : options_(std::move(options)) {}

Result<std::unique_ptr<KernelInstance>> KernelInstance::start(Options options) {
  std::unique_ptr<KernelInstance> k(new KernelInstance(std::move(options)));
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return Error::from_errno("socketpair");
  k->ctl_.reset(sv[0]);
  NsInitConfig config{k->options_.plan, k->options_.filter, k->options_.listener, {}, k->options_.new_ipc_and_uts,
                      k->options_.exact_mounts, k->options_.read_only_root};
  if (!config.new_ipc_and_uts) config.plan.hostname.clear();  // not its namespace to name
  if (k->options_.distro && k->options_.maps.helpers) config.owners_for_maps = maps_key(k->options_.maps);
  // init is the first child's child: it stays ours (not the host's pid 1's) when that one exits.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t child = fork();
  if (child < 0) {
    close(sv[1]);
    return Error::from_errno("fork");
  }
  if (child == 0) first_child(sv[1], config);
  close(sv[1]);
  auto r = k->handshake(child);
  if (!r) kill(child, SIGKILL);
  while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }  // the first child is done (ECHILD where SIGCHLD is SA_NOCLDWAIT: the kernel reaped it)
  if (!r) {
    return Error{r.error().code, fmt::format("starting the kernel backend's namespaces: {}", r.error().message)};
  }
  if (k->options_.plan.max_processes > 0 && geteuid() == 0) {
    // Before any launch: every process of the instance is init's descendant.
    // Where there is none to be had (a read-only cgroupfs), the limit does not bind, and the
    // instance says so where it says which backend it runs on.
    auto cg = PidsCgroup::create(k->init_pid_, k->options_.plan.max_processes);
    std::string note = cg ? fmt::format("max_processes is pids.max of {}", cg->path())
                          : fmt::format("max_processes does not bind: {}", cg.error().message);
    if (cg) k->pids_ = std::move(*cg);
    k->start_note_ += (k->start_note_.empty() ? "" : "; ") + note;
  }
  k->events_ = std::thread([p = k.get()] { p->read_events(); });
  return k;
}

Result<void> KernelInstance::handshake(pid_t child) {
  // The first child's messages and init's: unshared → (we map) → init's pid and ready, these two
  // in either order (two processes write them).
  // Bounded: a start that does not finish in 30 s is an error, never a hang.
  bool ready = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    if (ready && init_pidfd_) return ok();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{ctl_.get(), POLLIN, 0};
    int polled = left.count() > 0 ? poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) return Error{ETIMEDOUT, "the namespaces were not ready within 30 s"};
    LX_TRY_ASSIGN(m, nswire::recv(ctl_.get()));
    switch (m.type) {
      case Type::kSetupFailed: return Error{EPERM, m.payload};
      case Type::kUnshared:
        LX_TRY(write_id_maps(child, options_.maps));
        LX_TRY(nswire::send(ctl_.get(), Type::kMapped, {}));
        break;
      case Type::kInitPid: {
        nswire::Reader r(m.payload);
        init_pid_ = static_cast<pid_t>(r.u32());
        if (m.fds.empty()) return Error{ESRCH, "init's pidfd never came"};
        init_pidfd_ = std::move(m.fds[0]);
        break;
      }
      case Type::kReady:
        ready = true;
        start_note_ = m.payload;
        if (!m.fds.empty()) root_ = std::move(m.fds[0]);
        break;
      default: return Error{EPROTO, "unexpected message while starting"};
    }
  }
}

KernelInstance::~KernelInstance() {
  if (init_pidfd_) syscall(SYS_pidfd_send_signal, init_pidfd_.get(), SIGKILL, nullptr, 0);
  if (ctl_) shutdown(ctl_.get(), SHUT_RDWR);
  if (events_.joinable()) events_.join();
  for (auto& c : channels_) c->stop();
  pids_.remove();  // init's pidfd was readable: every process of the instance is gone
}

void KernelInstance::read_events() {
  for (;;) {
    auto m = nswire::recv(ctl_.get());
    if (!m && init_pidfd_) {
      // init closed its end when it began to exit; the kernel kills the rest of the PID namespace
      // after that, and init's pidfd is readable only once every process in it is gone. The
      // instance counts as ended from then on (a bound, in case init hangs in its exit).
      pollfd p{init_pidfd_.get(), POLLIN, 0};
      while (poll(&p, 1, 30000) < 0 && errno == EINTR) {
      }
    }
    std::unique_lock lock(mu_);
    if (!m) {
      gone_ = true;
      cv_.notify_all();
      auto on_gone = on_gone_;
      lock.unlock();
      if (on_gone) on_gone();
      return;
    }
    nswire::Reader r(m->payload);
    std::uint32_t id = r.u32();
    auto it = waiters_.find(id);
    if (it == waiters_.end()) continue;
    Waiter& w = it->second;
    if (m->type == Type::kExited) {
      w.exited = true;
      w.status = static_cast<int>(r.u32());
    } else if (m->type == Type::kLaunchFailed) {
      w.failed = true;
      w.err = static_cast<int>(r.u32());
    }
    cv_.notify_all();
  }
}

Result<void> KernelInstance::send_launch(std::uint32_t id, const LaunchSpec& spec, int report_w, int go_r) {
  std::vector<int> fds = spec.stdio.empty() ? std::vector<int>{0, 1, 2} : spec.stdio;
  std::string payload = nswire::encode_launch(id, spec, static_cast<std::uint32_t>(fds.size()));
  fds.insert(fds.end(), spec.extra_fds.begin(), spec.extra_fds.end());
  fds.push_back(report_w);
  fds.push_back(go_r);
  std::lock_guard lock(mu_);
  if (gone_) return Error{ESRCH, "the instance has ended"};
  waiters_[id];
  return nswire::send(ctl_.get(), Type::kLaunch, payload, fds);
}

Result<void> KernelInstance::take_listener(int pidfd, int child_fd) {
  int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, child_fd, 0));
  if (fd < 0) return Error::from_errno("pidfd_getfd (the launch's seccomp listener)");
  auto channel = std::make_unique<NotifyChannel>(fd, *options_.table, options_.name, options_.sink);
  if (options_.sync_wakeup) channel->enable_sync_wakeup();
  LX_TRY(channel->start(options_.notify_workers < 1 ? 1 : options_.notify_workers));
  std::vector<std::unique_ptr<NotifyChannel>> done;
  {
    std::lock_guard lock(mu_);
    // The channels of launches whose whole tree is gone go (their threads with them): an
    // instance that lives long and launches often keeps only the live ones.
    auto live = std::partition(channels_.begin(), channels_.end(), [](const auto& c) { return !c->finished(); });
    for (auto it = live; it != channels_.end(); ++it) {
      served_before_ += (*it)->served();
      done.push_back(std::move(*it));
    }
    channels_.erase(live, channels_.end());
    channels_.push_back(std::move(channel));
  }
  for (auto& c : done) c->stop();
  return ok();
}

Result<ExitStatus> KernelInstance::wait_exit(std::uint32_t id) {
  std::unique_lock lock(mu_);
  Waiter& w = waiters_[id];
  cv_.wait(lock, [&] { return w.exited || gone_; });
  ExitStatus st = w.exited ? ExitStatus::from_wait_status(w.status) : ExitStatus::from_wait_status(SIGKILL);
  waiters_.erase(id);
  return st;
}

Result<ExitStatus> KernelInstance::run(const LaunchSpec& spec, const std::function<void(pid_t)>& on_start) {
  if (spec.argv.empty()) return Error::msg("no command given");
  // The launch reports on a socket that carries its pid (SCM_CREDENTIALS, in our PID namespace)
  // with each report; it waits for go (a pipe) before it takes its user and execs.
  int report[2], go[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) != 0) return Error::from_errno("socketpair");
  UniqueFd report_r(report[0]), report_w(report[1]);
  int one = 1;
  if (setsockopt(report_r.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) return Error::from_errno("SO_PASSCRED");
  if (pipe2(go, O_CLOEXEC) != 0) return Error::from_errno("pipe2");
  UniqueFd go_r(go[0]), go_w(go[1]);
  std::uint32_t id;
  {
    std::lock_guard lock(mu_);
    id = next_id_++;
  }
  auto sent = send_launch(id, spec, report_w.get(), go_r.get());
  report_w.reset();
  go_r.reset();
  if (!sent) {
    std::lock_guard lock(mu_);
    waiters_.erase(id);
    return sent.error();
  }
  auto first = read_report(report_r.get());
  if (!first) return no_report(id);  // the fork failed, or the process died before its report
  if (first->report.kind == 2) {
    (void)wait_exit(id);
    return launch_error(first->report, spec);
  }
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, first->pid, 0)));
  if (!pidfd) {
    int e = errno;
    go_w.reset();  // it waits for go: now it reads EOF and exits
    (void)wait_exit(id);
    return Error::from_errno("pidfd_open (the launch)", e);
  }
  if (first->report.a >= 0)
    if (auto t = take_listener(pidfd.get(), first->report.a); !t) {
      syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
      (void)wait_exit(id);
      return t.error();
    }
  if (on_start) on_start(first->pid);
  char go_byte = 1;
  if (write(go_w.get(), &go_byte, 1) != 1) {
    int e = errno;
    syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    (void)wait_exit(id);
    return Error::from_errno("releasing the launch", e);
  }
  if (auto after = read_report(report_r.get()); after && after->report.kind == 2) {
    (void)wait_exit(id);
    return launch_error(after->report, spec);
  }
  return wait_exit(id);  // the report socket closed at its exec
}

Result<KernelInstance::Reported> KernelInstance::read_report(int fd) {
  Reported out;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  iovec iov{&out.report, sizeof out.report};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof out.report)) return Error{ECHILD, "the launch ended before its report"};
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
      out.pid = cred.pid;
    }
  if (out.pid <= 0) return Error{ESRCH, "the launch's report came without its pid"};
  return out;
}

Result<ExitStatus> KernelInstance::no_report(std::uint32_t id) {
  std::unique_lock lock(mu_);
  Waiter& w = waiters_[id];
  cv_.wait(lock, [&] { return w.failed || w.exited || gone_; });
  Waiter done = std::move(w);
  waiters_.erase(id);
  if (done.failed) return Error::from_errno("fork in the instance", done.err);
  if (done.exited) return ExitStatus::from_wait_status(done.status);
  return Error{ESRCH, "the instance ended before the launch started"};
}

void KernelInstance::end(std::chrono::milliseconds grace) {
  nswire::Writer w;
  w.u32(static_cast<std::uint32_t>(std::min<long long>(grace.count(), 3600000)));
  std::lock_guard lock(mu_);
  if (gone_ || !nswire::send(ctl_.get(), Type::kEnd, w.bytes()))
    if (init_pidfd_) syscall(SYS_pidfd_send_signal, init_pidfd_.get(), SIGKILL, nullptr, 0);
}

void KernelInstance::set_on_gone(std::function<void()> f) {
  std::unique_lock lock(mu_);
  on_gone_ = std::move(f);
  if (!gone_) return;
  auto now = on_gone_;
  lock.unlock();
  now();
}

bool KernelInstance::gone() const {
  std::lock_guard lock(mu_);
  return gone_;
}

std::uint64_t KernelInstance::notifications() const {
  std::lock_guard lock(mu_);
  std::uint64_t n = served_before_;
  for (const auto& c : channels_) n += c->served();
  return n;
}

std::vector<ProcessInfo> KernelInstance::processes() const {
  std::vector<ProcessInfo> out;
  std::string ns = ns_link(init_pid_);
  if (ns.empty()) return out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (!end || *end || pid <= 0 || ns_link(static_cast<pid_t>(pid)) != ns) continue;
    auto st = ProcStatus::read(static_cast<pid_t>(pid));
    if (!st) continue;
    ProcessInfo info;
    info.pid = static_cast<pid_t>(pid);
    info.parent = pid == init_pid_ ? 0 : st->ppid().value_or(0);
    info.state = st->state().value_or('?');
    info.threads = st->threads().value_or(1);
    std::ifstream cmd(fmt::format("/proc/{}/cmdline", pid));
    info.cmdline.assign(std::istreambuf_iterator<char>(cmd), {});
    info.command = info.cmdline;
    std::replace(info.command.begin(), info.command.end(), '\0', ' ');
    while (!info.command.empty() && info.command.back() == ' ') info.command.pop_back();
    if (pid == init_pid_) info.command = "init (lxhost)";
    out.push_back(std::move(info));
  }
  closedir(d);
  return out;
}

}  // namespace lx::driver
