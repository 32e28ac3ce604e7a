// Where the per-user service keeps its socket, lock and log (the runtime directory) and its
// installed distros (the data directory).
#pragma once

#include <string>

#include "base/result.h"
#include "config/config.h"

namespace lx::service {

/// The service's directories and files for the current user.
struct ServicePaths {
  std::string runtime_dir;  ///< [service] runtime_dir, $XDG_RUNTIME_DIR/lxhost, /run/user/UID/lxhost, /tmp/lxhost-UID
  std::string data_dir;     ///< [service] data_dir, $XDG_DATA_HOME/lxhost, ~/.local/share/lxhost
  std::string socket;       ///< runtime_dir/lxhostd.sock
  std::string lock;         ///< runtime_dir/lxhostd.lock (holds the daemon's pid)
  std::string log;          ///< runtime_dir/lxhostd.log (the daemon's output when started on demand)

  /// The paths for the current user under `config` and the environment.
  static ServicePaths resolve(const config::Config& config);
  /// Creates the runtime directory (mode 0700) and checks that only this user can use it.
  Result<void> prepare_runtime_dir() const;
};

/// The directory holding the running executable (where lx finds lxhostd).
std::string executable_dir();

}  // namespace lx::service
