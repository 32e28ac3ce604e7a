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
#include "protocol.h"

namespace lx::cli {
namespace {

using nlohmann::json;

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

// One request to the daemon (started on demand when `start`); events are printed.
Result<json> call(const VerbArgs& v, json request, bool start, const service::EventFn& on_event = {}) {
  auto paths = paths_for(v);
  if (!paths) return std::move(paths).error();
  auto conn = service::connect_daemon(*paths, start);
  if (!conn) return std::move(conn).error();
  service::EventFn print = on_event ? on_event : [](const json& e) {
    if (e.value("event", "") == "waiting") print_error(e.value("message", ""));
  };
  return service::exchange(conn->get(), std::move(request), print);
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
  void operator()(const json& e) {
    if (e.value("event", "") == "waiting") {
      clear();
      print_error(e.value("message", ""));
      return;
    }
    if (!tty_ || e.value("event", "") != "progress") return;
    std::uint64_t done = e.value("done", 0ULL), total = e.value("total", 0ULL), entries = e.value("entries", 0ULL);
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
    auto r = call(*v, {{"cmd", "shutdown"}}, false);
    if (!r) {
      if (r.error().code == ENOENT || r.error().code == ECONNREFUSED) {
        std::puts("lxhostd is not running");
        return 0;
      }
      return fail(r.error());
    }
    std::puts("lxhostd stopped");
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
  auto r = call(*v, {{"cmd", "status"}}, false);
  if (!r) {
    if (r.error().code == ENOENT || r.error().code == ECONNREFUSED) {
      std::puts(v->json ? "[]" : "lxhostd is not running: no instances");
      return 0;
    }
    return fail(r.error());
  }
  const auto& inst = (*r)["instances"];
  if (v->json) {
    std::puts(inst.dump(2).c_str());
    return 0;
  }
  if (inst.empty()) std::puts("no instances running");
  for (const auto& i : inst) {
    std::printf("%s  (instance pid %d, %s, %d client%s, root %s)\n", i.value("name", "").c_str(), i.value("pid", 0),
                i.value("state", "").c_str(), i.value("clients", 0), i.value("clients", 0) == 1 ? "" : "s",
                i.value("rootfs", "/").c_str());
    std::printf("  %7s %7s %-5s %7s  %s\n", "PID", "PPID", "STATE", "THREADS", "COMMAND");
    for (const auto& p : i["processes"])
      std::printf("  %7d %7d %-5s %7d  %s\n", p.value("pid", 0), p.value("parent", 0), p.value("state", "?").c_str(),
                  p.value("threads", 1), p.value("command", "").c_str());
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
  auto r = call(*v, {{"cmd", "terminate"}, {"distro", v->positional[0]}}, false);
  if (!r) return fail(r.error());
  return 0;
}

int shutdown_command(const std::vector<std::string>& args) {
  constexpr const char* usage = "usage: lx shutdown\nEnds every instance and stops lxhostd.\n";
  auto v = parse_verb(args, usage);
  if (!v) return kExitUsage;
  auto r = call(*v, {{"cmd", "shutdown"}}, false);
  if (!r && r.error().code != ENOENT && r.error().code != ECONNREFUSED) return fail(r.error());
  return 0;
}

int distro_command(const std::string& verb, const std::vector<std::string>& args) {
  const std::string usage = verb == "install"  ? "usage: lx install NAME FILE.tar[.gz|.xz|.zst]\n"
                                                 "Installs a distro from a rootfs tarball; owners, modes and device numbers\n"
                                                 "are kept as ownership metadata, so they show inside as in the tarball.\n"
                            : verb == "import" ? "usage: lx import NAME DIR\nInstalls a copy of the rootfs directory DIR as NAME.\n"
                            : verb == "export" ? "usage: lx export NAME FILE.tar[.gz|.xz|.zst]\n"
                                                 "Writes NAME's rootfs to a tarball with the owners and modes it has inside.\n"
                            : verb == "uninstall" ? "usage: lx uninstall NAME\nEnds NAME's instance and removes the distro.\n"
                            : verb == "list"   ? "usage: lx list [--json]\nLists the installed distros: name, state, size, default "
                                                 "(--json: all that is known, as JSON).\n"
                                               : "usage: lx default [NAME]\nShows, or sets, the default distro.\n";
  auto v = parse_verb(args, usage.c_str(), verb == "list");
  if (!v) return kExitUsage;
  const auto& pos = v->positional;
  std::size_t want = verb == "list" ? 0 : (verb == "uninstall") ? 1 : verb == "default" ? pos.size() : 2;
  if (pos.size() != want || (verb == "default" && pos.size() > 1)) return std::fputs(usage.c_str(), stderr), kExitUsage;

  if (verb == "list") {
    auto r = call(*v, {{"cmd", "list"}}, true);
    if (!r) return fail(r.error());
    const auto& ds = (*r)["distros"];
    if (v->json) {
      std::puts(ds.dump(2).c_str());
      return 0;
    }
    if (ds.empty()) {
      std::puts("no distros installed ('lx install NAME FILE.tar' installs one; 'lx run' uses the host root)");
      return 0;
    }
    std::printf("  %-20s %-12s %10s  %s\n", "NAME", "STATE", "SIZE", "RUNNING");
    for (const auto& d : ds)
      std::printf("%s %-20s %-12s %10s  %s\n", d.value("default", false) ? "*" : " ", d.value("name", "").c_str(),
                  d.value("state", "").c_str(), human_size(d.value("size", 0ULL)).c_str(),
                  d.value("running", false) ? "yes" : "no");
    return 0;
  }
  if (verb == "default") {
    json req{{"cmd", "default"}};
    if (!pos.empty()) req["distro"] = pos[0];
    auto r = call(*v, req, true);
    if (!r) return fail(r.error());
    std::string d = r->value("default", "");
    std::puts(d.empty() ? "no default distro (lx run uses the host root)" : d.c_str());
    return 0;
  }
  json req{{"cmd", verb}, {"distro", pos[0]}};
  if (verb == "install" || verb == "import") {
    std::string path = absolute(pos[1]);
    if (access(path.c_str(), R_OK) != 0) {
      print_error(fmt::format("{}: {}: {}", verb, pos[1], strerror(errno)));
      return kExitFailure;
    }
    req["path"] = path;
  } else if (verb == "export") {
    req["path"] = absolute(pos[1]);
  }
  ProgressBar bar(fmt::format("{} {}", verb == "install" ? "installing" : verb == "import" ? "importing"
                                                                        : verb == "export" ? "exporting"
                                                                                           : "uninstalling",
                              pos[0]));
  auto r = call(*v, req, true, [&bar](const json& e) { bar(e); });
  bar.clear();
  if (!r) return fail(r.error());
  if (verb == "install" || verb == "import")
    std::printf("installed %s (%s)%s\n", pos[0].c_str(), human_size(r->value("size", 0ULL)).c_str(),
                r->value("default", false) ? ", the default distro" : "");
  else if (verb == "export")
    std::printf("exported %s to %s\n", pos[0].c_str(), req["path"].get<std::string>().c_str());
  else
    std::printf("uninstalled %s\n", pos[0].c_str());
  return 0;
}

}  // namespace lx::cli
