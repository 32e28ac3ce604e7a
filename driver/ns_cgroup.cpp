// An instance's pids cgroup (see ns_cgroup.h).
#include "driver/ns_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "base/write_text.h"

namespace lx::driver {
namespace {

constexpr const char* kV2 = "/sys/fs/cgroup";
constexpr const char* kV1 = "/sys/fs/cgroup/pids";
constexpr const char* kPrefix = "lxhost-instance-";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w)
    if (w == word) return true;
  return false;
}

// Removes the empty cgroups earlier instances left (a crash of the process that owned them).
void remove_stale(const std::string& root) {
  DIR* d = opendir(root.c_str());
  if (!d) return;
  while (dirent* e = readdir(d))
    if (std::strncmp(e->d_name, kPrefix, std::strlen(kPrefix)) == 0) rmdir((root + "/" + e->d_name).c_str());
  closedir(d);
}

}  // namespace

std::string pids_cgroup_root() {
  if (geteuid() != 0) return "";
  std::string v2 = std::string(kV2) + "/cgroup.controllers";
  if (access(v2.c_str(), F_OK) == 0) {
    if (!has_word(slurp(v2), "pids") || access(kV2, W_OK) != 0) return "";
    // Children of this cgroup get the controller only where it may be enabled (a container's
    // cgroup namespace whose root holds processes refuses it: EBUSY).
    std::string control = std::string(kV2) + "/cgroup.subtree_control";
    return has_word(slurp(control), "pids") || write_text(control, "+pids") == 0 ? kV2 : "";
  }
  return access((std::string(kV1) + "/tasks").c_str(), W_OK) == 0 ? kV1 : "";
}

Result<PidsCgroup> PidsCgroup::create(pid_t init, std::uint64_t max) {
  std::string root = pids_cgroup_root();
  if (root.empty()) return Error{ENOTSUP, "no pids cgroup this process may create (cgroup v2 with pids, or v1's pids hierarchy)"};
  remove_stale(root);
  PidsCgroup cg;
  std::string path = fmt::format("{}/{}{}", root, kPrefix, init);
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return Error::from_errno("mkdir " + path);
  cg.path_ = path;
  if (int e = write_text(path + "/pids.max", std::to_string(max + 1)); e != 0) return Error::from_errno(path + "/pids.max", e);
  if (int e = write_text(path + "/cgroup.procs", std::to_string(init)); e != 0)
    return Error::from_errno(fmt::format("moving init (pid {}) into {}", init, path), e);
  return cg;
}

PidsCgroup& PidsCgroup::operator=(PidsCgroup&& o) noexcept {
  if (this != &o) {
    remove();
    path_ = std::move(o.path_);
    o.path_.clear();
  }
  return *this;
}

PidsCgroup::~PidsCgroup() { remove(); }

void PidsCgroup::remove() noexcept {
  if (path_.empty()) return;
  for (int i = 0; i < 100 && rmdir(path_.c_str()) != 0 && errno == EBUSY; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  path_.clear();
}

}  // namespace lx::driver
