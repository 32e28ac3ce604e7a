// The container's process (see monitor.h).
#include "oci/monitor.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/scm_rights.h"
#include "base/write_text.h"
#include "oci/exec_channel.h"
#include "oci/instance_config.h"
#include "oci/state.h"
#include "runtime/runner.h"

namespace lx::oci {
namespace {

std::atomic<pid_t> g_guest{0};

void forward_signal(int sig) {
  pid_t g = g_guest.load();
  if (g > 0) kill(g, sig);
}

void install_forwarding() {
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int s = 1; s < NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP || s == SIGCHLD || s == SIGSEGV || s == SIGBUS || s == SIGFPE || s == SIGILL ||
        s == SIGTRAP || s == SIGSYS || s == SIGPIPE || s == SIGTTIN || s == SIGTTOU || s == SIGTSTP)
      continue;
    if (s >= 32 && s < SIGRTMIN) continue;  // glibc's own
    sigaction(s, &sa, nullptr);
  }
}

// Makes the new IPC and UTS namespaces the spec asks for (the hostname set in the new UTS one),
// in this process, which the instance's processes inherit: the namespaces a pod's other
// containers then join by /proc/<this pid>/ns/ipc. Returns whether it could: where this process
// may not (an ordinary user outside any user namespace), the kernel backend makes them in its
// user namespace, and on the emulated backend they stay the host's.
bool make_ipc_and_uts(const Spec& s) {
  int flags = (s.wants_new("ipc") ? CLONE_NEWIPC : 0) | (s.wants_new("uts") ? CLONE_NEWUTS : 0);
  if (flags == 0) return true;
  if (unshare(flags) != 0) return false;
  if ((flags & CLONE_NEWUTS) && !s.hostname.empty()) (void)sethostname(s.hostname.data(), s.hostname.size());
  return true;
}

// The bundle's mqueue mounts, on the kernel backend. Where the instance keeps this process's IPC
// namespace (`own_ipc`), its user namespace does not own it and may not mount its mqueue: this
// process mounts it, in a mount namespace of its own (nothing of it shows on the host), and the
// instance binds that. Where this process may not either, the mount is left out (as on the
// emulated backend: mq_open works, /dev/mqueue is not mounted).
Result<void> prepare_mqueue(std::vector<driver::ExactMount>& exact, bool own_ipc, const std::string& state_dir) {
  if (!own_ipc) return ok();
  bool unshared = false;
  for (auto it = exact.begin(); it != exact.end();) {
    if (it->type != "mqueue") {
      ++it;
      continue;
    }
    if (!unshared && (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)) {
      it = exact.erase(it);
      continue;
    }
    unshared = true;
    std::string dir = state_dir + "/mqueue";
    (void)::mkdir(dir.c_str(), 0755);
    if (mount("mqueue", dir.c_str(), "mqueue", it->flags, nullptr) != 0)
      return Error{errno, fmt::format("mounts: an mqueue for {}: {}", it->guest, std::strerror(errno))};
    it->bind = true;
    it->source = dir;
    it->type.clear();
    ++it;
  }
  return ok();
}

