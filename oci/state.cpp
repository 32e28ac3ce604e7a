// lxhost-runc's state directory (see state.h).
#include "oci/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lx::oci {

using nlohmann::json;

namespace {

// Fields of /proc/PID/stat after the command: state is [0], ppid [1], starttime [19].
std::vector<std::string> stat_fields(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::size_t at = text.rfind(')');
  std::vector<std::string> out;
  if (at == std::string::npos) return out;
  std::istringstream in(text.substr(at + 1));
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

}  // namespace

unsigned long long start_time_of(pid_t pid) {
  auto f = stat_fields(pid);
  return f.size() > 19 ? std::strtoull(f[19].c_str(), nullptr, 10) : 0;
}

bool process_running(pid_t pid, unsigned long long start) {
  if (pid <= 0) return false;
  auto f = stat_fields(pid);
  if (f.size() <= 19 || f[0] == "Z" || f[0] == "X") return false;
  return start == 0 || std::strtoull(f[19].c_str(), nullptr, 10) == start;
}

std::vector<pid_t> descendants_of(pid_t pid) {
  std::multimap<pid_t, pid_t> children;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      char* end;
      long p = std::strtol(e->d_name, &end, 10);
      if (*end || p <= 0) continue;
      auto f = stat_fields(static_cast<pid_t>(p));
      if (f.size() > 1) children.emplace(static_cast<pid_t>(std::atol(f[1].c_str())), static_cast<pid_t>(p));
    }
    closedir(d);
  }
  std::vector<pid_t> out;
  std::vector<pid_t> todo{pid};
  for (std::size_t i = 0; i < todo.size(); ++i) {
    auto [b, e] = children.equal_range(todo[i]);
    for (auto it = b; it != e; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  return out;
}

bool is_namespace_init(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("NSpid:", 0) == 0) {
      std::istringstream in(line.substr(6));
      std::vector<std::string> ids;
      std::string w;
      while (in >> w) ids.push_back(w);
      return ids.size() > 1 && ids.back() == "1";
    }
  return false;
}

pid_t namespace_init_of(pid_t monitor) {
  for (pid_t p : descendants_of(monitor))
    if (is_namespace_init(p)) return p;
  return 0;
}

std::string status_of(const State& s, const std::string& dir) {
  if (s.pid <= 0) return "creating";
  if (!process_running(s.pid, s.start_time)) return "stopped";
  struct stat st;
  return ::stat((dir + "/started").c_str(), &st) == 0 ? "running" : "created";
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 1024 || id[0] == '.') return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

namespace {

// Whether this process runs in the initial user namespace (its uid_map maps every id).
bool initial_user_namespace() {
  std::ifstream f("/proc/self/uid_map");
  unsigned long long inside = 1, outside = 1, count = 0;
  f >> inside >> outside >> count;
  return inside == 0 && outside == 0 && count == 4294967295ull;
}

}  // namespace

std::string default_state_root() {
  const char* x = std::getenv("XDG_RUNTIME_DIR");
  // Root of the host; root of a rootless podman's user namespace has the user's runtime dir.
  if (geteuid() == 0 && (initial_user_namespace() || !x || *x != '/')) return "/run/lxhost-runc";
  if (x && *x == '/') return std::string(x) + "/lxhost-runc";
  return fmt::format("/tmp/lxhost-runc-{}", geteuid());
}

Result<std::string> StateStore::create_dir(const std::string& id) const {
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) return Error{ec.value(), fmt::format("creating the state root {}: {}", root_, ec.message())};
  ::chmod(root_.c_str(), 0700);
  std::string d = dir(id);
  if (::mkdir(d.c_str(), 0700) != 0) {
    if (errno == EEXIST) return Error{EEXIST, fmt::format("container \"{}\" already exists", id)};
    return Error::from_errno("mkdir " + d);
  }
  return d;
}

Result<void> StateStore::save(const State& s) const {
  json j{{"id", s.id},         {"bundle", s.bundle},       {"rootfs", s.rootfs},       {"created", s.created},
         {"owner", s.owner},   {"pid", s.pid},             {"start_time", s.start_time}, {"backend", s.backend},
         {"annotations", s.annotations}};
  std::string tmp = dir(s.id) + "/state.json.tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump(1);
    if (!f.flush()) return Error::from_errno("writing " + tmp);
  }
  if (::rename(tmp.c_str(), (dir(s.id) + "/state.json").c_str()) != 0) return Error::from_errno("rename " + tmp);
  return ok();
}

Result<State> StateStore::load(const std::string& id) const {
  if (!valid_id(id)) return Error{EINVAL, fmt::format("\"{}\" is not a container id", id)};
  std::ifstream f(dir(id) + "/state.json");
  if (!f) {
    struct stat st;
    if (::stat(dir(id).c_str(), &st) == 0) {
      State s;  // being created: the directory exists, its state not yet
      s.id = id;
      return s;
    }
    return Error{ENOENT, fmt::format("container \"{}\" does not exist", id)};
  }
  json j = json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error{EBADMSG, fmt::format("the state of container \"{}\" is damaged", id)};
  State s;
  s.id = id;
  s.bundle = j.value("bundle", "");
  s.rootfs = j.value("rootfs", "");
  s.created = j.value("created", "");
  s.owner = j.value("owner", "");
  s.pid = j.value("pid", 0);
  s.start_time = j.value("start_time", 0ull);
  s.backend = j.value("backend", "");
  if (j.contains("annotations") && j["annotations"].is_object())
    for (const auto& [k, v] : j["annotations"].items())
      if (v.is_string()) s.annotations[k] = v.get<std::string>();
  return s;
}

Result<void> StateStore::remove(const std::string& id) const {
  std::error_code ec;
  std::filesystem::remove_all(dir(id), ec);
  if (ec) return Error{ec.value(), fmt::format("removing {}: {}", dir(id), ec.message())};
  return ok();
}

std::vector<std::string> StateStore::list() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root_, ec))
    if (e.is_directory(ec) && valid_id(e.path().filename().string())) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string state_json(const State& s, const std::string& status, bool pretty) {
  json j{{"ociVersion", "1.0.2"}, {"id", s.id}, {"status", status}, {"bundle", s.bundle}};
  if (status == "created" || status == "running") j["pid"] = s.pid;
  else j["pid"] = 0;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  j["owner"] = s.owner;
  j["annotations"] = s.annotations;
  return pretty ? j.dump(2) : j.dump();
}

}  // namespace lx::oci
