// The plan of one launch in an instance: who it runs as (-u USER from the guest's passwd and
// group files, or the distro's root), its argv (a login shell when none is given), environment
// and working directory, from the client's request and the instance's settings. A pure function
// of those and of what GuestFiles says, so it is tested without a guest or a process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "messages.h"

namespace lx::service {

/// One /etc/passwd entry.
struct PasswdEntry {
  std::string name;
  std::uint32_t uid = 0, gid = 0;
  std::string home, shell;
};

/// The entry of `user` (a name, or a numeric uid) in passwd file text `passwd`.
std::optional<PasswdEntry> find_user(std::string_view passwd, const std::string& user);

/// `user`'s groups in group file text `group`: `primary`, then the groups that list the user.
std::vector<std::uint32_t> groups_of(std::string_view group, const std::string& user, std::uint32_t primary);

/// What a plan reads of the host's filesystem (a distro's files through its rootfs).
class GuestFiles {
 public:
  virtual ~GuestFiles() = default;
  /// The contents of file `path`; "" when it cannot be read.
  virtual std::string read(const std::string& path) const = 0;
  /// Why `path` cannot be a working directory ("No such file or directory", "not a directory"),
  /// or nullopt when it can.
  virtual std::optional<std::string> not_a_directory(const std::string& path) const = 0;
};

/// The host's own files.
const GuestFiles& host_files();

/// What a plan knows of its instance.
struct InstanceSettings {
  std::string name;    ///< the instance's ("host", or the distro's)
  std::string rootfs;  ///< "" or "/": the host root
  bool fake_root = false;         ///< [proc] fake_root: the emulated identity (needed by -u)
  bool can_set_identity = false;  ///< the proc plugin offers sdk::LaunchIdentity
  bool guest_cwd = false;  ///< a distro's launch starts inside its root (the kernel backend's
                           ///< mount namespace): its cwd is the guest's path, not the host's
};

/// The ids a launch with -u starts as.
struct LaunchUser {
  std::uint32_t uid = 0, gid = 0;
  std::vector<std::uint32_t> groups;
};

/// What a launch runs, as whom and where.
struct LaunchPlan {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;                 ///< a host path, or the guest's with guest_cwd ("" the instance's own)
  std::optional<LaunchUser> user;  ///< set with -u only
};

/// The plan of `request` in the instance `settings`, reading the guest's /etc/passwd and
/// /etc/group and its directories through `files`. An error names the option at fault (-u,
/// --cd, or the client's working directory); the launch then fails with exit status 125.
Result<LaunchPlan> plan_launch(const InstanceSettings& settings, const RunRequest& request, const GuestFiles& files);

}  // namespace lx::service
