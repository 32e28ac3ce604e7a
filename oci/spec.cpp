// Reading config.json (see spec.h).
#include "oci/spec.h"

#include <linux/capability.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "oci/util.h"

namespace lx::oci {
namespace {

using nlohmann::json;

// A field error: "config.json: FIELD: WHY".
Error field_error(const std::string& field, const std::string& why) { return Error{EINVAL, field + ": " + why}; }

// Type checks, each naming the field.
Result<std::string> as_string(const json& j, const std::string& field) {
  if (!j.is_string()) return field_error(field, "must be a string");
  return j.get<std::string>();
}
Result<bool> as_bool(const json& j, const std::string& field) {
  if (!j.is_boolean()) return field_error(field, "must be true or false");
  return j.get<bool>();
}
Result<std::uint64_t> as_uint(const json& j, const std::string& field) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<std::int64_t>() >= 0))
    return field_error(field, "must be a non-negative integer");
  return j.get<std::uint64_t>();
}
Result<std::uint32_t> as_u32(const json& j, const std::string& field) {
  LX_TRY_ASSIGN(v, as_uint(j, field));
  if (v > 0xffffffffull) return field_error(field, "is out of range");
  return static_cast<std::uint32_t>(v);
}
Result<std::vector<std::string>> as_strings(const json& j, const std::string& field) {
  if (!j.is_array()) return field_error(field, "must be an array of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    LX_TRY_ASSIGN(s, as_string(j[i], fmt::format("{}[{}]", field, i)));
    out.push_back(std::move(s));
  }
  return out;
}
Result<void> object(const json& j, const std::string& field) {
  if (!j.is_object()) return field_error(field, "must be an object");
  return ok();
}
// Refuses a key of `j` that is not in `known` (nor a vendor extension lxhost ignores by name).
Result<void> only_keys(const json& j, const std::string& field, std::initializer_list<std::string_view> known,
                       std::string_view why = "is not supported by lxhost-runc") {
  for (const auto& [k, v] : j.items()) {
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    if (v.is_null()) continue;
    std::string name = field.empty() ? k : field + "." + k;
    return field_error(name, std::string(why));
  }
  return ok();
}

bool absolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

// "a/../b" and the like are refused in guest paths: a destination names one place.
bool clean_guest_path(const std::string& p) {
  if (!absolute(p)) return false;
  std::size_t i = 0;
  while (i < p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string_view c(p.data() + i, j - i);
    if (c == "..") return false;
    i = j + 1;
  }
  return true;
}

constexpr std::array<std::pair<std::string_view, int>, 16> kRlimits{{
    {"RLIMIT_AS", RLIMIT_AS},         {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},     {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},   {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
}};

constexpr std::array<std::string_view, 41> kCapNames{
    "chown",          "dac_override", "dac_read_search", "fowner",           "fsetid",          "kill",
    "setgid",         "setuid",       "setpcap",         "linux_immutable",  "net_bind_service", "net_broadcast",
    "net_admin",      "net_raw",      "ipc_lock",        "ipc_owner",        "sys_module",      "sys_rawio",
    "sys_chroot",     "sys_ptrace",   "sys_pacct",       "sys_admin",        "sys_boot",        "sys_nice",
    "sys_resource",   "sys_time",     "sys_tty_config",  "mknod",            "lease",           "audit_write",
    "audit_control",  "setfcap",      "mac_override",    "mac_admin",        "syslog",          "wake_alarm",
    "block_suspend",  "audit_read",   "perfmon",         "bpf",              "checkpoint_restore"};

Result<std::uint64_t> capability_mask(const json& j, const std::string& field) {
  LX_TRY_ASSIGN(names, as_strings(j, field));
  std::uint64_t mask = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    int c = capability_number(names[i]);
    if (c < 0) return field_error(fmt::format("{}[{}]", field, i), "unknown capability \"" + names[i] + "\"");
    mask |= 1ull << c;
  }
  return mask;
}

