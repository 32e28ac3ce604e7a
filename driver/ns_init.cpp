// The instance's init (see ns_init.h). Single-threaded: it was forked from a single-threaded
// process, so it may allocate freely; each launch is forked from it.
#include "driver/ns_init.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "driver/child_setup.h"
#include "driver/ns_mounts.h"
#include "driver/ns_wire.h"

extern char** environ;

namespace lx::driver {
namespace {

using nswire::Report;
using nswire::Type;

void report(int fd, Report r) { (void)!write(fd, &r, sizeof r); }

[[noreturn]] void launch_failed(int fd, int step, int err) {
  report(fd, Report{2, step, err});
  _exit(step == 4 ? (err == ENOENT ? 127 : 126) : 125);
}

// Installs the filter (with a listener when asked); the listener fd, -1 without one.
int install_filter(const NsInitConfig& c, int report_fd) {
  sock_fprog prog{static_cast<unsigned short>(c.filter.size()), const_cast<sock_filter*>(c.filter.data())};
  unsigned long flags = c.listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV : 0;
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (fd < 0 && errno == EINVAL && c.listener)
    fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (fd < 0) launch_failed(report_fd, 3, errno);
  return c.listener ? static_cast<int>(fd) : -1;
}

// The launch's process: stdio, session, limits, filter (handed to the host), user, exec.
[[noreturn]] void launch_child(const NsInitConfig& c, nswire::LaunchMessage& m, std::vector<UniqueFd>& fds) {
  int report_fd = fds[m.nstdio].get(), go_fd = fds[m.nstdio + 1].get();
  LaunchSpec& spec = m.spec;
  for (std::uint32_t i = 0; i < m.nstdio; ++i) spec.stdio.push_back(fds[i].get());
  ChildSetup setup = child_setup_of(spec);
  prepare_child(setup);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (c.plan.max_processes > 0) {
    rlimit rl{c.plan.max_processes, c.plan.max_processes};
    setrlimit(RLIMIT_NPROC, &rl);
  }
  prctl(PR_SET_DUMPABLE, 1);  // the host takes the listener with pidfd_getfd (a ptrace access check)
  int listener = install_filter(c, report_fd);
  report(report_fd, Report{1, listener, 0});
  char go;
  if (read(go_fd, &go, 1) != 1) _exit(125);  // the host gave up on this launch
  if (listener >= 0) close(listener);         // the host holds its own copy now
  if (spec.ids) {
    const auto& ids = *spec.ids;
    if (setgroups(ids.groups.size(), ids.groups.data()) != 0 && !(errno == EPERM && ids.groups.empty()))
      launch_failed(report_fd, 5, errno);
    if (setresgid(ids.gid, ids.gid, ids.gid) != 0 || setresuid(ids.uid, ids.uid, ids.uid) != 0)
      launch_failed(report_fd, 5, errno);
  }
  if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) launch_failed(report_fd, 1, errno);
  if (setup.set_signals) sigprocmask(SIG_SETMASK, &setup.blocked, nullptr);
  std::vector<char*> argv, envp;
  for (auto& a : spec.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : spec.env) envp.push_back(e.data());
  envp.push_back(nullptr);
  environ = envp.data();  // execvpe looks PATH up in the guest's environment, as the emulated launcher's guest does
  execvpe(argv[0], argv.data(), envp.data());
  launch_failed(report_fd, 4, errno);
}

class Init {
 public:
  Init(int ctl, const NsInitConfig& c) : ctl_(ctl), config_(c) {}

  [[noreturn]] void run() {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, nullptr);
    sigfd_ = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    for (;;) {
      pollfd p[2] = {{ctl_, POLLIN, 0}, {sigfd_, POLLIN, 0}};
      int n = poll(p, 2, ending_ ? 50 : -1);
      if (n < 0 && errno != EINTR) _exit(1);
      if (p[0].revents) serve_host();
      reap();
      if (ending_ && (no_children() || std::chrono::steady_clock::now() >= deadline_)) _exit(0);
    }
  }

 private:
  void serve_host() {
    auto m = nswire::recv(ctl_);
    if (!m) _exit(0);  // the host is gone: the namespace ends with us
    if (m->type == Type::kEnd) {
      nswire::Reader r(m->payload);
      std::uint32_t grace_ms = r.u32();
      kill(-1, SIGTERM);
      ending_ = true;
      deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
      return;
    }
    if (m->type != Type::kLaunch) return;
    auto launch = nswire::decode_launch(m->payload);
    if (!launch || m->fds.size() != launch->nstdio + 2) return;
    pid_t pid = fork();
    if (pid == 0) {
      close(ctl_);
      close(sigfd_);
      launch_child(config_, *launch, m->fds);
    }
    nswire::Writer w;
    w.u32(launch->id);
    if (pid < 0) {
      w.u32(static_cast<std::uint32_t>(errno));
      (void)nswire::send(ctl_, Type::kLaunchFailed, w.bytes());
      return;
    }
    w.u32(static_cast<std::uint32_t>(pid));
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    int fds[1] = {pidfd};
    (void)nswire::send(ctl_, Type::kStarted, w.bytes(), pidfd >= 0 ? std::span<const int>(fds) : std::span<const int>());
    if (pidfd >= 0) close(pidfd);
    launches_[pid] = launch->id;
  }

  void reap() {
    signalfd_siginfo si;
    while (read(sigfd_, &si, sizeof si) > 0) {
    }
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG | __WALL)) > 0) {
      if (WIFSTOPPED(status)) {
        // A child that asked to be traced by its parent (PTRACE_TRACEME) and stopped: init is
        // nobody's debugger; it lets the child go on with its signal (a SIGTRAP is dropped).
        int sig = WSTOPSIG(status);
        ptrace(PTRACE_DETACH, pid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig == SIGTRAP ? 0 : sig)));
        continue;
      }
      auto it = launches_.find(pid);
      if (it == launches_.end()) continue;  // an orphan: reaped, as an init does
      nswire::Writer w;
      w.u32(it->second);
      w.u32(static_cast<std::uint32_t>(status));
      (void)nswire::send(ctl_, Type::kExited, w.bytes());
      launches_.erase(it);
    }
  }

  bool no_children() {
    siginfo_t si{};
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD;
  }

  int ctl_;
  const NsInitConfig& config_;
  int sigfd_ = -1;
  bool ending_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::map<pid_t, std::uint32_t> launches_;
};

}  // namespace

void ns_init_main(int ctl, const NsInitConfig& config) {
  // Whatever the forking process did with SIGCHLD (the service's instance process lets the kernel
  // reap with SA_NOCLDWAIT) is undone: init reaps, and reports each launch's status.
  // Nothing in the instance may trace init or read its memory (it holds the host's socket): a
  // non-dumpable process needs CAP_SYS_PTRACE in its mm's user namespace, the host's.
  prctl(PR_SET_DUMPABLE, 0);
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, nullptr);
  if (std::string why = set_up_mounts(config.plan); !why.empty()) {
    (void)nswire::send(ctl, Type::kSetupFailed, why);
    _exit(1);
  }
  if (!config.plan.hostname.empty() && sethostname(config.plan.hostname.data(), config.plan.hostname.size()) != 0) {
    (void)nswire::send(ctl, Type::kSetupFailed, std::string("sethostname: ") + std::strerror(errno));
    _exit(1);
  }
  (void)nswire::send(ctl, Type::kReady, {});
  Init(ctl, config).run();
}

}  // namespace lx::driver
