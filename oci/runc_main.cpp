// lxhost-runc: an OCI runtime with runc's command line, whose containers are lxhost instances
// (see container.h). podman (--runtime), containerd's runc v2 shim (ctr --runc-binary, CRI's
// BinaryName) and the runtime-tools validation suite drive it as they drive runc.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/proc_status.h"
#include "oci/container.h"
#include "oci/state.h"

#ifndef LXHOST_VERSION
#define LXHOST_VERSION "0"
#endif

namespace lx::oci {
namespace {

using nlohmann::json;

constexpr const char* kUsage = R"(usage: lxhost-runc [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]

An OCI runtime (runtime-spec 1.x, runc's command line) whose containers are lxhost instances:
the process runs under lxhost's personality, with its families configured by the bundle's
io.lxhost.* annotations (io.lxhost.families.net.enabled=false, io.lxhost.instance.backend=
emulated, any lxhost config key), on the kernel backend where the spec asks for namespaces and
the host allows a user namespace, on the emulated backend otherwise.

Commands:
  create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--preserve-fds N] ID
                       set the container up; its process waits for start
  start ID             run the process of a created container
  run [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--detach] [--keep] ID
                       create and start; without --detach, wait and exit as the process did
  state ID             the runtime-spec state as JSON
  kill [--all] ID [SIGNAL]
                       send SIGNAL (default SIGTERM) to the container's process (--all: to
                       every process of the container)
  delete [--force] ID  remove a stopped container (--force: kill it first)
  list [--format table|json] [--quiet]
  exec [--process FILE | [--tty] [--cwd DIR] [--env NAME=VALUE]... [--user UID[:GID]]]
       [--console-socket SOCK] [--pid-file FILE] [--detach] ID [COMMAND [ARGS...]]
                       run another process in a running container
  ps [--format table|json] ID
                       the host pids of the container's processes
  events [--stats] [--interval DURATION] ID
                       the container's stats as JSON (every interval, or once with --stats)
  spec [--bundle DIR] [--rootless]
                       write a starting config.json
  features             what this runtime supports, as JSON (runtime-spec features.md)

Global options:
  --root DIR           state directory (default /run/lxhost-runc as root, else
                       $XDG_RUNTIME_DIR/lxhost-runc)
  --log FILE           also write errors to FILE
  --log-format text|json
  --systemd-cgroup     accepted; lxhost-runc places containers in no cgroup
  --debug              accepted
  --version, -v        print the version
  --help, -h           this help

What a config.json asks and lxhost-runc cannot honour is refused at create, naming the field.
)";

// The options of one command: flags (no value) and options (one value), by their names.
struct Parsed {
  std::map<std::string, std::string> values;
  std::vector<std::string> args;
  bool has(const std::string& k) const { return values.count(k) > 0; }
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = values.find(k);
    return it == values.end() ? def : it->second;
  }
};

