// The config of a container's instance (see instance_config.h).
#include "oci/instance_config.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "base/unique_fd.h"
#include "oci/util.h"

namespace lx::oci {
namespace {

// The host path of guest path `p` of the image at `root`, resolved in it (its symlinks, absolute
// ones too, never lead out: RESOLVE_IN_ROOT); "" when it does not exist.
std::string in_root(const std::string& root, const std::string& p) {
  UniqueFd r(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(r ? static_cast<int>(syscall(SYS_openat2, r.get(), p.c_str(), &how, sizeof how)) : -1);
  if (!fd) return {};
  char buf[PATH_MAX];
  ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd.get())).c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

struct MountLine {
  std::string host, guest;
  bool read_only = false;
};

// The mounts lxhost gives the container: the spec's binds, a private directory per tmpfs, the
// masked paths over an empty directory, the read-only ones bound over themselves read-only, and
// the image's own /tmp (the fs family would otherwise give the host's). With `exact` (the
// kernel backend, which does the spec's own mounts first: exact_mounts_of), the masked and
// read-only paths only.
Result<std::vector<MountLine>> mounts_of(const Spec& s, const std::string& state_dir, bool exact) {
  std::vector<MountLine> out;
  bool tmp_given = exact;
  int scratch = 0;
  for (const auto& m : s.mounts) {
    if (exact) break;
    tmp_given |= m.destination == "/tmp";
    switch (m.kind) {
      case Mount::Kind::kStandard:
        break;
      case Mount::Kind::kBind: {
        struct stat st;
        if (::stat(m.source.c_str(), &st) != 0)
          return Error{errno, fmt::format("mount of {} at {}: {}", m.source, m.destination, std::strerror(errno))};
        if (!S_ISDIR(st.st_mode)) {
          // A file bound over a file: the container sees the source's content at the destination.
          out.push_back({m.source, m.destination, m.read_only});
          break;
        }
        out.push_back({m.source, m.destination, m.read_only});
        break;
      }
      case Mount::Kind::kScratch: {
        std::string dir = fmt::format("{}/tmpfs/{}", state_dir, scratch++);
        std::filesystem::create_directories(dir);
        ::chmod(dir.c_str(), 01777);
        out.push_back({dir, m.destination, m.read_only});
        break;
      }
    }
  }
  if (!tmp_given) {
    struct stat st;
    std::string image_tmp = in_root(s.root, "/tmp");
    if (!image_tmp.empty() && ::stat(image_tmp.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back({image_tmp, "/tmp", false});
    else {
      std::string dir = state_dir + "/tmpfs/tmp";
      std::filesystem::create_directories(dir);
      ::chmod(dir.c_str(), 01777);
      out.push_back({dir, "/tmp", false});
    }
  }
  // Masked paths: a directory under an empty read-only one, a file under /dev/null (read-only).
  // Read-only paths: bound read-only over themselves. /proc and /sys ones are looked up in the
  // host's (the kernel backend's /proc is a procfs of the instance, the emulated backend's the
  // fs family's view of the same files); the others in the image, never out of it.
  std::string empty = state_dir + "/masked";
  std::filesystem::create_directories(empty);
  ::chmod(empty.c_str(), 0555);
  std::vector<std::string> masked_dirs;
  auto under_masked = [&](const std::string& p) {
    return std::any_of(masked_dirs.begin(), masked_dirs.end(), [&](const std::string& d) { return p.rfind(d + "/", 0) == 0; });
  };
  auto host_of = [&](const std::string& p) {
    bool system = p.rfind("/proc/", 0) == 0 || p.rfind("/sys/", 0) == 0;
    return system ? p : in_root(s.root, p);
  };
  for (const auto& p : s.masked_paths) {
    struct stat st;
    std::string host = host_of(p);
    if (host.empty() || under_masked(p) || ::stat(host.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) masked_dirs.push_back(p);
    out.push_back({S_ISDIR(st.st_mode) ? empty : "/dev/null", p, true});
  }
  for (const auto& p : s.readonly_paths) {
    std::string host = host_of(p);
    struct stat st;
    if (host.empty() || under_masked(p) || ::stat(host.c_str(), &st) != 0) continue;
    out.push_back({host, p, true});
  }
  return out;
}

// The backend: what an io.lxhost.instance.backend annotation says; else the kernel backend when
// the spec asks for new namespaces (where the host allows a user namespace: "auto"), the
// emulated one when it asks for none.
std::string backend_of(const Spec& s) {
  auto it = s.annotations.find("io.lxhost.instance.backend");
  if (it != s.annotations.end()) return it->second;
  for (const char* t : {"pid", "mount", "user", "ipc", "uts"})
    if (s.wants_new(t)) return "auto";
  return "emulated";
}

}  // namespace

// Why config key `key` may not be set by an annotation ("" when it may). Whoever writes a pod
// spec writes its annotations: a key that loads code into lxhost-runc's own process (a plugin
// path, the plugin search path) or moves the container's root or mounts onto the host would give
// the container's author what the node's administrator has (the bundle's root and mounts say
// where the container lives).
std::string annotation_refused(const std::string& key) {
  if (key.rfind("plugins.", 0) == 0) return "the plugin search path is the node's, not the container's";
  if (key.rfind("families.", 0) == 0 && key.size() > 7 && key.compare(key.size() - 7, 7, ".plugin") == 0)
    return "which plugin serves a family is the node's choice, not the container's";
  for (const char* k : {"fs.root", "fs.mount", "fs.default_mounts", "fs.metadata_dir", "fs.proc"})
    if (key == k) return "the container's root and mounts come from the bundle (root.path, mounts)";
  return {};
}

std::vector<driver::ExactMount> exact_mounts_of(const Spec& s) {
  std::vector<driver::ExactMount> out;
  for (const auto& m : s.mounts) {
    driver::ExactMount e;
    e.guest = m.destination;
    e.source = m.source;
    e.type = m.type;
    e.bind = m.kind == Mount::Kind::kBind;
    e.recursive = m.recursive;
    e.flags = m.flags;
    e.data = m.data;
    out.push_back(std::move(e));
  }
  return out;
}

Result<config::Config> config_of(const Spec& s, const std::string& state_dir, bool exact_mounts) {
  config::Config c;
  LX_TRY(c.merge_standard_files());
  std::string toml = "[instance]\nbackend = " + toml_string(exact_mounts ? "kernel" : backend_of(s)) + "\n";
  toml += "[fs]\nroot = " + toml_string(s.root) + "\n";
  if (exact_mounts) toml += "default_mounts = false\n";
  LX_TRY_ASSIGN(mounts, mounts_of(s, state_dir, exact_mounts));
  for (const auto& m : mounts)
    toml += fmt::format("[[fs.mount]]\nhost = {}\nguest = {}\nread_only = {}\n", toml_string(m.host), toml_string(m.guest),
                        m.read_only ? "true" : "false");
  toml += "[proc]\n";
  // An ordinary user's container whose process is root, on the emulated backend: root as
  // proot -0 and fakeroot give it (there is no user namespace to make it real).
  if (backend_of(s) == "emulated" && geteuid() != 0 && s.process.uid == 0) toml += "fake_root = true\n";
  if (!s.hostname.empty()) toml += "hostname = " + toml_string(s.hostname) + "\n";
  if (s.pids_limit) toml += fmt::format("max_processes = {}\n", s.pids_limit);
  LX_TRY(c.merge_string(toml, "config.json"));
  for (const auto& set : config_sets_of(s.annotations)) {
    std::string key = set.substr(0, set.find('='));
    if (std::string why = annotation_refused(key); !why.empty())
      return Error{EPERM, fmt::format("annotations: io.lxhost.{}: {}", key, why)};
    auto r = c.apply_set(set);
    if (!r) return Error{EINVAL, fmt::format("annotations: io.lxhost.{}: {}", set.substr(0, set.find('=')), r.error().message)};
  }
  return c;
}

}  // namespace lx::oci
