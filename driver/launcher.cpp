// Launcher: the fork, the child's pre-exec steps, and the error report back to the parent.
#include "driver/launcher.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

Result<Launcher> Launcher::spawn(const LaunchSpec& spec, const BpfProgram& filter) {
  if (spec.argv.empty()) return Error::msg("no command given");
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  sock_fprog prog{static_cast<unsigned short>(filter.size()), const_cast<sock_filter*>(filter.data())};
  const char* cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  if (spec.stdio.size() > 3) return Error::msg("at most three standard fds");
  int stdio[3] = {-1, -1, -1};
  for (std::size_t i = 0; i < spec.stdio.size(); ++i) stdio[i] = spec.stdio[i];
  bool new_session = spec.new_session;
  bool only_stdio = spec.only_stdio;
  bool set_signals = spec.set_signals;
  std::uint64_t ignored = 0;
  sigset_t blocked;
  sigemptyset(&blocked);
  for (int sig : spec.ignored_signals)
    if (sig > 0 && sig <= 64 && sig != SIGKILL && sig != SIGSTOP) ignored |= 1ULL << (sig - 1);
  for (int sig : spec.blocked_signals)
    if (sig > 0 && sig <= 64) sigaddset(&blocked, sig);

  int go[2], err[2];
  if (pipe2(go, O_CLOEXEC) != 0) return Error::from_errno("pipe2");
  if (pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    close(go[0]), close(go[1]);
    return Error::from_errno("pipe2", e);
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {go[0], go[1], err[0], err[1]}) close(fd);
    return Error::from_errno("fork", e);
  }
  if (pid == 0) {
    // Child. Die with the tracer if it dies before seizing us (EXITKILL covers after).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(125);
    close(go[1]);
    close(err[0]);
    // Undo the parent's signal handlers until exec (which would reset them anyway); the mask
    // and ignored signals are inherited as a native exec inherits them.
    for (int s = 1; s < NSIG; ++s) {
      if (s == SIGKILL || s == SIGSTOP) continue;
      struct sigaction sa;
      if (sigaction(s, nullptr, &sa) == 0 && sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL) {
        sa.sa_handler = SIG_DFL;
        sa.sa_flags = 0;
        sigaction(s, &sa, nullptr);
      }
    }
    // The standard fds given (a client's terminal or pipes): moved out of the way first, so
    // that one given as 1 is not overwritten by the dup2 onto 0.
    int moved[3];
    for (int i = 0; i < 3; ++i) moved[i] = stdio[i] >= 0 ? fcntl(stdio[i], F_DUPFD_CLOEXEC, 10) : -1;
    for (int i = 0; i < 3; ++i)
      if (moved[i] >= 0 && dup2(moved[i], i) < 0) _exit(125);
    if (only_stdio) syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    if (new_session) {
      setsid();
      if (isatty(0)) ioctl(0, TIOCSCTTY, 0);
    }
    if (set_signals) {
      // The client's dispositions: through the raw syscall, which also reaches the signals
      // glibc keeps for itself.
      struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)();
        std::uint64_t mask;
      } ksa{};
      for (int sig = 1; sig <= 64; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        ksa.handler = (ignored >> (sig - 1)) & 1 ? SIG_IGN : SIG_DFL;
        syscall(SYS_rt_sigaction, sig, &ksa, nullptr, sizeof ksa.mask);
      }
    }
    char c;
    if (read(go[0], &c, 1) != 1) _exit(125);  // the parent went away
    close(go[0]);
    if (cwd && chdir(cwd) != 0) child_fail(err[1], 1, errno);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(err[1], 2, errno);
    // The tracer sees this stop and steps the next syscalls to take the listener at seccomp's exit.
    kill(getpid(), SIGSTOP);
    unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (fd < 0 && errno == EINVAL) {  // kernel < 5.19: no killable wait
      fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    }
    if (fd < 0) child_fail(err[1], 3, errno);
    close(static_cast<int>(fd));
    if (set_signals) sigprocmask(SIG_SETMASK, &blocked, nullptr);
    execvpe(argv[0], argv.data(), envp.data());
    child_fail(err[1], 4, errno);
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
                   : e.step == 3 ? "seccomp(SECCOMP_SET_MODE_FILTER)" : "execve";
  return Error{e.err, fmt::format("{}: {}", what, std::strerror(e.err))};
}

}  // namespace lx::driver
