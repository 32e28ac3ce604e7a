// The service verbs of lx: service start|stop|status, status, terminate, shutdown, and the
// install state: install, import, export, uninstall, list, default.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "cli_options.h"
#include "client.h"
#include "commands.h"
#include "messages.h"

namespace lx::cli {
namespace {

// The options every service verb takes (--config, --set for [service]) and its positionals.
struct VerbArgs {
  ConfigOptions copts;
  std::vector<std::string> positional;
  bool json = false;  // --json (status, list): the daemon's answer as JSON, for scripts
};

// Parses a verb's arguments (accepting --json when `json_flag`); nullopt after printing an error.
std::optional<VerbArgs> parse_verb(const std::vector<std::string>& args, const char* usage, bool json_flag = false) {
  VerbArgs v;
  std::vector<std::string> flags;
  std::vector<std::string> accepted;
  if (json_flag) accepted.push_back("--json");
  if (!parse_arguments(args, v.copts, accepted, flags, v.positional, usage)) return std::nullopt;
  v.json = !flags.empty();
  return v;
}

Result<service::ServicePaths> paths_for(const VerbArgs& v) {
  auto cfg = load_config(v.copts);
  if (!cfg) return std::move(cfg).error();
  return service::ServicePaths::resolve(*cfg);
}

// One request to the daemon (started on demand when `start`) and its reply; events go to
// `on_event`, or "waiting" messages are printed.
template <class Reply, class Request>
Result<Reply> call(const VerbArgs& v, const Request& request, bool start, const service::EventFn& on_event = {}) {
  LX_TRY_ASSIGN(paths, paths_for(v));
  LX_TRY_ASSIGN(conn, service::connect_daemon(paths, start));
  service::EventFn print = on_event ? on_event : [](const service::ClientEvent& e) {
    if (const auto* w = std::get_if<service::WaitingEvent>(&e)) print_error(w->message);
  };
  return service::ask<Reply>(conn.get(), request, print);
}

std::string human_size(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.1f} {}", v, units[u]);
}

// A progress line on a terminal; nothing when stderr is not one.
class ProgressBar {
 public:
  explicit ProgressBar(std::string what) : what_(std::move(what)), tty_(isatty(2) == 1) {}
  void operator()(const service::ClientEvent& e) {
    if (const auto* w = std::get_if<service::WaitingEvent>(&e)) {
      clear();
      print_error(w->message);
      return;
    }
    const auto* p = std::get_if<service::ProgressEvent>(&e);
    if (!tty_ || !p) return;
    std::uint64_t done = p->done, total = p->total, entries = p->entries;
    std::string line;
    if (total > 0) {
      int pct = static_cast<int>(done * 100 / total);
      int width = 30, fill = pct * width / 100;
      line = fmt::format("{} [{}{}] {:3}% {} of {}, {} entries", what_, std::string(static_cast<std::size_t>(fill), '#'),
                         std::string(static_cast<std::size_t>(width - fill), '.'), pct, human_size(done),
                         human_size(total), entries);
    } else {
      line = fmt::format("{}: {}, {} entries", what_, human_size(done), entries);
    }
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    shown_ = true;
  }
  void clear() {
    if (shown_) std::fputs("\r\033[K", stderr);
    shown_ = false;
  }
  ~ProgressBar() { clear(); }