Result<std::vector<Hook>> parse_hooks(const json& j, const std::string& field) {
  if (!j.is_array()) return field_error(field, "must be an array of hooks");
  std::vector<Hook> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    std::string f = fmt::format("{}[{}]", field, i);
    LX_TRY(object(j[i], f));
    LX_TRY(only_keys(j[i], f, {"path", "args", "env", "timeout"}));
    Hook h;
    if (!j[i].contains("path")) return field_error(f + ".path", "is required");
    LX_TRY_ASSIGN(path, as_string(j[i]["path"], f + ".path"));
    if (!absolute(path)) return field_error(f + ".path", "must be an absolute path");
    h.path = path;
    if (j[i].contains("args")) LX_TRY_ASSIGN_TO(h.args, as_strings(j[i]["args"], f + ".args"));
    if (j[i].contains("env")) LX_TRY_ASSIGN_TO(h.env, as_strings(j[i]["env"], f + ".env"));
    if (j[i].contains("timeout")) {
      LX_TRY_ASSIGN(t, as_uint(j[i]["timeout"], f + ".timeout"));
      if (t == 0 || t > 86400) return field_error(f + ".timeout", "must be 1 to 86400 seconds");
      h.timeout = static_cast<int>(t);
    }
    out.push_back(std::move(h));
  }
  return out;
}

// mounts[i]: what lxhost can give: a bind mount of a host path, a private directory for a tmpfs,
// or the instance's own proc/sys/dev/devpts/mqueue/cgroup at their usual places.
Result<Mount> parse_mount(const json& j, const std::string& f, const std::string& bundle) {
  LX_TRY(object(j, f));
  LX_TRY(only_keys(j, f, {"destination", "type", "source", "options", "uidMappings", "gidMappings"}));
  if (j.contains("uidMappings") || j.contains("gidMappings"))
    return field_error(f + ".uidMappings", "id-mapped mounts are not supported by lxhost-runc");
  Mount m;
  if (!j.contains("destination")) return field_error(f + ".destination", "is required");
  LX_TRY_ASSIGN(dest, as_string(j["destination"], f + ".destination"));
  if (!clean_guest_path(dest)) return field_error(f + ".destination", "must be an absolute path without \"..\"");
  while (dest.size() > 1 && dest.back() == '/') dest.pop_back();
  m.destination = dest;
  std::string type, source;
  if (j.contains("type")) LX_TRY_ASSIGN_TO(type, as_string(j["type"], f + ".type"));
  if (j.contains("source")) LX_TRY_ASSIGN_TO(source, as_string(j["source"], f + ".source"));
  std::vector<std::string> options;
  if (j.contains("options")) LX_TRY_ASSIGN_TO(options, as_strings(j["options"], f + ".options"));
  bool bind = type == "bind" || type == "rbind";
  m.recursive = type == "rbind";
  for (const auto& o : options) {
    if (o == "bind" || o == "rbind") bind = true;
    if (o == "rbind") m.recursive = true;
    if (o == "ro") m.read_only = true;
    if (o == "rw") m.read_only = false;
  }
  m.type = bind ? "" : type;
  m.source = source;
  m.data = mount_options(options, m.flags);
  if (bind) {
    if (source.empty()) return field_error(f + ".source", "a bind mount needs a source");
    m.kind = Mount::Kind::kBind;
    m.source = absolute(source) ? source : bundle + "/" + source;
    return m;
  }
  static const std::set<std::string> standard{"proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"};
  if (standard.count(type)) {
    static const std::map<std::string, std::string> where{{"proc", "/proc"},       {"sysfs", "/sys"},
                                                          {"devpts", "/dev/pts"},  {"mqueue", "/dev/mqueue"},
                                                          {"cgroup", "/sys/fs/cgroup"}, {"cgroup2", "/sys/fs/cgroup"}};
    if (where.at(type) != dest)
      return field_error(f + ".destination", fmt::format("a {} mount is given at {} only, not at {}", type, where.at(type), dest));
    m.kind = Mount::Kind::kStandard;
    return m;
  }
  if (type == "tmpfs") {
    m.kind = dest == "/dev" ? Mount::Kind::kStandard : Mount::Kind::kScratch;
    return m;
  }
  return field_error(f + ".type", fmt::format("\"{}\" mounts are not supported by lxhost-runc (bind, tmpfs, proc, sysfs, "
                                              "devpts, mqueue, cgroup)",
                                              type));
}