// Parses `argv[from..]` as urfave/cli does: options before the positional arguments, "--name
// value", "--name=value", "-n value"; `aliases` maps a short name to its long one; `flags` take
// no value. An unknown option is an error.
bool parse(const std::vector<std::string>& argv, std::size_t from, const std::vector<std::string>& flags,
           const std::vector<std::string>& options, const std::map<std::string, std::string>& aliases, Parsed& out,
           const std::string& command) {
  auto known = [](const std::vector<std::string>& v, const std::string& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  std::size_t i = from;
  for (; i < argv.size(); ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    std::string name = a.substr(a[1] == '-' ? 2 : 1), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (auto al = aliases.find(name); al != aliases.end()) name = al->second;
    if (known(flags, name)) {
      out.values[name] = inline_value ? value : "true";
    } else if (known(options, name)) {
      if (!inline_value) {
        if (i + 1 >= argv.size()) {
          report_error(fmt::format("{}: option --{} needs a value", command, name));
          return false;
        }
        value = argv[++i];
      }
      out.values[name] = value;
    } else {
      report_error(fmt::format("{}: unknown option {} (see lxhost-runc --help)", command, a));
      return false;
    }
  }
  for (; i < argv.size(); ++i) out.args.push_back(argv[i]);
  return true;
}

bool need_id(const Parsed& p, const std::string& command, std::size_t max = 1) {
  if (p.args.empty()) {
    report_error(fmt::format("{}: a container id is required", command));
    return false;
  }
  if (p.args.size() > max) {
    report_error(fmt::format("{}: unexpected argument \"{}\"", command, p.args[max]));
    return false;
  }
  return true;
}

int cmd_state(const StateStore& store, const std::string& id) {
  auto s = store.load(id);
  if (!s) {
    report_error(s.error().message);
    return 1;
  }
  std::printf("%s\n", state_json(*s, status_of(*s, store.dir(id)), true).c_str());
  return 0;
}

int cmd_list(const StateStore& store, const Parsed& p) {
  std::string format = p.get("format", "table");
  if (format != "table" && format != "json") {
    report_error("list: --format is table or json");
    return 1;
  }
  json all = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& id : store.list()) {
    auto s = store.load(id);
    if (!s) continue;
    std::string status = status_of(*s, store.dir(id));
    if (p.has("quiet")) {
      std::printf("%s\n", id.c_str());
      continue;
    }
    json j = json::parse(state_json(*s, status, false));
    all.push_back(j);
    rows.push_back({id, std::to_string(j["pid"].get<int>()), status, s->bundle, s->created, s->owner});
  }
  if (p.has("quiet")) return 0;
  if (format == "json") {
    std::printf("%s\n", all.dump().c_str());
    return 0;
  }
  std::printf("%-12s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (const auto& r : rows)
    std::printf("%-12s %-8s %-10s %-40s %-32s %s\n", r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str(), r[4].c_str(),
                r[5].c_str());
  return 0;
}

// The container's processes: the monitor's descendants that are the guest's (lxhost's own
// helpers, such as the kernel backend's init, are left out).
std::vector<pid_t> container_pids(const State& s) {
  std::vector<pid_t> out;
  for (pid_t p : descendants_of(s.pid)) {
    if (!is_namespace_init(p)) out.push_back(p);  // the kernel backend's init is lxhost's
  }
  return out;
}

int cmd_ps(const StateStore& store, const Parsed& p) {
  auto s = store.load(p.args[0]);
  if (!s) {
    report_error(s.error().message);
    return 1;
  }
  std::string status = status_of(*s, store.dir(p.args[0]));
  std::vector<pid_t> pids = status == "running" || status == "created" ? container_pids(*s) : std::vector<pid_t>{};
  std::string format = p.get("format", "table");
  if (format == "json") {
    std::printf("%s\n", json(pids).dump().c_str());
    return 0;
  }
  if (format != "table") {
    report_error("ps: --format is table or json");
    return 1;
  }
  std::printf("%-8s %-8s %s\n", "PID", "PPID", "CMD");
  for (pid_t pid : pids) {
    auto st = ProcStatus::read(pid);
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    std::printf("%-8d %-8d %s\n", pid, st && st->ppid() ? *st->ppid() : 0, cmd.c_str());
  }
  return 0;
}

int cmd_events(const StateStore& store, const Parsed& p) {
  const std::string& id = p.args[0];
  auto interval = std::chrono::seconds(5);
  if (p.has("interval")) {
    std::string v = p.get("interval");
    long n = std::atol(v.c_str());
    if (n <= 0 || v.back() != 's') {
      report_error("events: --interval is a number of seconds (\"5s\")");
      return 1;
    }
    interval = std::chrono::seconds(n);
  }
  for (;;) {
    auto s = store.load(id);
    if (!s) {
      report_error(s.error().message);
      return 1;
    }
    std::string status = status_of(*s, store.dir(id));
    if (status == "stopped") {
      if (p.has("stats")) {
        report_error(fmt::format("container \"{}\" is not running", id));
        return 1;
      }
      return 0;
    }
    json ev{{"type", "stats"}, {"id", id}, {"data", {{"pids", {{"current", container_pids(*s).size()}}}}}};
    std::printf("%s\n", ev.dump().c_str());
    std::fflush(stdout);
    if (p.has("stats")) return 0;
    std::this_thread::sleep_for(interval);
  }
}

int cmd_spec(const Parsed& p) {
  std::string bundle = p.get("bundle", ".");
  std::string path = bundle + "/config.json";
  if (access(path.c_str(), F_OK) == 0) {
    report_error(fmt::format("spec: {} already exists", path));
    return 1;
  }
  std::vector<std::string> caps{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  json spec{
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", false}}},
      {"hostname", "lxhost"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"}, {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
        {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"}, {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"}, {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"}, {"options", {"nosuid", "noexec", "nodev", "ro"}}}}},
      {"annotations", {{"io.lxhost.families.net.enabled", "true"}}},
      {"linux",
       {{"maskedPaths", {"/proc/kcore", "/proc/keys", "/sys/firmware"}},
        {"readonlyPaths", {"/proc/sys", "/proc/sysrq-trigger"}}}}};
  spec["linux"]["namespaces"] = json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  std::ofstream f(path);
  f << spec.dump(2) << "\n";
  if (!f.flush()) {
    report_error(fmt::format("spec: writing {}: {}", path, std::strerror(errno)));
    return 1;
  }
  return 0;
}

int cmd_features() {
  json f{{"ociVersionMin", "1.0.0"},
         {"ociVersionMax", "1.1.0"},
         {"hooks", {"prestart", "createRuntime", "createContainer", "poststart", "poststop"}},
         {"mountOptions", {"bind", "rbind", "ro", "rw"}},
         {"linux",
          {{"namespaces", {"pid", "network", "ipc", "uts", "mount"}},
           {"capabilities", json::array()},
           {"cgroup", {{"v1", false}, {"v2", false}, {"systemd", false}, {"systemdUser", false}}},
           {"seccomp",
            {{"enabled", true},
             {"actions", {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                          "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRAP"}},
             {"operators", {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
             {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"}}}},
           {"apparmor", {{"enabled", false}}},
           {"selinux", {{"enabled", false}}}}},
         {"annotations",
          {{"io.lxhost.instance.backend", "kernel, emulated or auto (default: auto when the spec asks for namespaces)"},
           {"io.lxhost.<key>", "any lxhost config key, e.g. io.lxhost.families.net.enabled=false"}}}};
  json caps = json::array();
  for (int c = 0; c <= 40; ++c) {
    static const char* names[] = {"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
                                  "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
                                  "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
                                  "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
                                  "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
                                  "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"};
    caps.push_back(std::string("CAP_") + names[c]);
  }
  f["linux"]["capabilities"] = caps;
  std::printf("%s\n", f.dump(2).c_str());
  return 0;
}

const std::map<std::string, std::string> kCommonAliases{{"b", "bundle"}, {"d", "detach"}, {"f", "force"}, {"a", "all"}};

// create and run.
int cmd_create_run(const StateStore& store, const std::string& cmd, const std::vector<std::string>& rest) {
  Parsed p;
  const auto& common = kCommonAliases;
  std::vector<std::string> flags{"no-pivot", "no-new-keyring", "help"};
  if (cmd == "run") flags.insert(flags.end(), {"detach", "keep", "no-subreaper"});
  if (!parse(rest, 0, flags, {"bundle", "pid-file", "console-socket", "preserve-fds", "pidfd-socket"}, common, p, cmd) ||
      !need_id(p, cmd))
    return 1;
  CreateOptions o;
  o.id = p.args[0];
  o.bundle = p.get("bundle", ".");
  o.pid_file = p.get("pid-file");
  o.console_socket = p.get("console-socket");
  o.preserve_fds = std::atoi(p.get("preserve-fds", "0").c_str());
  o.foreground = cmd == "run" && !p.has("detach");
  o.keep = p.has("keep");
  if (o.preserve_fds < 0 || o.preserve_fds > 4096) {
    report_error(cmd + ": --preserve-fds must be 0 to 4096");
    return 1;
  }
  int rc = create_container(store, o);
  if (rc == 0 && cmd == "run" && !o.foreground) rc = start_container(store, o.id);
  return rc;
}

// exec.
int cmd_exec(const StateStore& store, const std::vector<std::string>& rest) {
  Parsed p;
  const std::string cmd = "exec";
  // --env may repeat: gather every one before the ordinary parse.
  ExecOptions o;
  std::vector<std::string> kept;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if ((a == "--env" || a == "-e") && i + 1 < rest.size()) {
      o.env.push_back(rest[++i]);
    } else if (a.rfind("--env=", 0) == 0) {
      o.env.push_back(a.substr(6));
    } else {
      kept.push_back(a);
      if (a.empty() || a[0] != '-') {  // the id: the rest is the command
        kept.insert(kept.end(), rest.begin() + static_cast<std::ptrdiff_t>(i) + 1, rest.end());
        break;
      }
    }
  }
  if (!parse(kept, 0, {"detach", "tty", "no-new-privs", "ignore-paused"},
             {"process", "console-socket", "pid-file", "cwd", "user", "preserve-fds", "process-label", "apparmor", "cap",
              "cgroup", "pidfd-socket"},
             {{"d", "detach"}, {"t", "tty"}, {"p", "process"}, {"u", "user"}}, p, cmd))
    return 1;
  if (p.args.empty()) {
    report_error("exec: a container id is required");
    return 1;
  }
  for (const char* unsupported : {"process-label", "apparmor", "cap", "cgroup", "pidfd-socket"})
    if (p.has(unsupported)) {
      report_error(fmt::format("exec: --{} is not supported by lxhost-runc", unsupported));
      return 1;
    }
  o.id = p.args[0];
  o.args.assign(p.args.begin() + 1, p.args.end());
  o.process_file = p.get("process");
  o.console_socket = p.get("console-socket");
  o.pid_file = p.get("pid-file");
  o.cwd = p.get("cwd");
  o.user = p.get("user");
  o.detach = p.has("detach");
  o.tty = p.has("tty");
  return exec_container(store, o);
}

int main_impl(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Parsed global;
  if (!parse(args, 0, {"systemd-cgroup", "debug", "help", "version"}, {"root", "log", "log-format", "rootless", "criu"},
             {{"h", "help"}, {"v", "version"}}, global, "lxhost-runc"))
    return 2;
  set_log(global.get("log"), global.get("log-format", "text"));
  if (global.get("log-format", "text") != "text" && global.get("log-format") != "json") {
    report_error("--log-format is text or json");
    return 2;
  }
  if (global.has("version")) {
    std::printf("lxhost-runc version %s\nspec: 1.1.0\n", LXHOST_VERSION);
    return 0;
  }
  if (global.has("help") || global.args.empty() || global.args[0] == "help") {
    std::fputs(kUsage, stdout);
    return global.args.empty() && !global.has("help") ? 2 : 0;
  }
  StateStore store(global.has("root") ? global.get("root") : default_state_root());
  std::string cmd = global.args[0];
  std::vector<std::string> rest(global.args.begin() + 1, global.args.end());
  Parsed p;
  const auto& common = kCommonAliases;
  if (cmd == "create" || cmd == "run") return cmd_create_run(store, cmd, rest);
  if (cmd == "start" || cmd == "state") {
    if (!parse(rest, 0, {}, {}, {}, p, cmd) || !need_id(p, cmd)) return 1;
    return cmd == "start" ? start_container(store, p.args[0]) : cmd_state(store, p.args[0]);
  }
  if (cmd == "kill") {
    if (!parse(rest, 0, {"all"}, {}, common, p, cmd) || !need_id(p, cmd, 2)) return 1;
    int sig = p.args.size() > 1 ? signal_number(p.args[1]) : SIGTERM;
    if (sig < 0) {
      report_error(fmt::format("kill: unknown signal \"{}\"", p.args[1]));
      return 1;
    }
    return kill_container(store, p.args[0], sig, p.has("all"));
  }
  if (cmd == "delete") {
    if (!parse(rest, 0, {"force"}, {}, common, p, cmd) || !need_id(p, cmd)) return 1;
    return delete_container(store, p.args[0], p.has("force"));
  }
  if (cmd == "list") {
    if (!parse(rest, 0, {"quiet"}, {"format"}, {{"f", "format"}, {"q", "quiet"}}, p, cmd)) return 1;
    return cmd_list(store, p);
  }
  if (cmd == "ps") {
    if (!parse(rest, 0, {}, {"format"}, {{"f", "format"}}, p, cmd) || !need_id(p, cmd, 64)) return 1;
    return cmd_ps(store, p);
  }
  if (cmd == "events") {
    if (!parse(rest, 0, {"stats"}, {"interval"}, {}, p, cmd) || !need_id(p, cmd)) return 1;
    return cmd_events(store, p);
  }
  if (cmd == "spec") {
    if (!parse(rest, 0, {"rootless"}, {"bundle"}, common, p, cmd)) return 1;
    return cmd_spec(p);
  }
  if (cmd == "features") return cmd_features();
  if (cmd == "exec") return cmd_exec(store, rest);
  report_error(fmt::format("unknown command \"{}\" (see lxhost-runc --help)", cmd));
  return 2;
}

}  // namespace
}  // namespace lx::oci

int main(int argc, char** argv) {
  try {
    return lx::oci::main_impl(argc, argv);
  } catch (const std::exception& e) {
    lx::oci::report_error(e.what());
    return 1;
  }
}
