// lxhost-runc's small helpers (see util.h).
#include "oci/util.h"

#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

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

}  // namespace lx::oci