// linux.namespaces.
Result<std::vector<Namespace>> parse_namespaces(const json& ns) {
  std::vector<Namespace> out;
  if (!ns.is_array()) return field_error("linux.namespaces", "must be an array");
  static const std::set<std::string> types{"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"};
  std::set<std::string> seen;
  for (std::size_t i = 0; i < ns.size(); ++i) {
    std::string f = fmt::format("linux.namespaces[{}]", i);
    LX_TRY(object(ns[i], f));
    LX_TRY(only_keys(ns[i], f, {"type", "path"}));
    if (!ns[i].contains("type")) return field_error(f + ".type", "is required");
    Namespace n;
    LX_TRY_ASSIGN_TO(n.type, as_string(ns[i]["type"], f + ".type"));
    if (!types.count(n.type)) return field_error(f + ".type", "unknown namespace type \"" + n.type + "\"");
    if (!seen.insert(n.type).second) return field_error(f + ".type", "\"" + n.type + "\" is listed twice");
    if (ns[i].contains("path")) LX_TRY_ASSIGN_TO(n.path, as_string(ns[i]["path"], f + ".path"));
    if (!n.path.empty() && !absolute(n.path)) return field_error(f + ".path", "must be an absolute path");
    if (!n.path.empty() && n.type != "network" && n.type != "ipc" && n.type != "uts")
      return field_error(f + ".path", "joining an existing " + n.type +
                                          " namespace is not supported by lxhost-runc (network, ipc and uts only)");
    out.push_back(std::move(n));
  }
  return out;
}

Result<void> parse_linux(const json& l, Spec& s) {
  LX_TRY(object(l, "linux"));
  LX_TRY(only_keys(l, "linux",
                   {"namespaces", "uidMappings", "gidMappings", "sysctl", "maskedPaths", "readonlyPaths", "seccomp",
                    "resources", "cgroupsPath", "rootfsPropagation", "devices", "mountLabel"}));
  if (l.contains("namespaces")) LX_TRY_ASSIGN_TO(s.namespaces, parse_namespaces(l["namespaces"]));
  for (const char* k : {"uidMappings", "gidMappings"})
    if (l.contains(k) && !(l[k].is_array() && l[k].empty()))
      return field_error(std::string("linux.") + k,
                         "lxhost-runc maps ids itself (the kernel backend maps the user's subordinate range); "
                         "remove the user namespace's mappings");
  if (l.contains("sysctl")) {
    LX_TRY(object(l["sysctl"], "linux.sysctl"));
    for (const auto& [k, v] : l["sysctl"].items()) {
      LX_TRY_ASSIGN(value, as_string(v, "linux.sysctl." + k));
      if (k.rfind("net.", 0) != 0 || k.find("..") != std::string::npos || k.find('/') != std::string::npos)
        return field_error("linux.sysctl." + k, "only net.* sysctls (set in the container's network namespace) are supported");
      s.sysctl[k] = value;
    }
  }
  for (const char* k : {"maskedPaths", "readonlyPaths"}) {
    if (!l.contains(k)) continue;
    LX_TRY_ASSIGN(paths, as_strings(l[k], std::string("linux.") + k));
    for (std::size_t i = 0; i < paths.size(); ++i)
      if (!clean_guest_path(paths[i]))
        return field_error(fmt::format("linux.{}[{}]", k, i), "must be an absolute path without \"..\"");
    (std::string(k) == "maskedPaths" ? s.masked_paths : s.readonly_paths) = std::move(paths);
  }
  if (l.contains("seccomp") && !l["seccomp"].is_null()) {
    LX_TRY(object(l["seccomp"], "linux.seccomp"));
    s.seccomp = l["seccomp"];
  }
  if (l.contains("resources")) {
    const json& r = l["resources"];
    LX_TRY(object(r, "linux.resources"));
    // Device rules concern device cgroups; lxhost's guests reach the devices of the instance's
    // /dev, which the fs family gives (the usual character devices), so they are read, not applied.
    // cpu.shares at the default weight (containerd writes 1024) asks nothing of a cgroup.
    if (r.contains("cpu") && r["cpu"].is_object()) {
      for (const auto& [k, v] : r["cpu"].items()) {
        bool default_weight = k == "shares" && v.is_number_unsigned() && (v.get<std::uint64_t>() == 1024 || v.get<std::uint64_t>() == 0);
        if (!default_weight && !v.is_null())
          return field_error("linux.resources.cpu." + k, "is not supported by lxhost-runc: it places containers in no cgroup");
      }
    }
    LX_TRY(only_keys(r, "linux.resources", {"devices", "pids", "cpu"},
                     "is not supported by lxhost-runc: it places containers in no cgroup (pids.limit is applied "
                     "as the instance's process limit)"));
    if (r.contains("pids")) {
      LX_TRY(object(r["pids"], "linux.resources.pids"));
      LX_TRY(only_keys(r["pids"], "linux.resources.pids", {"limit"}));
      if (r["pids"].contains("limit")) {
        const json& lim = r["pids"]["limit"];
        if (lim.is_number_integer() && lim.get<std::int64_t>() <= 0) s.pids_limit = 0;  // -1/0: unlimited
        else LX_TRY_ASSIGN_TO(s.pids_limit, as_uint(lim, "linux.resources.pids.limit"));
      }
    }
  }
  if (l.contains("devices") && !(l["devices"].is_array() && l["devices"].empty()))
    return field_error("linux.devices", "creating device nodes is not supported by lxhost-runc");
  return ok();
}

}  // namespace

