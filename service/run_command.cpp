// `lx run`: launches a command in an instance through lxhostd. Without a terminal the guest
// gets lx's own stdin/stdout/stderr; on a terminal the instance opens a pseudo-terminal, whose
// master lx relays (raw mode), so job control and Ctrl-C work in the guest's own session.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "cli_options.h"
#include "client.h"
#include "commands.h"
#include "messages.h"
#include "protocol.h"

extern char** environ;

namespace lx::cli {
namespace {

constexpr const char* kRunUsage =
    "usage: lx run [-d DISTRO] [-u USER] [--cd DIR] [--set KEY=VALUE]... [--] [CMD [ARGS...]]\n"
    "Runs CMD in the instance of DISTRO (default: the default distro, or the host root when none is\n"
    "installed), starting lxhostd and the instance when needed. Without CMD: a login shell.\n"
    "  -d, --distro DISTRO  the installed distro to run in ('lx list')\n"
    "  -u, --user USER      run as USER (name or uid) of the distro's /etc/passwd, with its\n"
    "                       groups, home and shell (the emulated identity: [proc] fake_root)\n"
    "  --cd DIR             working directory inside the distro (default: home, or the current\n"
    "                       directory when it lies inside the distro)\n"
    "  --set KEY=VALUE      config for a new instance (an instance already running with other\n"
    "                       values must be ended first: 'lx terminate DISTRO')\n"
    "Exits with CMD's status (128+N when killed by signal N); 125 when lx or the instance failed,\n"
    "126/127 when CMD cannot be executed / is not found.\n";

int g_sigpipe[2] = {-1, -1};

void on_signal(int sig) {
  int saved = errno;
  unsigned char c = static_cast<unsigned char>(sig);
  (void)!write(g_sigpipe[1], &c, 1);
  errno = saved;
}

// Restores the terminal's mode when lx leaves raw mode.
class RawMode {
 public:
  void enter(int fd) {
    if (tcgetattr(fd, &saved_) != 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    if (tcsetattr(fd, TCSANOW, &raw) == 0) fd_ = fd;
  }
  void restore() {
    if (fd_ >= 0) tcsetattr(fd_, TCSANOW, &saved_);
    fd_ = -1;
  }
  ~RawMode() { restore(); }

 private:
  int fd_ = -1;
  termios saved_{};
};

// Copies what is readable on `from` to `to`; false at EOF or error.
bool pump(int from, int to) {
  char buf[16384];
  ssize_t n = read(from, buf, sizeof buf);
  if (n <= 0) return n < 0 && (errno == EAGAIN || errno == EINTR);
  for (ssize_t off = 0; off < n;) {
    ssize_t w = write(to, buf + off, static_cast<std::size_t>(n - off));
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    off += w;
  }
  return true;
}

// The request: the command, and the client's environment, working directory, terminal and
// signal dispositions.
service::RunRequest make_request(std::vector<std::string> argv) {
  service::RunRequest req;
  req.argv = std::move(argv);
  req.tty = isatty(0) && isatty(1);
  req.stderr_tty = isatty(2) == 1;
  for (char** e = environ; e && *e; ++e) req.env.emplace_back(*e);
  std::error_code ec;
  req.cwd = std::filesystem::current_path(ec).string();
  if (req.tty) {
    winsize ws{};
    if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row) {
      req.rows = ws.ws_row;
      req.cols = ws.ws_col;
    }
  }
  // The command starts with the signals ignored and blocked that lx itself got (nohup, a shell's
  // background job), as a program lx exec'd would.
  sigset_t mask;
  sigprocmask(SIG_SETMASK, nullptr, &mask);
  for (int s = 1; s < SIGRTMIN; ++s) {
    struct sigaction old {};
    if (s != SIGKILL && s != SIGSTOP && sigaction(s, nullptr, &old) == 0 && old.sa_handler == SIG_IGN)
      req.ignored_signals.push_back(s);
    if (sigismember(&mask, s) == 1) req.blocked_signals.push_back(s);
  }
  return req;
}

// The signals lx relays to the guest (or acts on: SIGWINCH, SIGCONT) arrive on g_sigpipe.
Result<void> catch_signals() {
  if (pipe2(g_sigpipe, O_CLOEXEC | O_NONBLOCK) != 0) return Error::from_errno("pipe2");
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT}) sigaction(s, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return ok();
}

// The client's side of a running launch: the guest's events, signals relayed to it, and its
// pseudo-terminal relayed to lx's own terminal (raw mode).
class Session {
 public:
  Session(int conn, std::string log) : conn_(conn), log_(std::move(log)) {}
  /// Relays until the guest exits; returns lx's exit status.
  int run();

 private:
  void relay_signals();
  std::optional<int> on_frame();
  std::optional<int> on_event(const service::ClientEvent& event, std::vector<UniqueFd>& fds);

