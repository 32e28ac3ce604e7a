// The instance's init (see ns_init.h). Single-threaded: it was forked from a single-threaded
// process, so it may allocate freely; each launch is forked from it.
#include "driver/ns_init.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
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
#include "driver/ns_owners.h"
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

// A launch, ready to start: everything its process needs before exec is built by init first, so
// that the process only reads it and makes system calls. That lets it share init's memory until
// its exec (CLONE_VM|CLONE_VFORK, as posix_spawn does) where no listener is handed over: init was
// forked from the big instance process, and a fork of it cost each launch more than the rest of
// the launch together (copying and tearing down its page tables; measured with perf stat, warm
// `lx run -- /bin/true` went from 5.3 ms to 3.9 ms against native's 1.0 ms).
struct Prepared {
  const NsInitConfig* config = nullptr;
  ChildSetup setup;
  int report_fd = -1, go_fd = -1;
  const LaunchIds* ids = nullptr;
  const char* cwd = nullptr;
  std::vector<char*> argv, envp;
};

Prepared prepare(const NsInitConfig& c, nswire::LaunchMessage& m, std::vector<UniqueFd>& fds) {
  Prepared p;
  p.config = &c;
  LaunchSpec& spec = m.spec;
  for (std::uint32_t i = 0; i < m.nstdio; ++i) spec.stdio.push_back(fds[i].get());
  for (std::uint32_t i = 0; i < m.nextra; ++i) spec.extra_fds.push_back(fds[m.nstdio + i].get());
  p.setup = child_setup_of(spec);
  p.report_fd = fds[m.nstdio + m.nextra].get();
  p.go_fd = fds[m.nstdio + m.nextra + 1].get();
  if (spec.ids) p.ids = &*spec.ids;
  if (!spec.cwd.empty()) p.cwd = spec.cwd.c_str();
  for (auto& a : spec.argv) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (auto& e : spec.env) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  return p;
}

// The launch's process: stdio, session, limits, filter (its listener handed to the host, which
// then says go), user, exec. Only system calls and reads of `p` (see Prepared).
[[noreturn]] void launch_child(const Prepared& p) {
  const NsInitConfig& c = *p.config;
  prepare_child(p.setup);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (c.plan.max_processes > 0) {
    rlimit rl{c.plan.max_processes, c.plan.max_processes};
    setrlimit(RLIMIT_NPROC, &rl);
  }
  // With a listener the host takes it with pidfd_getfd (a ptrace access check): only then is
  // the process dumpable, and it has memory of its own (a process sharing init's would make init
  // dumpable). The report (on a socket that tells the host this process's pid) says the filter
  // is in; the host answers go once it knows the pid and holds the listener: the guest never runs
  // before the instance knows it.
  if (c.listener) prctl(PR_SET_DUMPABLE, 1);
  int listener = install_filter(c, p.report_fd);
  report(p.report_fd, Report{1, listener, 0});
  char go;
  if (read(p.go_fd, &go, 1) != 1) _exit(125);  // the host gave up on this launch
  if (listener >= 0) close(listener);          // the host holds its own copy now
  if (int step = restrict_child(p.setup)) launch_failed(p.report_fd, step, errno);
  if (p.ids) {
    // The raw calls: glibc's wrappers would act for every thread of a process, and this one
    // may share init's memory.
    const auto& ids = *p.ids;
    if (syscall(SYS_setgroups, ids.groups.size(), ids.groups.data()) != 0 && !(errno == EPERM && ids.groups.empty()))
      launch_failed(p.report_fd, 5, errno);
    if (syscall(SYS_setresgid, ids.gid, ids.gid, ids.gid) != 0 || syscall(SYS_setresuid, ids.uid, ids.uid, ids.uid) != 0)
      launch_failed(p.report_fd, 5, errno);
  }
  if (p.cwd && chdir(p.cwd) != 0) launch_failed(p.report_fd, 1, errno);
  if (p.setup.set_signals) sigprocmask(SIG_SETMASK, &p.setup.blocked, nullptr);
  // execvpe looks PATH up in the guest's environment, as the emulated launcher's guest does
  // (init puts its own environ back once this process has exec'd).
  environ = const_cast<char**>(p.envp.data());
  fill_listen_pid(p.setup, p.envp.data());
  execvpe(p.argv[0], const_cast<char**>(p.argv.data()), const_cast<char**>(p.envp.data()));
  launch_failed(p.report_fd, 4, errno);
}

