// One container's life (see container.h).
#include "oci/container.h"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/scm_rights.h"
#include "base/unique_fd.h"
#include "base/write_text.h"
#include "config/config.h"
#include "oci/exec_channel.h"
#include "oci/seccomp.h"
#include "runtime/runner.h"

extern char** environ;

namespace lx::oci {
namespace {

std::string g_log_path;
std::string g_log_format = "text";

std::string now_rfc3339() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  return fmt::format("{}.{:09d}Z", buf, ts.tv_nsec);
}

std::string read_file(const std::string& path, bool& found) {
  std::ifstream f(path);
  found = static_cast<bool>(f);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// A TOML basic string for `s`.
std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04x}", c);
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string owner_name() {
  if (passwd* pw = getpwuid(geteuid())) return pw->pw_name;
  return std::to_string(geteuid());
}

// Writes `text` to `path` through a temporary file and a rename (the pid file a shim polls must
// never be seen half written).
Result<void> write_atomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".lxhost-tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    if (!f.flush()) return Error::from_errno("writing " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::from_errno("rename to " + path);
  return ok();
}

// --- the instance's config --------------------------------------------------------------------

struct MountLine {
  std::string host, guest;
  bool read_only = false;
};

// The mounts lxhost gives the container: the spec's binds, a private directory per tmpfs, the
// masked paths over an empty directory, the read-only ones bound over themselves read-only, and
// the image's own /tmp (the fs family would otherwise give the host's).
Result<std::vector<MountLine>> mounts_of(const Spec& s, const std::string& state_dir) {
  std::vector<MountLine> out;
  bool tmp_given = false;
  int scratch = 0;
  for (const auto& m : s.mounts) {
    tmp_given |= m.destination == "/tmp";
    switch (m.kind) {
      case Mount::Kind::kStandard:
        break;
      case Mount::Kind::kBind: {
        struct stat st;
        if (::stat(m.source.c_str(), &st) != 0)
          return Error{errno, fmt::format("mount of {} at {}: {}", m.source, m.destination, std::strerror(errno))};
        if (!S_ISDIR(st.st_mode)) {
          // A file bound over a file: the container sees the source's content at the destination.
          out.push_back({m.source, m.destination, m.read_only});
          break;
        }
        out.push_back({m.source, m.destination, m.read_only});
        break;
      }
      case Mount::Kind::kScratch: {
        std::string dir = fmt::format("{}/tmpfs/{}", state_dir, scratch++);
        std::filesystem::create_directories(dir);
        ::chmod(dir.c_str(), 01777);
        out.push_back({dir, m.destination, m.read_only});
        break;
      }
    }
  }
  if (!tmp_given) {
    struct stat st;
    std::string image_tmp = s.root + "/tmp";
    if (::stat(image_tmp.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back({image_tmp, "/tmp", false});
    else {
      std::string dir = state_dir + "/tmpfs/tmp";
      std::filesystem::create_directories(dir);
      ::chmod(dir.c_str(), 01777);
      out.push_back({dir, "/tmp", false});
    }
  }
  // Masked directories: an empty, read-only directory over them. Masked files stay (lxhost binds
  // directories only); the kernel backend's /proc is the instance's own, the emulated backend's
  // the fs family's view of the instance's processes.
  std::string empty = state_dir + "/masked";
  std::filesystem::create_directories(empty);
  ::chmod(empty.c_str(), 0555);
  for (const auto& p : s.masked_paths) {
    bool system = p.rfind("/proc/", 0) == 0 || p.rfind("/sys/", 0) == 0;
    struct stat st;
    std::string host = system ? p : s.root + p;
    if (::stat(host.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    out.push_back({empty, p, true});
  }
  for (const auto& p : s.readonly_paths) {
    bool system = p.rfind("/proc/", 0) == 0 || p.rfind("/sys/", 0) == 0;
    struct stat st;
    std::string host = system ? p : s.root + p;
    if (::stat(host.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    out.push_back({host, p, true});
  }
  return out;
}

// The backend: what an io.lxhost.instance.backend annotation says; else the kernel backend when
// the spec asks for new namespaces (where the host allows a user namespace: "auto"), the
// emulated one when it asks for none.
std::string backend_of(const Spec& s) {
  auto it = s.annotations.find("io.lxhost.instance.backend");
  if (it != s.annotations.end()) return it->second;
  for (const char* t : {"pid", "mount", "user", "ipc", "uts"})
    if (s.wants_new(t)) return "auto";
  return "emulated";
}

// Why config key `key` may not be set by an annotation ("" when it may). Whoever writes a pod
// spec writes its annotations: a key that loads code into lxhost-runc's own process (a plugin
// path, the plugin search path) or moves the container's root or mounts onto the host would give
// the container's author what the node's administrator has (the bundle's root and mounts say
// where the container lives).
std::string annotation_refused(const std::string& key) {
  if (key.rfind("plugins.", 0) == 0) return "the plugin search path is the node's, not the container's";
  if (key.rfind("families.", 0) == 0 && key.size() > 7 && key.compare(key.size() - 7, 7, ".plugin") == 0)
    return "which plugin serves a family is the node's choice, not the container's";
  for (const char* k : {"fs.root", "fs.mount", "fs.default_mounts", "fs.metadata_dir", "fs.proc"})
    if (key == k) return "the container's root and mounts come from the bundle (root.path, mounts)";
  return {};
}

Result<config::Config> config_of(const Spec& s, const std::string& state_dir) {
  config::Config c;
  LX_TRY(c.merge_standard_files());
  std::string toml = "[instance]\nbackend = " + toml_string(backend_of(s)) + "\n";
  toml += "[fs]\nroot = " + toml_string(s.root) + "\n";
  LX_TRY_ASSIGN(mounts, mounts_of(s, state_dir));
  for (const auto& m : mounts)
    toml += fmt::format("[[fs.mount]]\nhost = {}\nguest = {}\nread_only = {}\n", toml_string(m.host), toml_string(m.guest),
                        m.read_only ? "true" : "false");
  toml += "[proc]\n";
  if (!s.hostname.empty()) toml += "hostname = " + toml_string(s.hostname) + "\n";
  if (s.pids_limit) toml += fmt::format("max_processes = {}\n", s.pids_limit);
  LX_TRY(c.merge_string(toml, "config.json"));
  for (const auto& set : config_sets_of(s.annotations)) {
    std::string key = set.substr(0, set.find('='));
    if (std::string why = annotation_refused(key); !why.empty())
      return Error{EPERM, fmt::format("annotations: io.lxhost.{}: {}", key, why)};
    auto r = c.apply_set(set);
    if (!r) return Error{EINVAL, fmt::format("annotations: io.lxhost.{}: {}", set.substr(0, set.find('=')), r.error().message)};
  }
  return c;
}

// --- the monitor ------------------------------------------------------------------------------

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

Result<void> apply_rlimits(const Process& p) {
  for (std::size_t i = 0; i < p.rlimits.size(); ++i) {
    rlimit rl{p.rlimits[i].soft, p.rlimits[i].hard};
    if (setrlimit(p.rlimits[i].resource, &rl) != 0)
      return Error{errno, fmt::format("process.rlimits[{}]: setrlimit: {}", i, std::strerror(errno))};
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
  launch.extra_filter = filter;
  // The emulated backend runs the process as lxhost-runc runs: a user it already is needs nothing.
  bool as_is = p.uid == geteuid() && p.gid == getegid() &&
               std::all_of(p.additional_gids.begin(), p.additional_gids.end(), [&](gid_t g) { return g == p.gid; });
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

// A new pty of the devpts that `ptmx` opens (the container's own under the kernel backend, so
// that ttyname() inside finds it), its master sent to the console socket at `console_socket`;
// its slave, opened from the master (TIOCGPTPEER: no path lookup).
Result<UniqueFd> pty_for_console(const std::string& ptmx, const std::string& console_socket) {
  UniqueFd master(::open(ptmx.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return Error::from_errno("open " + ptmx);
  if (unlockpt(master.get()) != 0) return Error::from_errno("unlockpt");
  UniqueFd slave(ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return Error::from_errno("TIOCGPTPEER");
  char name[128];
  if (ptsname_r(master.get(), name, sizeof name) != 0) return Error::from_errno("ptsname");
  LX_TRY(send_console(console_socket, master.get(), name));
  return slave;
}

// The ptmx of container `monitor`'s processes: its instance's own under the kernel backend.
std::string ptmx_of(pid_t monitor) {
  pid_t init = namespace_init_of(monitor);
  return init > 0 ? fmt::format("/proc/{}/root/dev/ptmx", init) : "/dev/ptmx";
}

// The monitor's report to `create`: "ok <backend>" or "error <message>".
void report(int fd, const std::string& line) {
  std::string l = line + "\n";
  (void)!write(fd, l.data(), l.size());
}

struct MonitorArgs {
  const Spec* spec = nullptr;
  const CreateOptions* options = nullptr;
  std::string state_dir;
  std::vector<sock_filter> filter;
  int report_fd = -1;
  int listen_fds = 0;  ///< LISTEN_FDS given to lxhost-runc
  int extra_fds = 0;   ///< fds 3.. the process gets: LISTEN_FDS + --preserve-fds
};

// Everything the container's process does, in the forked monitor. Never returns.
[[noreturn]] void monitor_main(MonitorArgs a) {
  const Spec& s = *a.spec;
  auto fail = [&](const Error& e) {
    report(a.report_fd, "error " + e.message);
    _exit(1);
  };
  if (!a.options->foreground) setsid();
  if (auto r = enter_namespaces(s); !r) fail(r.error());
  auto cfg = config_of(s, a.state_dir);
  if (!cfg) fail(cfg.error());
  auto rt = runtime::Runtime::create(*cfg);
  if (!rt) fail(rt.error());
  bool kernel = (*rt)->backend().backend == sdk::Backend::kKernel;

  auto made = launch_of(s.process, s, kernel, a.filter);
  if (!made) fail(Error{EINVAL, made.error().message + " (" + (*rt)->backend().why + ")"});
  driver::LaunchSpec launch = std::move(*made);
  // Only the standard fds, the socket-activation ones and --preserve-fds reach the process.
  launch.only_stdio = true;
  for (int fd = 3; fd < 3 + a.extra_fds; ++fd) launch.extra_fds.push_back(fd);
  if (a.listen_fds > 0) {
    launch.env.push_back(fmt::format("LISTEN_FDS={}", a.listen_fds));
    launch.env.push_back("LISTEN_PID=" + std::string(driver::kListenPidWidth, ' '));
    launch.listen_pid = true;
  }
  auto drv = (*rt)->make_driver(nullptr, a.options->id, [](pid_t p) { g_guest.store(p); });
  if (!drv) fail(drv.error());
  UniqueFd slave;
  if (s.process.terminal && !a.options->console_socket.empty()) {
    auto pty = pty_for_console(ptmx_of(getpid()), a.options->console_socket);
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
  {
    char b = 0;
    ssize_t n;
    do n = read(fifo.get(), &b, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) _exit(1);
    fifo.reset();
  }
  ::unlink((a.state_dir + "/exec.fifo").c_str());
  if (auto r = apply_rlimits(s.process); !r) {
    std::fprintf(stderr, "lxhost-runc: %s\n", r.error().message.c_str());
    _exit(1);
  }
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
  if (status->signaled) {
    // Killed by a signal: so is the container's process, as the shim expects of runc's.
    signal(status->signal, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, status->signal);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);  // the guest dumped its own core if it was to
    raise(status->signal);
  }
  _exit(status->shell_status() & 0xff);
}

}  // namespace

void set_log(const std::string& path, const std::string& format) {
  g_log_path = path;
  g_log_format = format;
}

void report_error(const std::string& message) {
  std::fprintf(stderr, "lxhost-runc: %s\n", message.c_str());
  if (g_log_path.empty()) return;
  std::ofstream f(g_log_path, std::ios::app);
  if (g_log_format == "json")
    f << nlohmann::json{{"level", "error"}, {"msg", message}, {"time", now_rfc3339()}}.dump() << "\n";
  else
    f << "time=\"" << now_rfc3339() << "\" level=error msg=" << nlohmann::json(message).dump() << "\n";
}

int signal_number(const std::string& name) {
  if (name.empty()) return -1;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) {
    char* end;
    long n = std::strtol(name.c_str(), &end, 10);
    return *end || n <= 0 || n >= NSIG ? -1 : static_cast<int>(n);
  }
  std::string n = name;
  for (auto& ch : n) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (n.rfind("SIG", 0) == 0) n = n.substr(3);
  for (int s = 1; s < NSIG; ++s) {
    const char* abbrev = sigabbrev_np(s);
    if (abbrev && n == abbrev) return s;
  }
  if (n.rfind("RTMIN+", 0) == 0) return SIGRTMIN + std::atoi(n.c_str() + 6);
  if (n.rfind("RTMAX-", 0) == 0) return SIGRTMAX - std::atoi(n.c_str() + 6);
  return -1;
}

Result<void> run_hooks(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state) {
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    const Hook& h = hooks[i];
    int in[2];
    if (pipe2(in, O_CLOEXEC) != 0) return Error::from_errno("pipe");
    pid_t pid = fork();
    if (pid < 0) return Error::from_errno("fork");
    if (pid == 0) {
      dup2(in[0], 0);
      std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
      std::vector<char*> argv, envp;
      for (auto& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      std::vector<std::string> env = h.env;
      for (auto& s : env) envp.push_back(s.data());
      envp.push_back(nullptr);
      execve(h.path.c_str(), argv.data(), envp.data());
      _exit(127);
    }
    close(in[0]);
    (void)!write(in[1], state.data(), state.size());
    close(in[1]);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(h.timeout ? h.timeout : 86400);
    int st = 0;
    for (;;) {
      pid_t w = waitpid(pid, &st, WNOHANG);
      if (w == pid) break;
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return Error{ETIMEDOUT, fmt::format("hooks.{}[{}] ({}) timed out after {} s", kind, i, h.path, h.timeout)};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      return Error{EIO, fmt::format("hooks.{}[{}] ({}) failed: {}", kind, i, h.path,
                                    WIFEXITED(st) ? fmt::format("exit status {}", WEXITSTATUS(st))
                                                  : fmt::format("killed by signal {}", WTERMSIG(st)))};
  }
  return ok();
}

int create_container(const StateStore& store, const CreateOptions& o) {
  if (!valid_id(o.id)) {
    report_error(fmt::format("\"{}\" is not a valid container id (letters, digits, _ - .)", o.id));
    return 1;
  }
  char real[PATH_MAX];
  if (!realpath(o.bundle.c_str(), real)) {
    report_error(fmt::format("bundle {}: {}", o.bundle, std::strerror(errno)));
    return 1;
  }
  std::string bundle = real;
  bool found = false;
  std::string text = read_file(bundle + "/config.json", found);
  if (!found) {
    report_error(fmt::format("{}/config.json: {}", bundle, std::strerror(ENOENT)));
    return 1;
  }
  auto spec = parse_spec(text, bundle);
  if (!spec) {
    report_error("config.json: " + spec.error().message);
    return 1;
  }
  if (spec->process.terminal && o.console_socket.empty() && !o.foreground) {
    report_error("process.terminal is true: --console-socket is required");
    return 1;
  }
  struct stat st;
  if (::stat(spec->root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    report_error(fmt::format("root.path: {} is not a directory", spec->root));
    return 1;
  }
  std::vector<sock_filter> filter;
  if (spec->seccomp) {
    auto f = compile_seccomp(*spec->seccomp);
    if (!f) {
      report_error("config.json: " + f.error().message);
      return 1;
    }
    filter = std::move(*f);
  }
  // The fds 3.. the process is given: LISTEN_FDS (socket activation), then --preserve-fds.
  int listen_fds = 0;
  if (const char* lf = getenv("LISTEN_FDS")) listen_fds = std::atoi(lf);
  if (listen_fds < 0 || listen_fds + o.preserve_fds > driver::kMaxExtraFds) {
    report_error(fmt::format("LISTEN_FDS and --preserve-fds pass at most {} fds together", driver::kMaxExtraFds));
    return 1;
  }
  int above = 3 + listen_fds + o.preserve_fds;
  for (int fd = 3; fd < above; ++fd)
    if (fcntl(fd, F_GETFD) < 0) {
      report_error(fmt::format("fd {} is to be passed to the container (LISTEN_FDS, --preserve-fds) but is not open", fd));
      return 1;
    }
  auto dir = store.create_dir(o.id);
  if (!dir) {
    report_error(dir.error().message);
    return 1;
  }
  auto cleanup = [&] { (void)store.remove(o.id); };
  if (mkfifo((*dir + "/exec.fifo").c_str(), 0600) != 0) {
    report_error(Error::from_errno("mkfifo exec.fifo").message);
    cleanup();
    return 1;
  }
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    report_error(Error::from_errno("pipe").message);
    cleanup();
    return 1;
  }
  int report_fd = fcntl(pipefd[1], F_DUPFD_CLOEXEC, above + 16);
  close(pipefd[1]);
  // The fds the process is given stay open across its exec.
  for (int fd = 3; fd < above; ++fd) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  pid_t pid = fork();
  if (pid < 0) {
    report_error(Error::from_errno("fork").message);
    cleanup();
    return 1;
  }
  if (pid == 0) {
    close(pipefd[0]);
    MonitorArgs a{&*spec, &o, *dir, std::move(filter), report_fd, listen_fds, above - 3};
    monitor_main(std::move(a));
  }
  close(report_fd);
  std::string line;
  {
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0) {
      line.append(buf, static_cast<std::size_t>(n));
      if (line.find('\n') != std::string::npos) break;
    }
    close(pipefd[0]);
  }
  if (line.rfind("ok ", 0) != 0) {
    std::string why = line.rfind("error ", 0) == 0 ? line.substr(6) : "the container's process ended while starting";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    report_error(why);
    cleanup();
    return 1;
  }
  State s;
  s.id = o.id;
  s.bundle = bundle;
  s.rootfs = spec->root;
  s.created = now_rfc3339();
  s.owner = owner_name();
  s.pid = pid;
  s.start_time = start_time_of(pid);
  s.backend = line.substr(3, line.find('\n') - 3);
  s.annotations = spec->annotations;
  std::ofstream(*dir + "/config.json") << text;  // delete and the poststop hooks read it back
  auto saved = store.save(s);
  if (saved && !o.pid_file.empty()) saved = write_atomically(o.pid_file, std::to_string(pid));
  if (saved && spec->hooks.count("createRuntime"))
    saved = run_hooks(spec->hooks["createRuntime"], "createRuntime", state_json(s, "created", false));
  if (saved && spec->hooks.count("createContainer"))
    saved = run_hooks(spec->hooks["createContainer"], "createContainer", state_json(s, "created", false));
  if (!saved) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    report_error(saved.error().message);
    cleanup();
    return 1;
  }
  if (!o.foreground) return 0;
  // `run`: start it, wait for it, exit as it did.
  if (int rc = start_container(store, o.id); rc != 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    cleanup();
    return rc;
  }
  signal(SIGINT, SIG_IGN);  // the container's process gets the terminal's signals itself
  signal(SIGQUIT, SIG_IGN);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!o.keep) delete_container(store, o.id, true);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {

std::atomic<int> g_exec_sock{-1};

void forward_to_exec(int sig) {
  int sock = g_exec_sock.load();
  if (sock < 0) return;
  // Async-signal-safe: one send of a prebuilt message.
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "{\"signal\":%d}", sig);
  (void)!send(sock, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// Waits for the end of the exec'd process on `sock`; its exit code (128+N when killed by
// signal N: then this process dies of N too, as the process did).
[[noreturn]] void wait_exec(int sock) {
  g_exec_sock = sock;
  struct sigaction sa {};
  sa.sa_handler = forward_to_exec;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT}) sigaction(sig, &sa, nullptr);
  for (;;) {
    auto m = receive_message(sock);
    if (!m) {
      report_error("exec: the container's monitor went away");
      _exit(137);
    }
    if (m->body.contains("error")) {
      report_error(m->body["error"].is_string() ? m->body["error"].get<std::string>() : "exec failed");
      _exit(126);
    }
    if (m->body.contains("exit")) {
      g_exec_sock = -1;
      int sig = m->body.value("signal", 0);
      if (sig > 0 && sig < NSIG) {
        signal(sig, SIG_DFL);
        rlimit no_core{0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        raise(sig);
      }
      _exit(m->body.value("exit", 1) & 0xff);
    }
  }
}

}  // namespace

int exec_container(const StateStore& store, const ExecOptions& o) {
  auto s = store.load(o.id);
  if (!s) {
    report_error(s.error().message);
    return 1;
  }
  if (status_of(*s, store.dir(o.id)) != "running") {
    report_error(fmt::format("cannot exec in container \"{}\": it is not running", o.id));
    return 1;
  }
  bool found = false;
  std::string text = read_file(store.dir(o.id) + "/config.json", found);
  auto spec = parse_spec(text, s->bundle);
  if (!spec) {
    report_error("config.json: " + spec.error().message);
    return 1;
  }
  nlohmann::json process;
  if (!o.process_file.empty()) {
    std::string ptext = read_file(o.process_file, found);
    if (!found) {
      report_error(fmt::format("--process {}: {}", o.process_file, std::strerror(ENOENT)));
      return 1;
    }
    process = nlohmann::json::parse(ptext, nullptr, false);
  } else {
    if (o.args.empty()) {
      report_error("exec: no command given (and no --process)");
      return 1;
    }
    std::vector<std::string> env = spec->process.env;
    env.insert(env.end(), o.env.begin(), o.env.end());
    process = {{"args", o.args}, {"env", env}, {"cwd", o.cwd.empty() ? spec->process.cwd : o.cwd}, {"terminal", o.tty}};
    if (!o.user.empty()) {
      auto colon = o.user.find(':');
      process["user"] = {{"uid", std::strtoul(o.user.substr(0, colon).c_str(), nullptr, 10)},
                         {"gid", colon == std::string::npos ? 0 : std::strtoul(o.user.substr(colon + 1).c_str(), nullptr, 10)}};
    }
  }
  auto proc = parse_process(process, "process");
  if (!proc) {
    report_error("exec: " + proc.error().message);
    return 1;
  }
  UniqueFd slave;
  if (proc->terminal) {
    if (o.console_socket.empty()) {
      report_error("exec: a terminal needs --console-socket");
      return 1;
    }
    auto pty = pty_for_console(ptmx_of(s->pid), o.console_socket);
    if (!pty) {
      report_error(pty.error().message);
      return 1;
    }
    slave = std::move(*pty);
  }
  auto sock = connect_exec(store.dir(o.id) + "/exec.sock");
  if (!sock) {
    report_error(sock.error().message);
    return 1;
  }
  int fds[3] = {0, 1, 2};
  if (slave) fds[0] = fds[1] = fds[2] = slave.get();
  if (auto r = send_message(sock->get(), nlohmann::json{{"process", process}}, fds); !r) {
    report_error(r.error().message);
    return 1;
  }
  slave.reset();
  // The first answer: it runs (or why not).
  auto first = receive_message(sock->get());
  if (!first || first->body.contains("error") || !first->body.contains("pid")) {
    report_error(!first ? first.error().message
                        : first->body.value("error", std::string("the container's monitor did not start the process")));
    return first && first->body.contains("error") ? 126 : 1;
  }
  if (!o.detach) {
    if (!o.pid_file.empty()) (void)write_atomically(o.pid_file, std::to_string(getpid()));
    wait_exec(sock->get());
  }
  pid_t stand_in = fork();
  if (stand_in < 0) {
    report_error(Error::from_errno("fork").message);
    return 1;
  }
  if (stand_in == 0) {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3; ++fd) dup2(null, fd);
    setsid();
    wait_exec(sock->get());
  }
  if (!o.pid_file.empty())
    if (auto r = write_atomically(o.pid_file, std::to_string(stand_in)); !r) {
      report_error(r.error().message);
      return 1;
    }
  return 0;
}

int start_container(const StateStore& store, const std::string& id) {
  auto s = store.load(id);
  if (!s) {
    report_error(s.error().message);
    return 1;
  }
  std::string status = status_of(*s, store.dir(id));
  if (status != "created") {
    report_error(fmt::format("cannot start container \"{}\": it is {}", id, status));
    return 1;
  }
  UniqueFd fifo(::open((store.dir(id) + "/exec.fifo").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) {
    report_error(fmt::format("cannot start container \"{}\": its process is not waiting ({})", id, std::strerror(errno)));
    return 1;
  }
  std::ofstream(store.dir(id) + "/started") << now_rfc3339();
  if (write(fifo.get(), "1", 1) != 1) {
    ::unlink((store.dir(id) + "/started").c_str());
    report_error(Error::from_errno("writing the exec FIFO").message);
    return 1;
  }
  bool found = false;
  std::string text = read_file(store.dir(id) + "/config.json", found);
  auto spec = parse_spec(text, s->bundle);
  if (spec && spec->hooks.count("poststart")) {
    auto r = run_hooks(spec->hooks["poststart"], "poststart", state_json(*s, "running", false));
    if (!r) report_error(r.error().message);  // runc warns and goes on
  }
  return 0;
}

int kill_container(const StateStore& store, const std::string& id, int sig, bool all) {
  auto s = store.load(id);
  if (!s) {
    report_error(s.error().message);
    return 1;
  }
  std::string status = status_of(*s, store.dir(id));
  if (status != "created" && status != "running") {
    report_error(fmt::format("container \"{}\" is not running (it is {})", id, status));
    return 1;
  }
  if (all || sig == SIGKILL) {
    // Every process of the instance (the monitor's descendants), then the monitor.
    for (pid_t p : descendants_of(s->pid)) kill(p, sig);
  }
  if (kill(s->pid, sig) != 0) {
    report_error(Error::from_errno(fmt::format("kill({}, {})", s->pid, sig)).message);
    return 1;
  }
  return 0;
}

int delete_container(const StateStore& store, const std::string& id, bool force) {
  auto s = store.load(id);
  if (!s) {
    if (force && s.error().code == ENOENT) return 0;
    report_error(s.error().message);
    return 1;
  }
  std::string dir = store.dir(id);
  std::string status = status_of(*s, dir);
  if ((status == "running" || status == "created") && !force) {
    // The runtime-spec: deleting a container that is not stopped is an error and changes nothing.
    report_error(fmt::format("cannot delete container \"{}\": it is {} (stop it first, or --force)", id, status));
    return 1;
  }
  if (status == "running" || status == "created") {
    for (pid_t p : descendants_of(s->pid)) kill(p, SIGKILL);
    kill(s->pid, SIGKILL);
    for (int i = 0; i < 500 && process_running(s->pid, s->start_time); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  bool found = false;
  std::string text = read_file(dir + "/config.json", found);
  if (found && s->pid > 0) {
    auto spec = parse_spec(text, s->bundle);
    if (spec && spec->hooks.count("poststop")) {
      auto r = run_hooks(spec->hooks["poststop"], "poststop", state_json(*s, "stopped", false));
      if (!r) report_error(r.error().message);
    }
  }
  auto r = store.remove(id);
  if (!r) {
    report_error(r.error().message);
    return 1;
  }
  return 0;
}

}  // namespace lx::oci
