// lxhost-runc's state: one directory per container under the state root (--root; runc's
// layout: ROOT/ID), holding state.json, the exec FIFO `start` opens, and the private directories
// that stand for the container's tmpfs mounts. The status is not stored but read from the
// monitor process (the container's pid): alive and not started is "created", alive and started
// "running", gone (or a zombie, or another process under a reused pid) "stopped".
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace lx::oci {

/// What state.json holds.
struct State {
  std::string id;
  std::string bundle;
  std::string rootfs;
  std::string created;                 ///< RFC 3339, UTC
  std::string owner;                   ///< user name (or uid) that created it
  pid_t pid = 0;                       ///< the container's process (lxhost's monitor); 0 while creating
  unsigned long long start_time = 0;   ///< its start time (field 22 of /proc/PID/stat), against pid reuse
  std::string backend;                 ///< "kernel" or "emulated"
  std::map<std::string, std::string> annotations;
};

/// The status of `s` now: creating, created, running or stopped.
std::string status_of(const State& s, const std::string& dir);

/// Whether `id` may name a container (letters, digits, "_", "-", "."; not starting with "."),
/// at most 1024 bytes.
bool valid_id(const std::string& id);

/// Start time of process `pid` (field 22 of /proc/PID/stat); 0 when gone.
unsigned long long start_time_of(pid_t pid);
/// Whether `pid` runs and is not a zombie, with start time `start` (0: any).
bool process_running(pid_t pid, unsigned long long start);
/// Every descendant of `pid` (children first, then theirs), read from /proc.
std::vector<pid_t> descendants_of(pid_t pid);
/// Whether `pid` is pid 1 of a PID namespace below ours (the kernel backend's init).
bool is_namespace_init(pid_t pid);
/// The kernel backend's init among the children of container process `monitor`; 0 when none.
pid_t namespace_init_of(pid_t monitor);

/// The state root when --root is not given: /run/lxhost-runc as the host's root, else
/// $XDG_RUNTIME_DIR/lxhost-runc (also for root of a rootless podman's user namespace, as runc
/// does), /tmp/lxhost-runc-UID when that is unset.
std::string default_state_root();

/// The state directory of containers.
class StateStore {
 public:
  explicit StateStore(std::string root) : root_(std::move(root)) {}
  const std::string& root() const noexcept { return root_; }
  /// ROOT/ID.
  std::string dir(const std::string& id) const { return root_ + "/" + id; }
  /// Creates ROOT (0700) and ROOT/ID; EEXIST names the id ("container X already exists").
  Result<std::string> create_dir(const std::string& id) const;
  /// Writes ROOT/ID/state.json atomically.
  Result<void> save(const State& s) const;
  /// Reads ROOT/ID/state.json; ENOENT: "container X does not exist".
  Result<State> load(const std::string& id) const;
  /// Removes ROOT/ID and everything in it.
  Result<void> remove(const std::string& id) const;
  /// The ids of every container.
  std::vector<std::string> list() const;

 private:
  std::string root_;
};

/// The state JSON the runtime-spec defines (`state` prints it, hooks read it on stdin).
std::string state_json(const State& s, const std::string& status, bool pretty);

}  // namespace lx::oci