int launch_entry(void* arg) { launch_child(*static_cast<const Prepared*>(arg)); }

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
    if (!launch || m->fds.size() != launch->nstdio + launch->nextra + 2) return;
    Prepared prepared = prepare(config_, *launch, m->fds);
    pid_t pid = start(prepared);
    nswire::Writer w;
    w.u32(launch->id);
    if (pid < 0) {
      w.u32(static_cast<std::uint32_t>(errno));
      (void)nswire::send(ctl_, Type::kLaunchFailed, w.bytes());
      return;
    }
    launches_[pid] = launch->id;  // the host learnt its pid from its report
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

  // Starts the launch's process. Without a listener it shares init's memory until it has exec'd
  // or exited (init waits that long: a few system calls and one round trip to the host, which
  // needs nothing of init meanwhile); with one, it is forked (it must be dumpable).
  pid_t start(const Prepared& p) {
    if (config_.listener) {
      pid_t pid = fork();
      if (pid == 0) {
        close(ctl_);
        close(sigfd_);
        launch_child(p);
      }
      return pid;
    }
    if (!stack_) {
      // A stack of its own, below init's data, with a guard page under it.
      void* m = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
      if (m == MAP_FAILED) return -1;
      mprotect(m, static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), PROT_NONE);
      stack_ = static_cast<char*>(m);
    }
    // init's ctl socket and signalfd are close-on-exec, so the launch never holds them.
    char** saved = environ;
    pid_t pid = clone(launch_entry, stack_ + kStackSize, CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<Prepared*>(&p));
    environ = saved;
    return pid;
  }

  bool no_children() {
    siginfo_t si{};
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD;
  }

  int ctl_;
  const NsInitConfig& config_;
  int sigfd_ = -1;
  static constexpr std::size_t kStackSize = 1u << 20;
  char* stack_ = nullptr;
  bool ending_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::map<pid_t, std::uint32_t> launches_;
};

}  // namespace

// Drops from the bounding set (so from every launch's capabilities) those that the kernel only
// honours in the host's user namespace: in this one they would be shown and never work (a root
// guest with CAP_SYS_RESOURCE cannot lower its oom_score_adj nor raise a hard limit, with
// CAP_IPC_LOCK cannot lock past RLIMIT_MEMLOCK; CAP_SYS_NICE stays: it does let root renice
// other users' processes of the namespace),
// and programs that trust capget (LTP's library, for one) then fail instead of taking the path
// an unprivileged root takes. Container runtimes leave them out too.
void drop_host_only_capabilities() {
  for (int cap : {CAP_SYS_RESOURCE, CAP_IPC_LOCK, CAP_SYS_TIME, CAP_SYS_MODULE, CAP_SYS_RAWIO,
                  CAP_SYS_PACCT, CAP_LINUX_IMMUTABLE, CAP_SYSLOG, CAP_AUDIT_CONTROL, CAP_AUDIT_READ,
                  CAP_MAC_OVERRIDE, CAP_MAC_ADMIN, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND, CAP_PERFMON, CAP_BPF})
    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
}

void ns_init_main(int ctl, const NsInitConfig& config) {
  // Whatever the forking process did with SIGCHLD (the service's instance process lets the kernel
  // reap with SA_NOCLDWAIT) is undone: init reaps, and reports each launch's status.
  // Nothing in the instance may trace init or read its memory (it holds the host's socket): a
  // non-dumpable process needs CAP_SYS_PTRACE in its mm's user namespace, the host's.
  prctl(PR_SET_DUMPABLE, 0);
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, nullptr);
  std::string ready;
  if (!config.owners_for_maps.empty()) {
    OwnersApplied applied;
    if (std::string why = apply_recorded_owners(config.plan.root, config.owners_for_maps, applied); !why.empty()) {
      (void)nswire::send(ctl, Type::kSetupFailed, "applying the distro's recorded owners: " + why);
      _exit(1);
    }
    if (applied.walked)
      ready = "the distro's recorded owners and modes made real for the subordinate ranges (" +
              std::to_string(applied.changed) + " files" +
              (applied.unmapped ? ", " + std::to_string(applied.unmapped) + " with ids outside them kept as metadata" : "") + ")";
  }
  if (std::string why = set_up_mounts(config.plan, config.exact_mounts, config.read_only_root); !why.empty()) {
    (void)nswire::send(ctl, Type::kSetupFailed, why);
    _exit(1);
  }
  if (!config.plan.hostname.empty() && sethostname(config.plan.hostname.data(), config.plan.hostname.size()) != 0) {
    (void)nswire::send(ctl, Type::kSetupFailed, std::string("sethostname: ") + std::strerror(errno));
    _exit(1);
  }
  drop_host_only_capabilities();
  // The instance's root, for the host to open in (init is not dumpable: /proc/<init>/root is
  // closed to a host that is not root).
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  int fds[1] = {root.get()};
  (void)nswire::send(ctl, Type::kReady, ready, root ? std::span<const int>(fds) : std::span<const int>());
  root.reset();
  Init(ctl, config).run();
}

}  // namespace lx::driver