int capability_number(std::string name) {
  for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (name.rfind("cap_", 0) == 0) name = name.substr(4);
  for (std::size_t i = 0; i < kCapNames.size(); ++i)
    if (kCapNames[i] == name) return static_cast<int>(i);
  return -1;
}

bool Spec::wants_new(const std::string& type) const {
  for (const auto& n : namespaces)
    if (n.type == type && n.path.empty()) return true;
  return false;
}

std::string Spec::join_path(const std::string& type) const {
  for (const auto& n : namespaces)
    if (n.type == type) return n.path;
  return "";
}

// process.user, into `out`.
Result<void> parse_user(const json& u, const std::string& what, Process& out) {
  auto f = [&](const char* k) { return what + "." + k; };
  LX_TRY(object(u, f("user")));
  LX_TRY(only_keys(u, f("user"), {"uid", "gid", "umask", "additionalGids", "username"}));
  if (u.contains("uid")) LX_TRY_ASSIGN_TO(out.uid, as_u32(u["uid"], f("user") + ".uid"));
  if (u.contains("gid")) LX_TRY_ASSIGN_TO(out.gid, as_u32(u["gid"], f("user") + ".gid"));
  if (u.contains("umask")) {
    LX_TRY_ASSIGN(m, as_uint(u["umask"], f("user") + ".umask"));
    if (m > 0777) return field_error(f("user") + ".umask", "must be at most 0777");
    out.umask = static_cast<mode_t>(m);
  }
  if (u.contains("additionalGids")) {
    if (!u["additionalGids"].is_array()) return field_error(f("user") + ".additionalGids", "must be an array");
    for (std::size_t i = 0; i < u["additionalGids"].size(); ++i) {
      LX_TRY_ASSIGN(g, as_u32(u["additionalGids"][i], fmt::format("{}.user.additionalGids[{}]", what, i)));
      out.additional_gids.push_back(g);
    }
  }
  return ok();
}

// process.capabilities, into `out` (after process.user: ambient ones are taken for root only).
Result<void> parse_capabilities(const json& c, const std::string& what, Process& out) {
  auto f = [&](const char* k) { return what + "." + k; };
  LX_TRY(object(c, f("capabilities")));
  LX_TRY(only_keys(c, f("capabilities"), {"bounding", "effective", "permitted", "inheritable", "ambient"}));
  std::uint64_t bounding = ~0ull;
  if (c.contains("bounding")) LX_TRY_ASSIGN_TO(bounding, capability_mask(c["bounding"], f("capabilities") + ".bounding"));
  // A root process's capabilities after exec are its bounding set: the other sets may only
  // name capabilities within it (as they do in every spec podman, containerd and runc write).
  for (const char* k : {"effective", "permitted", "inheritable"}) {
    if (!c.contains(k)) continue;
    LX_TRY_ASSIGN(m, capability_mask(c[k], f("capabilities") + "." + k));
    if (m & ~bounding)
      return field_error(f("capabilities") + "." + k, "names a capability outside the bounding set");
    if (std::string(k) == "inheritable") out.inheritable = m;
  }
  if (c.contains("ambient")) {
    LX_TRY_ASSIGN(m, capability_mask(c["ambient"], f("capabilities") + ".ambient"));
    // Raised for root (its capabilities after exec are its bounding set anyway: they show in
    // CapAmb). Another user's would be kept across its change of uid, which lxhost-runc does not do.
    if (m & ~bounding) return field_error(f("capabilities") + ".ambient", "names a capability outside the bounding set");
    if (m != 0 && out.uid != 0)
      return field_error(f("capabilities") + ".ambient", "ambient capabilities of a user other than root are not supported by lxhost-runc");
    out.ambient = m;
  }
  if (c.contains("bounding")) out.bounding = bounding;
  return ok();
}