  int conn_;
  std::string log_;  // lxhostd's, named when the instance ends too soon
  RawMode raw_;
  UniqueFd master_;  // the pseudo-terminal's, when the guest has one
  bool stdin_open_ = true;
};

int Session::run() {
  for (;;) {
    std::vector<pollfd> p{{conn_, POLLIN, 0}, {g_sigpipe[0], POLLIN, 0}};
    if (master_) {
      p.push_back({master_.get(), POLLIN, 0});
      if (stdin_open_) p.push_back({0, POLLIN, 0});
    }
    if (poll(p.data(), p.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return print_error("poll failed"), kExitFailure;
    }
    if (p[1].revents) relay_signals();
    if (master_ && p.size() > 2) {
      if (p[2].revents & POLLIN) pump(master_.get(), 1);
      if (p.size() > 3 && p[3].revents && !pump(0, master_.get())) stdin_open_ = false;
    }
    if (p[0].revents)
      if (auto status = on_frame()) return *status;
  }
}

void Session::relay_signals() {
  unsigned char sig;
  while (read(g_sigpipe[0], &sig, 1) == 1) {
    if (sig == SIGWINCH) {
      winsize ws{};
      if (master_ && ioctl(1, TIOCGWINSZ, &ws) == 0) ioctl(master_.get(), TIOCSWINSZ, &ws);
    } else if (sig == SIGCONT) {
      if (master_) raw_.enter(0);  // back from a suspension of lx itself
    } else {
      service::SignalCommand command;
      command.signal = sig;
      (void)service::send_message(conn_, command);
    }
  }
}

std::optional<int> Session::on_frame() {
  auto f = service::recv_frame(conn_, 5000);
  if (!f) {
    raw_.restore();
    print_error(fmt::format("the instance ended before the command did (it was ended, or a plugin crashed; see {})", log_));
    return kExitFailure;
  }
  if (!service::is_event(f->body)) {
    auto e = service::reply_error(f->body);
    if (!e) return std::nullopt;
    raw_.restore();
    print_error(e->message);
    return kExitFailure;
  }
  auto event = service::decode_message<service::ClientEvent>(f->body);
  return event ? on_event(*event, f->fds) : std::nullopt;
}

std::optional<int> Session::on_event(const service::ClientEvent& event, std::vector<UniqueFd>& fds) {
  using Status = std::optional<int>;
  return std::visit(
      service::Overloaded{
          [](const service::WaitingEvent& e) -> Status { return print_error(e.message), std::nullopt; },
          [](const service::ProgressEvent&) -> Status { return std::nullopt; },
          [&](const service::StartedEvent&) -> Status {
            if (fds.empty()) return std::nullopt;
            master_ = std::move(fds[0]);
            fcntl(master_.get(), F_SETFL, O_NONBLOCK);
            raw_.enter(0);
            return std::nullopt;
          },
          [&](const service::ExitEvent& e) -> Status {
            // What the guest wrote before it exited is still in the pseudo-terminal.
            for (int n = 0; master_ && n < 1000; ++n) {
              pollfd q{master_.get(), POLLIN, 0};
              if (poll(&q, 1, 20) <= 0 || !(q.revents & POLLIN) || !pump(master_.get(), 1)) break;
            }
            raw_.restore();
            return e.status;
          },
          [&](const service::ErrorEvent& e) -> Status {
            raw_.restore();
            print_error(e.error);
            return e.exit;
          },
      },
      event);
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  ConfigOptions copts;
  std::string distro, cd, user;
  auto cmd = parse_command_options(args, "run", kRunUsage, copts,
                                   {{{"-d", "--distro"}, &distro, nullptr, "needs a distro name"},
                                    {{"--cd"}, &cd, nullptr, "needs a directory"},
                                    {{"-u", "--user"}, &user, nullptr, "needs a user name"}});
  if (!cmd) return kExitUsage;
  // --config layers are the client's: they place the service ([service]); the instance reads
  // the standard files, the distro's file and --set itself.
  ConfigOptions place{copts.config_files, {}};
  auto cfg = load_config(place);
  if (!cfg) return print_error(cfg.error().message), kExitFailure;
  // --set values are checked here, so a typo is reported before anything starts.
  for (const auto& s : copts.sets) {
    config::Config probe;
    if (auto r = probe.apply_set(s); !r) return print_error(r.error().message), kExitUsage;
  }
  auto paths = service::ServicePaths::resolve(*cfg);
  auto conn = service::connect_daemon(paths, true);
  if (!conn) return print_error(conn.error().message), kExitFailure;

  auto req = make_request(std::vector<std::string>(args.begin() + static_cast<std::ptrdiff_t>(*cmd), args.end()));
  req.distro = distro;
  req.cd = cd;
  req.user = user;
  req.sets = copts.sets;
  if (auto r = catch_signals(); !r) return print_error(r.error().message), kExitFailure;
  int stdio[3] = {0, 1, 2};
  if (auto r = service::send_message(conn->get(), req, stdio); !r) return print_error(r.error().message), kExitFailure;
  return Session(conn->get(), paths.log).run();
}

}  // namespace lx::cli
