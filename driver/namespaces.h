// The kernel backend's namespaces: whether this host lets the user create a user namespace, and
// the id maps of an instance's user namespace (the full range for root, the user's delegated
// subordinate ranges through Debian's newuidmap/newgidmap, or only the user's own id as 0).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"

namespace lx::driver {

/// "" when this process can create a user namespace (with mount, PID, UTS and IPC namespaces
/// in it, and its own id mapped to 0), else why not ("unshare(CLONE_NEWUSER): Operation not
/// permitted"). Tried in a child process, not guessed.
std::string probe_user_namespace();

/// One line of a uid_map or gid_map: ids [inside, inside+count) are host ids [outside, ...).
struct IdRange {
  std::uint32_t inside = 0;
  std::uint32_t outside = 0;
  std::uint32_t count = 0;
};

/// The id maps of an instance's user namespace and how they are written.
struct IdMaps {
  std::vector<IdRange> uids, gids;
  /// Written by newuidmap/newgidmap (subordinate ranges of an ordinary user); else directly.
  bool helpers = false;
  /// Only the user's own ids are mapped (as 0): setgroups is denied, other owners are emulated.
  bool own_id_only = false;
  /// One line for logs: "full range (root)", "subordinate ranges from /etc/subuid...", ...
  std::string summary;
};

/// The maps for user `uid`/`gid` (name `user`): the full range for root; the user's own id as
/// 0 plus its /etc/subuid and /etc/subgid ranges from 1 when both are delegated and
/// newuidmap/newgidmap are installed; else only the own id as 0. `subuid`/`subgid` name the
/// files (tests point them elsewhere).
IdMaps id_maps_for(uid_t uid, gid_t gid, const std::string& user, const std::string& subuid = "/etc/subuid",
                   const std::string& subgid = "/etc/subgid");

/// id_maps_for this process's real user (its name from the password database, for the files).
IdMaps id_maps_of_this_user();

/// Runs `op` in a child process that is root of a new user namespace mapped with `maps` (as the
/// kernel backend's instances are), and returns its result: for the store's work on a distro
/// whose files kernel-backend guests gave subordinate ids with modes that shut the user out
/// (apt's partial directory, _apt's and 0700), which only the namespace's root may read or
/// remove. The child is forked from a possibly multi-threaded process: `op` must not wait for
/// another thread of it.
Result<void> run_in_user_namespace(const IdMaps& maps, const std::function<Result<void>()>& op);

/// Writes `maps` for process `pid` (which has just unshared its user namespace).
Result<void> write_id_maps(pid_t pid, const IdMaps& maps);

}  // namespace lx::driver
