// Launcher: the fork, the child's pre-exec steps, the error report back to the parent, and the
// tracer's side of the handshake (seize, release, the listener taken at seccomp's exit).
#include "driver/launcher.h"

#include "driver/child_setup.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

namespace lx::driver {
namespace {

// Child → parent error record: which step failed and its errno.
struct ChildError {
  int step;  // 1 chdir, 2 no_new_privs, 3 seccomp, 4 exec
  int err;
};

[[noreturn]] void child_fail(int fd, int step, int err) {
  ChildError e{step, err};
  (void)!write(fd, &e, sizeof e);
  _exit(step == 4 ? (err == ENOENT ? 127 : 126) : 125);
}

}  // namespace

Launcher::Launcher(Launcher&& o) noexcept
    : pid_(o.pid_), pidfd_(o.pidfd_), go_fd_(o.go_fd_), err_fd_(o.err_fd_) {
  o.pid_ = -1;
  o.pidfd_ = o.go_fd_ = o.err_fd_ = -1;
}

Launcher::~Launcher() {
  for (int fd : {pidfd_, go_fd_, err_fd_})
    if (fd >= 0) close(fd);
}

namespace {

// Everything the child needs, prepared before fork: after it, only async-signal-safe calls.
struct ChildPlan {
  std::vector<char*> argv, envp;
  sock_fprog prog{};
  const char* cwd = nullptr;
  ChildSetup setup;
  pid_t parent = 0;
  int go_fd = -1;   // read end: one byte lets the child go on
  int err_fd = -1;  // write end: the child's pre-exec error
};

Result<ChildPlan> plan_child(const LaunchSpec& spec, const BpfProgram& filter) {
  if (spec.argv.empty()) return Error::msg("no command given");
  if (spec.stdio.size() > 3) return Error::msg("at most three standard fds");
  if (spec.rlimits.size() > static_cast<std::size_t>(kMaxRlimits))
    return Error::msg(fmt::format("at most {} limits", kMaxRlimits));
  if (spec.extra_fds.size() > static_cast<std::size_t>(kMaxExtraFds))
    return Error::msg(fmt::format("at most {} fds besides the standard ones", kMaxExtraFds));
  ChildPlan p;
  for (const auto& a : spec.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
  p.argv.push_back(nullptr);
  for (const auto& e : spec.env) p.envp.push_back(const_cast<char*>(e.c_str()));
  p.envp.push_back(nullptr);
  p.prog = sock_fprog{static_cast<unsigned short>(filter.size()), const_cast<sock_filter*>(filter.data())};
  p.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  p.setup = child_setup_of(spec);
  p.parent = getpid();
  return p;
}

[[noreturn]] void child_main(const ChildPlan& p) noexcept {
  // Die with the tracer if it dies before seizing us (EXITKILL covers after).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != p.parent) _exit(125);
  prepare_child(p.setup);
  char c;
  if (read(p.go_fd, &c, 1) != 1) _exit(125);  // the parent went away
  close(p.go_fd);
  if (p.cwd && chdir(p.cwd) != 0) child_fail(p.err_fd, 1, errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(p.err_fd, 2, errno);
  if (int step = restrict_child(p.setup)) child_fail(p.err_fd, step, errno);
  // The tracer sees this stop and steps the next syscalls to take the listener at seccomp's exit.
  kill(getpid(), SIGSTOP);
  unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &p.prog);
  if (fd < 0 && errno == EINVAL) {  // kernel < 5.19: no killable wait
    fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &p.prog);
  }
  if (fd < 0) child_fail(p.err_fd, 3, errno);
  close(static_cast<int>(fd));
  if (p.setup.set_signals) sigprocmask(SIG_SETMASK, &p.setup.blocked, nullptr);
  fill_listen_pid(p.setup, p.envp.data());
  execvpe(p.argv[0], p.argv.data(), p.envp.data());
  child_fail(p.err_fd, 4, errno);
}

}  // namespace

Result<Launcher> Launcher::spawn(const LaunchSpec& spec, const BpfProgram& filter) {
  LX_TRY_ASSIGN(plan, plan_child(spec, filter));
  int go[2], err[2];
  if (pipe2(go, O_CLOEXEC) != 0) return Error::from_errno("pipe2");
  if (pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    close(go[0]), close(go[1]);
    return Error::from_errno("pipe2", e);
  }
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {go[0], go[1], err[0], err[1]}) close(fd);
    return Error::from_errno("fork", e);
  }
  if (pid == 0) {
    close(go[1]);
    close(err[0]);
    plan.go_fd = go[0];
    plan.err_fd = err[1];
    child_main(plan);
  }
  close(go[0]);
  close(err[1]);
  Launcher l;
  l.pid_ = pid;
  l.go_fd_ = go[1];
  l.err_fd_ = err[0];
  l.pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (l.pidfd_ < 0) {
    int e = errno;
    kill(pid, SIGKILL);
    return Error::from_errno(fmt::format("pidfd_open(pid={})", pid), e);
  }
  return l;
}

