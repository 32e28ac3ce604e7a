// Delegated subordinate id ranges (see subordinate_ids.h).
#include "base/subordinate_ids.h"

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace lx {

std::optional<SubordinateRange> subordinate_range(const std::string& file, const std::string& user, std::uint32_t id) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string name, start, count;
    if (!std::getline(ls, name, ':') || !std::getline(ls, start, ':') || !std::getline(ls, count)) continue;
    if (name != user && name != std::to_string(id)) continue;
    try {
      SubordinateRange r{static_cast<std::uint32_t>(std::stoul(start)), static_cast<std::uint32_t>(std::stoul(count))};
      if (r.count > 0) return r;
    } catch (...) {
    }
  }
  return std::nullopt;
}

std::string real_user_name() {
  passwd pw{}, *found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found) return pw.pw_name;
  return std::to_string(getuid());
}

}  // namespace lx
