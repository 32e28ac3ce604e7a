// The instance process: one thread per launch runs its guest tree under a driver (each the
// ptrace tracer of its own tree), the main thread serves the control socket and the clients'
// connections, reaps orphans reparented to it, and ends everything when told to.
#include "instance.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <lxhost/interfaces.h>

#include "protocol.h"
#include "runtime/runner.h"

namespace lx::service {
namespace {

using nlohmann::json;

// The exit code `lx` gives when the guest could not be started.
int exit_code_for(int err) {
  return err == ENOENT ? 127 : (err == EACCES || err == ENOEXEC || err == EISDIR) ? 126 : 125;
}

// One `lx run`: its client connection and its guest tree.
struct Launch {
  int id = 0;
  std::mutex conn_mu;  // guards conn writes (tracer thread and main thread)
  UniqueFd conn;
  std::unique_ptr<driver::Driver> driver;
  std::thread thread;
  std::atomic<pid_t> main_pid{0};
  std::atomic<bool> main_exited{false};
  std::atomic<bool> finished{false};
  bool client_gone = false;  // main thread only

  void send(const json& j, std::span<const int> fds = {}) {
    std::lock_guard lock(conn_mu);
    if (conn) (void)send_frame(conn.get(), j, fds);
  }
};

// One /etc/passwd entry.
struct PasswdEntry {
  std::string name;
  std::uint32_t uid = 0, gid = 0;
  std::string home, shell;
};

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    auto pos = line.find(sep, start);
    parts.push_back(line.substr(start, pos - start));
    if (pos == std::string::npos) return parts;
    start = pos + 1;
  }
}