Result<void> Launcher::seize(unsigned long options) {
  if (ptrace(PTRACE_SEIZE, pid_, 0, options) != 0) {
    int e = errno;
    abandon();
    return Error::from_errno(fmt::format("ptrace(PTRACE_SEIZE, pid={})", pid_), e);
  }
  return ok();
}

void Launcher::abandon() noexcept {
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, __WALL) < 0 && errno == EINTR) {
  }
}

Result<void> Launcher::release() {
  char c = 1;
  if (write(go_fd_, &c, 1) != 1) return Error::from_errno(fmt::format("releasing guest pid={}", pid_));
  close(go_fd_);
  go_fd_ = -1;
  return ok();
}

Error Launcher::child_error() {
  if (err_fd_ < 0) return {};
  ChildError e{};
  ssize_t n = read(err_fd_, &e, sizeof e);
  close(err_fd_);
  err_fd_ = -1;
  if (n != static_cast<ssize_t>(sizeof e)) return {};
  const char* what = e.step == 1 ? "chdir" : e.step == 2 ? "prctl(PR_SET_NO_NEW_PRIVS)"
                   : e.step == 3 ? "seccomp(SECCOMP_SET_MODE_FILTER)"
                   : e.step == 6 ? "setting the capabilities (PR_CAPBSET_DROP, capset)"
                   : e.step == 7 ? "seccomp(the container's own filter)"
                   : e.step == 8 ? "setrlimit" : "execve";
  return Error{e.err, fmt::format("{}: {}", what, std::strerror(e.err))};
}

Result<void> Launcher::take_listener(const ListenerHandler& on_listener) {
  bool stepping = false;
  long entry_nr = -1;
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, __WALL) < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(fmt::format("waitpid(pid={})", pid_));
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      Error e = child_error();
      if (e.message.empty()) e.message = fmt::format("guest pid {} ended before its filter was installed", pid_);
      return e;
    }
    if (!WIFSTOPPED(status)) continue;
    int sig = WSTOPSIG(status);
    int event = status >> 16;
    if (!stepping && event == 0 && sig == SIGSTOP) {
      stepping = true;  // the child's own stop: from here, step syscall by syscall
      ptrace(PTRACE_SYSCALL, pid_, 0, 0);
      continue;
    }
    if (event != 0 || sig != (SIGTRAP | 0x80)) {
      // Anything else before the filter: pass the signal on and keep stepping.
      ptrace(PTRACE_SYSCALL, pid_, 0, event == 0 ? sig : 0);
      continue;
    }
    __ptrace_syscall_info info{};
    if (ptrace(PTRACE_GET_SYSCALL_INFO, pid_, sizeof info, &info) < 0)
      return Error::from_errno(fmt::format("ptrace(PTRACE_GET_SYSCALL_INFO, pid={})", pid_));
    if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
      entry_nr = static_cast<long>(info.entry.nr);
    } else if (info.op == PTRACE_SYSCALL_INFO_EXIT && entry_nr == SYS_seccomp) {
      if (!info.exit.is_error) return hand_over_listener(static_cast<int>(info.exit.rval), on_listener);
      ptrace(PTRACE_CONT, pid_, 0, 0);  // the child reports the failure and exits
      continue;
    }
    ptrace(PTRACE_SYSCALL, pid_, 0, 0);
  }
}

Result<void> Launcher::hand_over_listener(int child_fd, const ListenerHandler& on_listener) {
  int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd_, child_fd, 0));
  if (fd < 0) return Error::from_errno(fmt::format("pidfd_getfd(pid={}, fd={})", pid_, child_fd));
  LX_TRY(on_listener(fd));
  if (ptrace(PTRACE_CONT, pid_, 0, 0) != 0) return Error::from_errno(fmt::format("ptrace(PTRACE_CONT, pid={})", pid_));
  return ok();
}

}  // namespace lx::driver