 private:
  std::string what_;
  bool tty_;
  bool shown_ = false;
};

std::string absolute(const std::string& p) {
  std::error_code ec;
  auto a = std::filesystem::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

int fail(const Error& e) {
  print_error(e.message);
  return kExitFailure;
}

// Whether an error says that no lxhostd runs.
bool not_running(const Error& e) { return e.code == ENOENT || e.code == ECONNREFUSED; }

}  // namespace

int service_command(const std::vector<std::string>& args) {
  constexpr const char* usage =
      "usage: lx service start|stop|status\n"
      "  start   start lxhostd in the background (lx also starts it on demand)\n"
      "  stop    end every instance and stop lxhostd\n"
      "  status  whether lxhostd runs, its pid and socket\n"
      "Run 'lxhostd' itself to keep it in the foreground, for debugging.\n";
  auto v = parse_verb(args, usage);
  if (!v) return kExitUsage;
  if (v->positional.size() != 1) return std::fputs(usage, stderr), kExitUsage;
  auto paths = paths_for(*v);
  if (!paths) return fail(paths.error());
  const std::string& what = v->positional[0];
  if (what == "start") {
    if (pid_t p = service::daemon_pid(*paths)) {
      std::printf("lxhostd is already running (pid %d, %s)\n", p, paths->socket.c_str());
      return 0;
    }
    if (auto r = service::start_daemon(*paths); !r) return fail(r.error());
    std::printf("lxhostd started (pid %d, %s)\n", service::daemon_pid(*paths), paths->socket.c_str());
    return 0;
  }
  if (what == "stop") {
    auto r = call<service::DoneReply>(*v, service::ShutdownRequest{}, false);
    if (!r && !not_running(r.error())) return fail(r.error());
    std::puts(r ? "lxhostd stopped" : "lxhostd is not running");
    return 0;
  }
  if (what == "status") {
    pid_t p = service::daemon_pid(*paths);
    if (!p) {
      std::printf("lxhostd is not running (socket %s)\n", paths->socket.c_str());
      return 3;
    }
    std::printf("lxhostd is running (pid %d)\nsocket: %s\nlog:    %s\ndata:   %s\n", p, paths->socket.c_str(),
                paths->log.c_str(), paths->data_dir.c_str());
    return 0;
  }
  std::fputs(usage, stderr);
  return kExitUsage;
}

int status_command(const std::vector<std::string>& args) {
  constexpr const char* usage =
      "usage: lx status [--json]\nLists the running instances and their processes (--json: as JSON, for scripts).\n";
  auto v = parse_verb(args, usage, true);
  if (!v) return kExitUsage;
  auto r = call<service::StatusReply>(*v, service::StatusRequest{}, false);
  if (!r) {
    if (!not_running(r.error())) return fail(r.error());
    std::puts(v->json ? "[]" : "lxhostd is not running: no instances");
    return 0;
  }
  if (v->json) {
    std::puts(service::to_json_value(r->instances).dump(2).c_str());
    return 0;
  }
  if (r->instances.empty()) std::puts("no instances running");
  for (const auto& i : r->instances) {
    int clients = i.clients.value_or(0);
    std::printf("%s  (instance pid %d, %s, %d client%s, root %s)\n", i.name.c_str(), i.pid, i.state.c_str(), clients,
                clients == 1 ? "" : "s", i.rootfs.c_str());
    std::printf("  BACKEND %s (%s)\n", i.backend.value_or("?").c_str(), i.backend_why.c_str());
    std::printf("  %7s %7s %-5s %7s  %s\n", "PID", "PPID", "STATE", "THREADS", "COMMAND");
    for (const auto& p : i.processes)
      std::printf("  %7d %7d %-5s %7d  %s\n", p.pid, p.parent, p.state.c_str(), p.threads, p.command.c_str());
  }
  return 0;
}

int terminate_command(const std::vector<std::string>& args) {
  constexpr const char* usage =
      "usage: lx terminate DISTRO\nEnds the instance of DISTRO ('host' for the host root): SIGTERM to its processes,\n"
      "SIGKILL after the grace period ([instance] grace).\n";
  auto v = parse_verb(args, usage);
  if (!v) return kExitUsage;
  if (v->positional.size() != 1) return std::fputs(usage, stderr), kExitUsage;
  auto r = call<service::DoneReply>(*v, service::TerminateRequest{{}, v->positional[0]}, false);
  if (!r) return fail(r.error());
  return 0;
}

int shutdown_command(const std::vector<std::string>& args) {
  constexpr const char* usage = "usage: lx shutdown\nEnds every instance and stops lxhostd.\n";
  auto v = parse_verb(args, usage);
  if (!v) return kExitUsage;
  auto r = call<service::DoneReply>(*v, service::ShutdownRequest{}, false);
  if (!r && !not_running(r.error())) return fail(r.error());
  return 0;
}

namespace {

std::string distro_usage(const std::string& verb) {
  if (verb == "install")
    return "usage: lx install NAME FILE.tar[.gz|.xz|.zst]\n"
           "Installs a distro from a rootfs tarball; owners, modes and device numbers\n"
           "are kept as ownership metadata, so they show inside as in the tarball.\n";
  if (verb == "import") return "usage: lx import NAME DIR\nInstalls a copy of the rootfs directory DIR as NAME.\n";
  if (verb == "export")
    return "usage: lx export NAME FILE.tar[.gz|.xz|.zst]\n"
           "Writes NAME's rootfs to a tarball with the owners and modes it has inside.\n";
  if (verb == "uninstall") return "usage: lx uninstall NAME\nEnds NAME's instance and removes the distro.\n";
  if (verb == "list")
    return "usage: lx list [--json]\nLists the installed distros: name, state, size, default "
           "(--json: all that is known, as JSON).\n";
  return "usage: lx default [NAME]\nShows, or sets, the default distro.\n";
}

int list_distros(const VerbArgs& v) {
  auto r = call<service::ListReply>(v, service::ListRequest{}, true);
  if (!r) return fail(r.error());
  if (v.json) {
    std::puts(service::to_json_value(r->distros).dump(2).c_str());
    return 0;
  }
  if (r->distros.empty()) {
    std::puts("no distros installed ('lx install NAME FILE.tar' installs one; 'lx run' uses the host root)");
    return 0;
  }
  std::printf("  %-20s %-12s %10s  %s\n", "NAME", "STATE", "SIZE", "RUNNING");
  for (const auto& d : r->distros)
    std::printf("%s %-20s %-12s %10s  %s\n", d.is_default ? "*" : " ", d.name.c_str(), d.state.c_str(),
                human_size(d.size).c_str(), d.running ? "yes" : "no");
  return 0;
}

int default_distro(const VerbArgs& v) {
  service::DefaultRequest request;
  if (!v.positional.empty()) request.distro = v.positional[0];
  auto r = call<service::DefaultReply>(v, request, true);
  if (!r) return fail(r.error());
  std::puts(r->name.empty() ? "no default distro (lx run uses the host root)" : r->name.c_str());
  return 0;
}

// An operation on the install state, with a progress bar on a terminal.
template <class Reply, class Request>
Result<Reply> store_call(const VerbArgs& v, const Request& request) {
  ProgressBar bar(fmt::format("{} {}", service::doing(Request::kOp), request.distro));
  auto r = call<Reply>(v, request, true, [&bar](const service::ClientEvent& e) { bar(e); });
  bar.clear();
  return r;
}

int change_distros(const std::string& verb, const VerbArgs& v) {
  const std::string& name = v.positional[0];
  if (verb == "uninstall") {
    auto r = store_call<service::DoneReply>(v, service::UninstallRequest{{}, name, ""});
    if (!r) return fail(r.error());
    std::printf("uninstalled %s\n", name.c_str());
    return 0;
  }
  std::string path = absolute(v.positional[1]);
  if (verb == "export") {
    auto r = store_call<service::DoneReply>(v, service::ExportRequest{{}, name, path});
    if (!r) return fail(r.error());
    std::printf("exported %s to %s\n", name.c_str(), path.c_str());
    return 0;
  }
  if (access(path.c_str(), R_OK) != 0) {
    print_error(fmt::format("{}: {}: {}", verb, v.positional[1], strerror(errno)));
    return kExitFailure;
  }
  auto r = verb == "install" ? store_call<service::InstalledReply>(v, service::InstallRequest{{}, name, path})
                             : store_call<service::InstalledReply>(v, service::ImportRequest{{}, name, path});
  if (!r) return fail(r.error());
  std::printf("installed %s (%s)%s\n", name.c_str(), human_size(r->size).c_str(),
              r->is_default ? ", the default distro" : "");
  return 0;
}

}  // namespace

int distro_command(const std::string& verb, const std::vector<std::string>& args) {
  const std::string usage = distro_usage(verb);
  auto v = parse_verb(args, usage.c_str(), verb == "list");
  if (!v) return kExitUsage;
  const auto& pos = v->positional;
  std::size_t want = verb == "list" ? 0 : (verb == "uninstall") ? 1 : verb == "default" ? pos.size() : 2;
  if (pos.size() != want || (verb == "default" && pos.size() > 1)) return std::fputs(usage.c_str(), stderr), kExitUsage;
  if (verb == "list") return list_distros(*v);
  if (verb == "default") return default_distro(*v);
  return change_distros(verb, *v);
}

}  // namespace lx::cli
