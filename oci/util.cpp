// lxhost-runc's small helpers (see util.h).
#include "oci/util.h"

#include <pwd.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include <fmt/format.h>

namespace lx::oci {

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

// The options of a mount that are mount(2) flags, set in `flags` (as runc reads them); the
// others (the filesystem's own, "mode=755") joined by commas. Propagation and bind options are
// left out (every mount of the container is private; bind is read by the caller).
std::string mount_options(const std::vector<std::string>& options, unsigned long& flags) {
  static const std::map<std::string, std::pair<bool, unsigned long>> table{
      {"ro", {true, MS_RDONLY}},          {"rw", {false, MS_RDONLY}},         {"nosuid", {true, MS_NOSUID}},
      {"suid", {false, MS_NOSUID}},       {"nodev", {true, MS_NODEV}},        {"dev", {false, MS_NODEV}},
      {"noexec", {true, MS_NOEXEC}},      {"exec", {false, MS_NOEXEC}},       {"sync", {true, MS_SYNCHRONOUS}},
      {"async", {false, MS_SYNCHRONOUS}}, {"dirsync", {true, MS_DIRSYNC}},    {"noatime", {true, MS_NOATIME}},
      {"atime", {false, MS_NOATIME}},     {"nodiratime", {true, MS_NODIRATIME}}, {"diratime", {false, MS_NODIRATIME}},
      {"relatime", {true, MS_RELATIME}},  {"norelatime", {false, MS_RELATIME}}, {"strictatime", {true, MS_STRICTATIME}},
      {"nostrictatime", {false, MS_STRICTATIME}}, {"mand", {true, MS_MANDLOCK}}, {"nomand", {false, MS_MANDLOCK}}};
  static const std::set<std::string> ignored{"bind",   "rbind",   "private", "rprivate",   "shared", "rshared",
                                             "slave",  "rslave",  "unbindable", "runbindable", "remount", "defaults"};
  std::string data;
  for (const auto& o : options) {
    std::string name = o.size() > 1 && o[0] == 'r' && table.count(o.substr(1)) ? o.substr(1) : o;  // rro: ro, recursively
    if (auto it = table.find(name); it != table.end()) {
      if (it->second.first) flags |= it->second.second;
      else flags &= ~it->second.second;
    } else if (!ignored.count(o)) {
      data += (data.empty() ? "" : ",") + o;
    }
  }
  return data;
}

}  // namespace lx::oci