// Joins the namespaces the spec names by path and makes the new network namespace it asks for.
Result<void> enter_namespaces(const Spec& s) {
  static const std::map<std::string, int> flags{{"network", CLONE_NEWNET}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}};
  for (std::size_t i = 0; i < s.namespaces.size(); ++i) {
    const auto& n = s.namespaces[i];
    if (n.path.empty()) continue;
    UniqueFd fd(::open(n.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd || setns(fd.get(), flags.at(n.type)) != 0)
      return Error{errno, fmt::format("linux.namespaces[{}]: joining the {} namespace {}: {}", i, n.type, n.path, std::strerror(errno))};
  }
  if (s.wants_new("network")) {
    if (unshare(CLONE_NEWNET) != 0)
      return Error{errno, fmt::format("linux.namespaces: a new network namespace: {}", std::strerror(errno))};
    // Its loopback up, as runc leaves it.
    UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (!sock || ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) return Error::from_errno("SIOCGIFFLAGS lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) return Error::from_errno("SIOCSIFFLAGS lo");
  }
  for (const auto& [k, v] : s.sysctl) {
    if (!s.wants_new("network") && s.join_path("network").empty())
      return Error{EINVAL, fmt::format("linux.sysctl.{}: needs a network namespace of the container's own", k)};
    std::string rel = k;
    for (auto& ch : rel)
      if (ch == '.') ch = '/';
    std::string path = "/proc/sys/" + rel;
    if (int e = write_text(path, v))
      return Error{e, fmt::format("linux.sysctl.{}: writing {}: {}", k, path, std::strerror(e))};
  }
  return ok();
}


// Sends the pty master `master` to the console socket at `path`, as runc does (the pty's name
// as the message, the fd as SCM_RIGHTS).
Result<void> send_console(const std::string& path, int master, const std::string& name) {
  UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error{ENAMETOOLONG, "--console-socket: path too long"};
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (!sock || connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Error::from_errno("--console-socket: connect " + path);
  iovec iov{const_cast<char*>(name.data()), name.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  int fds[1] = {master};
  attach_fds(msg, control, fds);
  if (sendmsg(sock.get(), &msg, MSG_NOSIGNAL) < 0) return Error::from_errno("--console-socket: sendmsg");
  return ok();
}

// The launch of `p` in the container: its own capabilities where it names them, else the
// container's; the container's seccomp profile always.
Result<driver::LaunchSpec> launch_of(const Process& p, const Spec& container, bool kernel, const std::vector<sock_filter>& filter) {
  driver::LaunchSpec launch;
  launch.argv = p.args;
  launch.env = p.env;
  launch.cwd = p.cwd;
  launch.bounding_caps = p.bounding ? p.bounding : container.process.bounding;
  launch.inheritable_caps = p.bounding ? p.inheritable : container.process.inheritable;
  launch.ambient_caps = p.bounding ? p.ambient : container.process.ambient;
  for (const auto& r : p.rlimits) launch.rlimits.push_back(driver::LaunchRlimit{r.resource, r.soft, r.hard});
  launch.extra_filter = filter;
  // The emulated backend runs the process as lxhost-runc runs: a user it already is needs nothing.
  bool as_is = p.uid == geteuid() && p.gid == getegid() &&
               std::all_of(p.additional_gids.begin(), p.additional_gids.end(), [&](gid_t g) { return g == p.gid; });
  // An ordinary user's container asking for root gets the proc family's fake root (config_of).
  bool fake_root = !kernel && geteuid() != 0 && p.uid == 0 && p.gid == 0 &&
                   std::all_of(p.additional_gids.begin(), p.additional_gids.end(), [](gid_t g) { return g == 0; });
  as_is = as_is || fake_root;
  if (!as_is || (kernel && (p.uid != 0 || p.gid != 0 || !p.additional_gids.empty()))) {
    if (!kernel)
      return Error{EINVAL, fmt::format("process.user: uid {} gid {} needs the kernel backend (this container runs on the "
                                       "emulated one)",
                                       p.uid, p.gid)};
    launch.ids = driver::LaunchIds{p.uid, p.gid, p.additional_gids};
  }
  return launch;
}

// One `exec` request on the monitor's socket `conn` (exec_channel.h): runs the process in the
// instance, passes on the signals the client sends, and reports its end.
void serve_exec(runtime::Runtime& rt, const Spec& container, const std::string& id, bool kernel,
                const std::vector<sock_filter>& filter, UniqueFd conn) {
  using nlohmann::json;
  auto req = receive_message(conn.get());
  auto refuse = [&](const std::string& why) { (void)send_message(conn.get(), json{{"error", why}}); };
  if (!req) return refuse(req.error().message);
  if (!req->body.contains("process")) return refuse("the request names no process");
  auto proc = parse_process(req->body["process"], "process");
  if (!proc) return refuse(proc.error().message);
  if (req->fds.size() != 3) return refuse("the request needs three standard fds");
  auto launch = launch_of(*proc, container, kernel, filter);
  if (!launch) return refuse(launch.error().message);
  auto held = std::make_shared<std::vector<UniqueFd>>(std::move(req->fds));
  launch->stdio = {(*held)[0].get(), (*held)[1].get(), (*held)[2].get()};
  launch->new_session = proc->terminal;
  launch->only_stdio = true;
  auto pid = std::make_shared<std::atomic<pid_t>>(0);
  int sock = conn.get();
  auto drv = rt.make_driver(nullptr, id, [pid, held, sock](pid_t p) {
    pid->store(p);
    held->clear();  // the process holds its own copies: EOF reaches the client when it closes them
    (void)send_message(sock, json{{"pid", p}});
  });
  if (!drv) return refuse(drv.error().message);
  std::thread signals([pid, sock] {
    for (;;) {
      auto m = receive_message(sock);
      if (!m) return;
      if (m->body.contains("signal") && m->body["signal"].is_number_integer()) {
        int sig = m->body["signal"].get<int>();
        if (sig > 0 && sig < NSIG && pid->load() > 0) kill(pid->load(), sig);
      }
    }
  });
  if (proc->umask) umask(*proc->umask);
  auto status = (*drv)->run(*launch);
  if (!status) refuse(fmt::format("{}: {}", proc->args[0], status.error().message));
  else
    (void)send_message(sock, json{{"exit", status->signaled ? 128 + status->signal : status->code},
                                  {"signal", status->signaled ? status->signal : 0}});
  shutdown(sock, SHUT_RDWR);
  signals.join();
}

// The monitor's report to `create`: "ok <backend>" or "error <message>".
void report(int fd, const std::string& line) {
  std::string l = line + "\n";
  (void)!write(fd, l.data(), l.size());
}

// Only the standard fds, the socket-activation ones and --preserve-fds reach the process.
void pass_fds(driver::LaunchSpec& launch, const MonitorArgs& a) {
  launch.only_stdio = true;
  for (int fd = 3; fd < 3 + a.extra_fds; ++fd) launch.extra_fds.push_back(fd);
  if (a.listen_fds > 0) {
    launch.env.push_back(fmt::format("LISTEN_FDS={}", a.listen_fds));
    launch.env.push_back("LISTEN_PID=" + std::string(driver::kListenPidWidth, ' '));
    launch.listen_pid = true;
  }
}

// Waits for `start`'s byte on the exec FIFO.
void wait_for_start(UniqueFd fifo) {
  char b = 0;
  ssize_t n;
  do n = read(fifo.get(), &b, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(1);
}

// Ends this process as the container's process ended: killed by the same signal (as the shim
// expects of runc's), or with its code.
[[noreturn]] void exit_as(const driver::ExitStatus& status) {
  if (status.signaled) {
    signal(status.signal, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, status.signal);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);  // the guest dumped its own core if it was to
    raise(status.signal);
  }
  _exit(status.shell_status() & 0xff);
}

}  // namespace

Result<UniqueFd> pty_for_console(UniqueFd master, const std::string& console_socket) {
  if (unlockpt(master.get()) != 0) return Error::from_errno("unlockpt");
  UniqueFd slave(ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return Error::from_errno("TIOCGPTPEER");
  char name[128];
  if (ptsname_r(master.get(), name, sizeof name) != 0) return Error::from_errno("ptsname");
  LX_TRY(send_console(console_socket, master.get(), name));
  return slave;
}

Result<UniqueFd> open_ptmx(pid_t monitor, int root) {
  constexpr int kFlags = O_RDWR | O_NOCTTY | O_CLOEXEC;
  if (root >= 0) {
    open_how how{};
    how.flags = kFlags;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    UniqueFd fd(static_cast<int>(syscall(SYS_openat2, root, "dev/ptmx", &how, sizeof how)));
    if (!fd) return Error::from_errno("open the container's /dev/ptmx");
    return fd;
  }
  pid_t init = namespace_init_of(monitor);
  if (init <= 0) {
    UniqueFd fd(::open("/dev/ptmx", kFlags));
    if (!fd) return Error::from_errno("open /dev/ptmx");
    return fd;
  }
  int err = ESRCH;
  for (pid_t p : descendants_of(init)) {
    UniqueFd fd(::open(fmt::format("/proc/{}/root/dev/ptmx", p).c_str(), kFlags));
    if (fd) return fd;
    err = errno;
  }
  return Error{err, fmt::format("open the container's /dev/ptmx through its processes: {}", std::strerror(err))};
}

// Everything the container's process does, in the forked monitor. Never returns.
[[noreturn]] void monitor_main(MonitorArgs a) {
  const Spec& s = *a.spec;
  auto fail = [&](const Error& e) {
    report(a.report_fd, "error " + e.message);
    _exit(1);
  };
  if (!a.options->foreground) setsid();
  if (auto r = enter_namespaces(s); !r) fail(r.error());
  bool own_ipc_uts = make_ipc_and_uts(s);
  // The OOM score of the container's processes: this process's, which the instance's (its init
  // included, forked below) inherit.
  if (s.process.oom_score_adj)
    if (int e = write_text("/proc/self/oom_score_adj", std::to_string(*s.process.oom_score_adj)))
      fail(Error{e, fmt::format("process.oomScoreAdj: writing /proc/self/oom_score_adj: {}", std::strerror(e))});
  auto cfg = config_of(s, a.state_dir);
  if (!cfg) fail(cfg.error());
  // The kernel backend does the bundle's mounts itself, exactly and in order.
  std::vector<driver::ExactMount> exact;
  if (auto choice = runtime::choose_backend(*cfg); choice && choice->backend == sdk::Backend::kKernel) {
    auto k = config_of(s, a.state_dir, true);
    if (!k) fail(k.error());
    cfg = std::move(k);
    exact = exact_mounts_of(s);
    if (auto r = prepare_mqueue(exact, own_ipc_uts, a.state_dir); !r) fail(r.error());
  } else if (s.root_readonly) {
    fail(Error{EINVAL, "config.json: root.readonly: a read-only root needs the kernel backend (a mount of its own), "
                       "not the emulated one"});
  }
  auto rt = runtime::Runtime::create(*cfg);
  if (!rt) fail(rt.error());
  bool kernel = (*rt)->backend().backend == sdk::Backend::kKernel;
  if (own_ipc_uts) (*rt)->keep_ipc_and_uts();
  (*rt)->set_exact_mounts(std::move(exact));
  if (s.root_readonly) (*rt)->set_read_only_root();

  auto made = launch_of(s.process, s, kernel, a.filter);
  if (!made) fail(Error{EINVAL, made.error().message + " (" + (*rt)->backend().why + ")"});
  driver::LaunchSpec launch = std::move(*made);
  pass_fds(launch, a);
  auto drv = (*rt)->make_driver(nullptr, a.options->id, [](pid_t p) { g_guest.store(p); });
  if (!drv) fail(drv.error());
  UniqueFd slave;
  if (s.process.terminal && !a.options->console_socket.empty()) {
    auto root = kernel ? (*rt)->kernel_instance(a.options->id) : Result<driver::KernelInstance*>(nullptr);
    auto ptmx = open_ptmx(getpid(), root && *root ? (*root)->root_fd() : -1);
    if (!ptmx) fail(ptmx.error());
    auto pty = pty_for_console(std::move(*ptmx), a.options->console_socket);
    if (!pty) fail(pty.error());
    slave = std::move(*pty);
    launch.stdio = {slave.get(), slave.get(), slave.get()};
    launch.new_session = true;
  }
  if (s.process.umask) umask(*s.process.umask);
  // The exec FIFO, held open (read and write: the open does not wait for a writer) before
  // `create` hears "ok": from then on `start` finds a reader, and its byte lets this go on.
  UniqueFd fifo(::open((a.state_dir + "/exec.fifo").c_str(), O_RDWR | O_CLOEXEC));
  if (!fifo) fail(Error::from_errno("open exec.fifo"));
  report(a.report_fd, std::string("ok ") + (kernel ? "kernel" : "emulated"));
  close(a.report_fd);
  wait_for_start(std::move(fifo));
  ::unlink((a.state_dir + "/exec.fifo").c_str());
  runtime::Runtime& runtime = **rt;
  auto server = ExecServer::listen(a.state_dir + "/exec.sock", [&runtime, &s, &a, kernel](UniqueFd conn) {
    serve_exec(runtime, s, a.options->id, kernel, a.filter, std::move(conn));
  });
  if (!server) std::fprintf(stderr, "lxhost-runc: %s (exec will not work)\n", server.error().message.c_str());
  install_forwarding();
  auto status = (*drv)->run(launch);
  g_guest = 0;
  if (!status) {
    std::fprintf(stderr, "lxhost-runc: %s: %s\n", s.process.args[0].c_str(), status.error().message.c_str());
    int e = status.error().code;
    _exit(e == ENOENT ? 127 : 126);
  }
  exit_as(*status);
}

}  // namespace lx::oci