Result<Process> parse_process(const json& p, const std::string& what) {
  if (!p.is_object()) return field_error(what, "must be an object");
  LX_TRY(only_keys(p, what,
                   {"terminal", "consoleSize", "args", "env", "cwd", "user", "rlimits", "capabilities",
                    "noNewPrivileges", "apparmorProfile", "selinuxLabel", "oomScoreAdj", "commandLine"}));
  Process out;
  auto f = [&](const char* k) { return what + "." + k; };
  if (p.contains("apparmorProfile") && !p["apparmorProfile"].is_null() &&
      !(p["apparmorProfile"].is_string() && p["apparmorProfile"].get<std::string>().empty()))
    return field_error(f("apparmorProfile"), "AppArmor is not supported by lxhost-runc");
  if (p.contains("selinuxLabel") && !(p["selinuxLabel"].is_string() && p["selinuxLabel"].get<std::string>().empty()))
    return field_error(f("selinuxLabel"), "SELinux labels are not supported by lxhost-runc");
  if (p.contains("terminal")) LX_TRY_ASSIGN_TO(out.terminal, as_bool(p["terminal"], f("terminal")));
  if (!p.contains("args")) return field_error(f("args"), "is required");
  LX_TRY_ASSIGN_TO(out.args, as_strings(p["args"], f("args")));
  if (out.args.empty()) return field_error(f("args"), "must name a program");
  if (p.contains("env")) LX_TRY_ASSIGN_TO(out.env, as_strings(p["env"], f("env")));
  for (std::size_t i = 0; i < out.env.size(); ++i)
    if (out.env[i].find('=') == std::string::npos || out.env[i][0] == '=')
      return field_error(fmt::format("{}.env[{}]", what, i), "must be NAME=VALUE");
  if (!p.contains("cwd")) return field_error(f("cwd"), "is required");
  LX_TRY_ASSIGN_TO(out.cwd, as_string(p["cwd"], f("cwd")));
  if (!absolute(out.cwd)) return field_error(f("cwd"), "must be an absolute path");
  if (p.contains("user")) LX_TRY(parse_user(p["user"], what, out));
  if (p.contains("rlimits")) {
    const json& r = p["rlimits"];
    if (!r.is_array()) return field_error(f("rlimits"), "must be an array");
    for (std::size_t i = 0; i < r.size(); ++i) {
      std::string rf = fmt::format("{}.rlimits[{}]", what, i);
      LX_TRY(object(r[i], rf));
      LX_TRY(only_keys(r[i], rf, {"type", "soft", "hard"}));
      if (!r[i].contains("type") || !r[i].contains("soft") || !r[i].contains("hard"))
        return field_error(rf, "needs type, soft and hard");
      LX_TRY_ASSIGN(type, as_string(r[i]["type"], rf + ".type"));
      auto it = std::find_if(kRlimits.begin(), kRlimits.end(), [&](const auto& e) { return e.first == type; });
      if (it == kRlimits.end()) return field_error(rf + ".type", "unknown rlimit \"" + type + "\"");
      Rlimit rl;
      rl.resource = it->second;
      LX_TRY_ASSIGN_TO(rl.soft, as_uint(r[i]["soft"], rf + ".soft"));
      LX_TRY_ASSIGN_TO(rl.hard, as_uint(r[i]["hard"], rf + ".hard"));
      if (rl.soft > rl.hard) return field_error(rf, "soft is above hard");
      out.rlimits.push_back(rl);
    }
  }
  if (p.contains("capabilities")) LX_TRY(parse_capabilities(p["capabilities"], what, out));
  if (p.contains("noNewPrivileges")) LX_TRY_ASSIGN_TO(out.no_new_privileges, as_bool(p["noNewPrivileges"], f("noNewPrivileges")));
  if (p.contains("oomScoreAdj")) {
    if (!p["oomScoreAdj"].is_number_integer() || p["oomScoreAdj"].get<std::int64_t>() < -1000 ||
        p["oomScoreAdj"].get<std::int64_t>() > 1000)
      return field_error(f("oomScoreAdj"), "must be an integer from -1000 to 1000");
    out.oom_score_adj = p["oomScoreAdj"].get<int>();
  }
  if (p.contains("commandLine")) return field_error(f("commandLine"), "is for Windows");
  return out;
}

