// lxhostd: the per-user service (the LXSS Manager of lxhost). It listens on a Unix socket,
// checks every peer's uid, owns the instances (one process per running distro) and the install
// state, and serializes installs and uninstalls.
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "service_paths.h"

namespace lx::service {

/// Settings of one daemon.
struct DaemonOptions {
  ServicePaths paths;                          ///< socket, lock, data directory
  std::string system_config_dir = "/etc/lxhost";  ///< passed to instances' config merge
  std::string instance_program;                ///< the lxhostd executable (for --instance)
};

/// The daemon. run() serves until `lx shutdown` or SIGTERM/SIGINT.
class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();
  /// Takes the lock, listens, serves; returns the process exit code.
  int run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lx::service
