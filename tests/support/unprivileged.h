// Test support: run a guest as an unprivileged user, from any clone, as root or as anyone.
//
// As root, tests drop to uid/gid 65534 with setpriv; the build tree may sit where that user
// cannot reach it (a clone in /root, mode 0700), so reachable() first copies what the user must
// execute or read into a staging directory it can reach. As an ordinary user, the tests' guest
// simply runs as that user, and expectations take its uid from unprivileged_uid().
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace lx::test {

/// Whether tests run as root and can switch to another user (setpriv is there).
bool can_switch_user();

/// The uid the "unprivileged user" of a test runs as: 65534 when root, else the caller's own.
uid_t unprivileged_uid();
/// The gid that goes with unprivileged_uid().
gid_t unprivileged_gid();

/// `argv` run as the unprivileged user: prefixed with setpriv when root, unchanged otherwise.
std::vector<std::string> as_unprivileged(std::vector<std::string> argv);

/// A path to build-tree file or directory `path` that the unprivileged user can read and execute.
/// `path` itself when that user reaches it; otherwise a copy in a staging directory (mode 0755,
/// removed when the test process exits) at the same place relative to the build tree. Staging
/// any of bin/lx, bin/lxhostd or bin/lxhost-runc stages all three and lib/lxhost (their plugins).
std::string reachable(const std::string& path);

/// A fresh private temporary directory under $TMPDIR (else /tmp), removed with everything in
/// it when the object is destroyed. `mode` is applied after creation (0755 to share it).
class TempDir {
 public:
  explicit TempDir(const char* prefix = "lxhost-test", unsigned mode = 0700);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// The directory's absolute path.
  const std::string& path() const noexcept { return path_; }
  /// `path() + "/" + name`.
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace lx::test