// The entry of `user` (a name, or a numeric uid) in the passwd file at `path`.
std::optional<PasswdEntry> find_user(const std::string& path, const std::string& user) {
  std::ifstream in(path);
  std::string line;
  bool numeric = !user.empty() && user.find_first_not_of("0123456789") == std::string::npos;
  while (std::getline(in, line)) {
    auto f = split(line, ':');
    if (f.size() < 7) continue;
    if (f[0] == user || (numeric && f[2] == user)) {
      try {
        return PasswdEntry{f[0], static_cast<std::uint32_t>(std::stoul(f[2])), static_cast<std::uint32_t>(std::stoul(f[3])),
                           f[5], f[6]};
      } catch (...) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

// `user`'s groups in the group file at `path`: its primary group, then those that list it.
std::vector<std::uint32_t> groups_of(const std::string& path, const std::string& user, std::uint32_t primary) {
  std::vector<std::uint32_t> out{primary};
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto f = split(line, ':');
    if (f.size() < 4) continue;
    for (const auto& m : split(f[3], ','))
      if (m == user) {
        try {
          auto g = static_cast<std::uint32_t>(std::stoul(f[2]));
          if (g != primary) out.push_back(g);
        } catch (...) {
        }
      }
  }
  return out;
}

// Debug lines (LXHOSTD_DEBUG=1) on stderr, which is lxhostd's log.
void debug(const std::string& line) {
  static const bool on = std::getenv("LXHOSTD_DEBUG") != nullptr;
  if (on) std::fprintf(stderr, "lxhost instance[%d]: %s\n", getpid(), line.c_str());
}

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

class InstanceProcess {
 public:
  explicit InstanceProcess(int control) : control_(control) {}

  int run();

 private:
  Result<json> init(const json& body);
  void handle_control(Frame frame);
  void handle_launch(const json& body, std::vector<UniqueFd> fds);
  void handle_client(Launch& l);
  void client_gone(Launch& l);
  void begin_end();
  void send_control(const json& j) {
    if (control_) (void)send_frame(control_.get(), j);
  }
  void wake() {
    std::uint64_t one = 1;
    (void)!write(wake_.get(), &one, sizeof one);
  }
  std::size_t attached() const {
    std::size_t n = 0;
    for (const auto& l : launches_)
      if (!l->client_gone) ++n;
    return n;
  }
  json process_table() const;

  UniqueFd control_;
  UniqueFd wake_;
  std::string name_;
  std::string rootfs_;  // "" or "/": the host root
  bool fake_root_ = false;
  std::chrono::milliseconds grace_{2000};
  std::unique_ptr<runtime::Runtime> runtime_;
  std::vector<std::unique_ptr<Launch>> launches_;
  int next_id_ = 1;
  int received_ = 0;
  std::atomic<bool> ending_{false};
};

Result<json> InstanceProcess::init(const json& body) {
  name_ = body.value("name", "default");
  rootfs_ = body.value("rootfs", "");
  config::Config cfg;
  if (auto r = cfg.merge_standard_files(body.value("system_config_dir", "/etc/lxhost")); !r) return std::move(r).error();
  for (const auto& s : body.value("service_sets", std::vector<std::string>{}))
    if (auto r = cfg.apply_set(s); !r) return std::move(r).error();
  std::string distro_file = body.value("distro_config", "");
  if (!distro_file.empty())
    if (auto r = cfg.merge_file(distro_file, true); !r) return std::move(r).error();
  for (const auto& s : body.value("root_sets", std::vector<std::string>{}))
    if (auto r = cfg.apply_set(s); !r) return std::move(r).error();
  for (const auto& s : body.value("sets", std::vector<std::string>{}))
    if (auto r = cfg.apply_set(s); !r) return std::move(r).error();
  std::chrono::milliseconds linger{0};
  if (const toml::table* t = cfg.table("instance")) {
    if (auto v = (*t)["linger"].value<std::string>())
      if (auto d = config::parse_duration(*v)) linger = *d;
    if (auto v = (*t)["grace"].value<std::string>())
      if (auto d = config::parse_duration(*v)) grace_ = *d;
  }
  if (const toml::table* t = cfg.table("proc"))
    fake_root_ = (*t)["fake_root"].value_or(false);
  auto rt = runtime::Runtime::create(cfg);
  if (!rt) return std::move(rt).error();
  runtime_ = std::move(*rt);
  long long linger_ms = linger == std::chrono::milliseconds::max() ? -1 : static_cast<long long>(linger.count());
  return json{{"ok", true}, {"pid", getpid()}, {"linger_ms", linger_ms}, {"grace_ms", grace_.count()}};
}

json InstanceProcess::process_table() const {
  json out = json::array();
  for (const auto& l : launches_) {
    if (!l->driver || l->finished) continue;
    for (const auto& p : l->driver->processes()) {
      // A program run through its ELF interpreter is shown by its own command line.
      std::string command = sdk::native_cmdline(p.cmdline);
      std::replace(command.begin(), command.end(), '\0', ' ');
      while (!command.empty() && command.back() == ' ') command.pop_back();
      out.push_back({{"pid", p.pid}, {"parent", p.parent}, {"state", std::string(1, p.state)},
                     {"threads", p.threads}, {"command", command}, {"launch", l->id}});
    }
  }
  return out;
}

void InstanceProcess::handle_launch(const json& body, std::vector<UniqueFd> fds) {
  ++received_;
  debug(fmt::format("launch {} received with {} fds", next_id_, fds.size()));
  if (fds.empty()) return;
  auto l = std::make_unique<Launch>();
  l->id = next_id_++;
  l->conn = std::move(fds[0]);
  Launch& L = *l;
  launches_.push_back(std::move(l));
  auto fail = [&](const std::string& msg, int code) {
    L.send({{"event", "error"}, {"error", msg}, {"exit", code}});
    L.finished = true;
  };
  if (ending_) return fail(fmt::format("instance '{}' is ending", name_), 125);

  bool distro = !rootfs_.empty() && rootfs_ != "/";
  driver::LaunchSpec spec;
  spec.argv = body.value("argv", std::vector<std::string>{});
  std::vector<std::string> client_env = body.value("env", std::vector<std::string>{});
  // Who the launch runs as: the distro's root, or -u USER from the guest's /etc/passwd (the
  // emulated identity: it needs fake root).
  std::string etc = (distro ? rootfs_ : std::string()) + "/etc";
  std::string user = body.value("user", "");
  std::optional<PasswdEntry> pw;
  if (!user.empty()) {
    if (!fake_root_)
      return fail(fmt::format("-u {}: a launch runs as another user only with the emulated identity "
                              "([proc] fake_root = true, as in an installed distro)", user), 125);
    pw = find_user(etc + "/passwd", user);
    if (!pw) return fail(fmt::format("-u {}: no such user in {}/passwd of '{}'", user, distro ? "the distro's /etc" : "/etc", name_), 125);
  } else if (distro) {
    pw = find_user(etc + "/passwd", "root");
    if (!pw) pw = PasswdEntry{"root", 0, 0, "/root", "/bin/sh"};
  }
  std::string home = pw ? pw->home : "";
  if (distro) {
    // The distro's own environment, with the client's terminal and locale settings.
    for (const auto& e : client_env) {
      std::string k = e.substr(0, e.find('='));
      if (k == "TERM" || k == "COLORTERM" || k == "LANG" || k == "TZ" || k.rfind("LC_", 0) == 0) spec.env.push_back(e);
    }
    spec.env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  } else {
    for (const auto& e : client_env) {
      std::string k = e.substr(0, e.find('='));
      if (!pw || (k != "HOME" && k != "USER" && k != "LOGNAME" && k != "SHELL")) spec.env.push_back(e);
    }
  }
  if (pw) {
    spec.env.push_back("HOME=" + pw->home);
    spec.env.push_back("USER=" + pw->name);
    spec.env.push_back("LOGNAME=" + pw->name);
  }
  if (spec.argv.empty()) {
    // A login shell: the user's shell from the guest's passwd, else $SHELL, else /bin/sh.
    std::string shell = pw ? pw->shell : "";
    if (shell.empty() && !distro)
      for (const auto& e : client_env)
        if (e.rfind("SHELL=", 0) == 0) shell = e.substr(6);
    if (shell.empty()) shell = "/bin/sh";
    spec.argv = {shell, "-l"};
  }
  if (pw) spec.env.push_back("SHELL=" + (pw->shell.empty() ? std::string("/bin/sh") : pw->shell));
  std::vector<std::uint32_t> groups;
  sdk::LaunchIdentity* identity = nullptr;
  if (!user.empty()) {
    groups = groups_of(etc + "/group", pw->name, pw->gid);
    identity = runtime_->find<sdk::LaunchIdentity>();
    if (!identity) return fail(fmt::format("-u {}: the loaded proc plugin cannot start a launch as another user", user), 125);
  }
  // The working directory: --cd (a guest path), else the client's own when the guest can see
  // it, else the home directory.
  std::string cd = body.value("cd", "");
  std::string client_cwd = body.value("cwd", "");
  if (distro) {
    std::string guest;
    if (!cd.empty()) guest = cd;
    else if (client_cwd.rfind(rootfs_ + "/", 0) == 0) guest = client_cwd.substr(rootfs_.size());
    else guest = is_dir(rootfs_ + home) ? home : "/";
    if (guest.empty() || guest[0] != '/') guest = (is_dir(rootfs_ + home) ? home : "") + "/" + guest;
    if (!is_dir(rootfs_ + guest)) return fail(fmt::format("--cd {}: no such directory in '{}'", guest, name_), 125);
    spec.cwd = rootfs_ + guest;
    spec.env.push_back("PWD=" + guest);
  } else {
    spec.cwd = !cd.empty() ? cd : (!user.empty() && is_dir(home)) ? home : client_cwd;
    if (!spec.cwd.empty()) {
      struct stat st;
      const char* why = stat(spec.cwd.c_str(), &st) != 0 ? std::strerror(errno)
                        : !S_ISDIR(st.st_mode)            ? "not a directory"
                                                          : nullptr;
      if (why) return fail(fmt::format("{} {}: {}", cd.empty() ? "working directory" : "--cd", spec.cwd, why), 125);
    }
  }

  // The standard fds: the client's own, or a new pseudo-terminal the client relays.
  UniqueFd master, slave;
  std::vector<int> stdio;
  for (std::size_t i = 1; i < fds.size() && i <= 3; ++i) stdio.push_back(fds[i].get());
  if (body.value("tty", false)) {
    int m = -1, s = -1;
    winsize ws{};
    ws.ws_row = static_cast<unsigned short>(body.value("rows", 24));
    ws.ws_col = static_cast<unsigned short>(body.value("cols", 80));
    if (openpty(&m, &s, nullptr, nullptr, &ws) != 0) return fail(fmt::format("openpty: {}", strerror(errno)), 125);
    master.reset(m);
    slave.reset(s);
    fcntl(m, F_SETFD, FD_CLOEXEC);
    fcntl(s, F_SETFD, FD_CLOEXEC);
    bool err_tty = body.value("stderr_tty", true);
    stdio = {s, s, err_tty || stdio.size() < 3 ? s : stdio[2]};
  }
  spec.stdio = stdio;
  spec.new_session = true;
  spec.only_stdio = true;
  spec.set_signals = true;
  spec.ignored_signals = body.value("ignored_signals", std::vector<int>{});
  spec.blocked_signals = body.value("blocked_signals", std::vector<int>{});

  Launch* lp = &L;
  // What the guest's first process inherits at its fork (the client's fds, the pty's slave) is
  // closed here once it runs, so a reader of the client's pipe sees EOF when the guest's own
  // copies go, not when the instance ends; the pty master goes to the client.
  auto held = std::make_shared<std::vector<UniqueFd>>(std::move(fds));
  held->push_back(std::move(slave));
  auto master_held = std::make_shared<UniqueFd>(std::move(master));
  auto drv = runtime_->make_driver(
      nullptr, name_,
      [this, lp, held, master_held, identity, pw, groups](pid_t p) {
        debug(fmt::format("launch {}: started pid {}", lp->id, p));
        lp->main_pid = p;
        if (ending_) kill(p, SIGKILL);
        if (identity && identity->set_identity(p, pw->uid, pw->gid, groups.data(), groups.size()) != 0) kill(p, SIGKILL);
        json started{{"event", "started"}, {"pid", p}};
        if (*master_held) {
          int fds1[1] = {master_held->get()};
          lp->send(started, fds1);
        } else {
          lp->send(started);
        }
        held->clear();
        master_held->reset();
      },
      [lp, this](const driver::ExitStatus& s) {
        debug(fmt::format("launch {}: pid {} exited with {}", lp->id, lp->main_pid.load(), s.shell_status()));
        lp->main_exited = true;
        lp->send({{"event", "exit"}, {"status", s.shell_status()}, {"signal", s.signaled ? s.signal : 0},
                  {"code", s.signaled ? 0 : s.code}});
        wake();
      });
  if (!drv) return fail(drv.error().message, 125);
  L.driver = std::move(*drv);
  L.thread = std::thread([this, lp, spec = std::move(spec), held, master_held]() mutable {
    auto r = lp->driver->run(spec);
    if (!r) {
      lp->send({{"event", "error"}, {"error", r.error().message}, {"exit", exit_code_for(r.error().code)}});
    }
    held->clear();
    master_held->reset();
    lp->finished = true;
    wake();
  });
}

void InstanceProcess::client_gone(Launch& l) {
  if (l.client_gone) return;
  l.client_gone = true;
  {
    std::lock_guard lock(l.conn_mu);
    l.conn.reset();
  }
  // Like a terminal hanging up: the guest the client started is told.
  debug(fmt::format("launch {}: client gone (main {})", l.id, l.main_exited ? "exited" : "running"));
  if (!l.main_exited && l.main_pid > 0) kill(l.main_pid, SIGHUP);
  if (attached() == 0) {
    if (control_) send_control({{"event", "idle"}, {"received", received_}});
    else begin_end();  // lxhostd is gone: nobody else can end us
  }
}

void InstanceProcess::handle_client(Launch& l) {
  // recv_frame bounds the frame; a frame over a bound or not a request gets an error reply
  // naming why, and the client is hung up on (its guest gets SIGHUP, as from a terminal).
  auto f = recv_frame(l.conn.get(), 2000);
  if (!f) {
    if (f.error().code != ECONNRESET) l.send(error_reply("malformed request: " + f.error().message, f.error().code));
    return client_gone(l);
  }
  const json& b = f->body;
  auto cmd = b.find("cmd");
  auto sig = b.find("signal");
  if (cmd == b.end() || *cmd != "signal" || sig == b.end() || !sig->is_number_integer() || !f->fds.empty()) {
    l.send(error_reply("malformed request: a launch's client sends only {\"cmd\": \"signal\", \"signal\": N}", EBADMSG));
    return client_gone(l);
  }
  long long s = sig->get<long long>();
  if (s > 0 && s < NSIG && !l.main_exited && l.main_pid > 0) kill(l.main_pid, static_cast<int>(s));
}

void InstanceProcess::begin_end() {
  if (ending_.exchange(true)) return;
  for (auto& l : launches_)
    if (l->driver && !l->finished) l->driver->end(grace_);
}

void InstanceProcess::handle_control(Frame frame) {
  const json& b = frame.body;
  std::string cmd = b.value("cmd", "");
  if (cmd == "launch") {
    // lxhostd checked the request (check_request) and forwards only that; checked again here,
    // so nothing reaches a launch unchecked. The first fd is the client's connection.
    auto req = check_request(b.value("request", json::object()), frame.fds.empty() ? 0 : frame.fds.size() - 1);
    if (!req) {
      ++received_;
      if (!frame.fds.empty())
        (void)send_frame(frame.fds[0].get(), {{"event", "error"}, {"error", req.error().message}, {"exit", 125}});
      if (attached() == 0) send_control({{"event", "idle"}, {"received", received_}});
      return;
    }
    handle_launch(*req, std::move(frame.fds));
  } else if (cmd == "status") {
    send_control({{"id", b.value("id", 0)}, {"processes", process_table()}, {"clients", attached()}});
  } else if (cmd == "end") {
    begin_end();
  }
}

int InstanceProcess::run() {
  // Orphaned guest processes (daemons) are reparented to this process (to its main thread, the
  // kernel's pick), and stay traced (and reaped) by their launch's thread. What that thread
  // does not reap: a zombie the tracer already saw exit, whose guest parent then exits without
  // waiting (a fork bomb's shells): it comes to the main thread as an untraced zombie. The
  // main thread must not wait (a wait here would steal ptrace stops of the tracees, see below),
  // so the kernel reaps for it: with SA_NOCLDWAIT no untraced child of this process stays a
  // zombie, while a traced one still reports its exit to its tracer (ptrace is exempt). Flags
  // are cleared at exec: guests do not inherit it.
  struct sigaction reap {};
  reap.sa_handler = SIG_DFL;
  reap.sa_flags = SA_NOCLDWAIT;
  sigemptyset(&reap.sa_mask);
  sigaction(SIGCHLD, &reap, nullptr);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  fcntl(control_.get(), F_SETFD, FD_CLOEXEC);
  wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  auto first = recv_frame(control_.get(), 30000);
  if (!first) return 1;
  auto ready = init(first->body.value("init", json::object()));
  if (!ready) {
    send_control(error_reply(ready.error().message, ready.error().code));
    return 1;
  }
  send_control(*ready);
  for (;;) {
    std::vector<pollfd> pfds;
    std::vector<Launch*> who;
    pfds.push_back({wake_.get(), POLLIN, 0});
    who.push_back(nullptr);
    if (control_) {
      pfds.push_back({control_.get(), POLLIN, 0});
      who.push_back(nullptr);
    }
    for (auto& l : launches_)
      if (!l->client_gone && l->conn) {
        pfds.push_back({l->conn.get(), POLLIN, 0});
        who.push_back(l.get());
      }
    // No reaping here: an orphan reparented to this thread is traced by a launch thread of the
    // same process, so that thread's wait reaps it (a wait here would steal its ptrace stops).
    int n = poll(pfds.data(), pfds.size(), 500);
    if (n < 0 && errno != EINTR) return 1;
    if (n > 0) {
      if (pfds[0].revents) {
        std::uint64_t v;
        (void)!read(wake_.get(), &v, sizeof v);
      }
      std::size_t i = 1;
      if (control_) {
        if (pfds[1].revents) {
          auto f = recv_frame(control_.get(), 2000);
          if (f) {
            try {
              handle_control(std::move(*f));
            } catch (const std::exception& e) {
              std::fprintf(stderr, "lxhost instance %s: bad control frame: %s\n", name_.c_str(), e.what());
            }
          } else {
            control_.reset();  // lxhostd is gone: end once no client is left
            if (attached() == 0) begin_end();
          }
        }
        i = 2;
      }
      for (; i < pfds.size(); ++i)
        if (pfds[i].revents && who[i]) handle_client(*who[i]);
    }
    // Launches whose tree is gone and whose client left are forgotten.
    for (auto it = launches_.begin(); it != launches_.end();) {
      Launch& l = **it;
      if (l.finished && l.client_gone) {
        if (l.thread.joinable()) l.thread.join();
        it = launches_.erase(it);
      } else {
        ++it;
      }
    }
    if (ending_) {
      bool all_done = true;
      for (auto& l : launches_) all_done = all_done && l->finished;
      if (all_done) {
        for (auto& l : launches_)
          if (l->thread.joinable()) l->thread.join();
        send_control({{"event", "ended"}});
        return 0;
      }
    }
  }
}

}  // namespace

int instance_main(int control) {
  InstanceProcess p(control);
  return p.run();
}

}  // namespace lx::service