Result<Spec> parse_spec(const std::string& json_text, const std::string& bundle) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error{EINVAL, "config.json is not valid JSON"};
  LX_TRY(object(j, "config.json"));
  Spec s;
  s.bundle = bundle;
  LX_TRY(only_keys(j, "", {"ociVersion", "process", "root", "hostname", "domainname", "mounts", "hooks", "annotations",
                           "linux"}));
  if (!j.contains("ociVersion")) return field_error("ociVersion", "is required");
  LX_TRY_ASSIGN_TO(s.oci_version, as_string(j["ociVersion"], "ociVersion"));
  if (s.oci_version.rfind("1.", 0) != 0)
    return field_error("ociVersion", "\"" + s.oci_version + "\" is not a runtime-spec 1.x version");
  if (!j.contains("process")) return field_error("process", "is required (lxhost-runc starts the process at create)");
  LX_TRY_ASSIGN_TO(s.process, parse_process(j["process"], "process"));
  if (!j.contains("root")) return field_error("root", "is required");
  LX_TRY(object(j["root"], "root"));
  LX_TRY(only_keys(j["root"], "root", {"path", "readonly"}));
  if (!j["root"].contains("path")) return field_error("root.path", "is required");
  LX_TRY_ASSIGN(root, as_string(j["root"]["path"], "root.path"));
  if (root.empty()) return field_error("root.path", "must not be empty");
  s.root = absolute(root) ? root : bundle + "/" + root;
  if (j["root"].contains("readonly")) LX_TRY_ASSIGN_TO(s.root_readonly, as_bool(j["root"]["readonly"], "root.readonly"));
  if (j.contains("hostname")) LX_TRY_ASSIGN_TO(s.hostname, as_string(j["hostname"], "hostname"));
  if (j.contains("domainname") && !(j["domainname"].is_string() && j["domainname"].get<std::string>().empty()))
    return field_error("domainname", "setting the NIS domain name is not supported by lxhost-runc");
  if (j.contains("mounts")) {
    if (!j["mounts"].is_array()) return field_error("mounts", "must be an array");
    for (std::size_t i = 0; i < j["mounts"].size(); ++i) {
      LX_TRY_ASSIGN(m, parse_mount(j["mounts"][i], fmt::format("mounts[{}]", i), bundle));
      s.mounts.push_back(std::move(m));
    }
  }
  if (j.contains("hooks")) {
    LX_TRY(object(j["hooks"], "hooks"));
    LX_TRY(only_keys(j["hooks"], "hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                                           "poststop"}));
    for (const auto& [k, v] : j["hooks"].items()) {
      LX_TRY_ASSIGN(hooks, parse_hooks(v, "hooks." + k));
      // prestart is the deprecated name of createRuntime, run at the same point.
      auto& into = s.hooks[k == "prestart" ? "createRuntime" : k];
      into.insert(into.end(), hooks.begin(), hooks.end());
    }
  }
  if (j.contains("annotations")) {
    LX_TRY(object(j["annotations"], "annotations"));
    for (const auto& [k, v] : j["annotations"].items()) {
      LX_TRY_ASSIGN(value, as_string(v, "annotations." + k));
      s.annotations[k] = value;
    }
  }
  if (j.contains("linux")) LX_TRY(parse_linux(j["linux"], s));
  if (!s.hostname.empty() && !s.wants_new("uts") && s.join_path("uts").empty())
    return field_error("hostname", "needs a uts namespace in linux.namespaces");
  return s;
}

std::vector<std::string> config_sets_of(const std::map<std::string, std::string>& annotations) {
  std::vector<std::string> sets;
  const std::string prefix = "io.lxhost.";
  for (const auto& [k, v] : annotations)
    if (k.rfind(prefix, 0) == 0 && k.size() > prefix.size()) sets.push_back(k.substr(prefix.size()) + "=" + v);
  return sets;
}

}  // namespace lx::oci
