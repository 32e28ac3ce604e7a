// The process limit of a kernel-backed instance when lxhostd runs as root. Launches get
// max_processes as RLIMIT_NPROC, which the kernel counts per user but never applies to the
// host's root (INIT_USER), and root inside is the host's root when the namespace maps the full
// range. There the instance's init goes into a pids cgroup of its own (cgroup v2, or v1's pids
// hierarchy) whose pids.max is the limit plus init itself: every process and thread in the
// PID namespace counts, as the emulated backend counts live guest threads, and a fork past it
// fails with EAGAIN.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/result.h"

namespace lx::driver {

/// One instance's pids cgroup; removed when destroyed (its processes must be gone by then).
class PidsCgroup {
 public:
  PidsCgroup() = default;
  /// Creates the cgroup for the instance whose init is `init`, with room for `max` processes
  /// besides init, and moves init into it. Empty cgroups of earlier instances that ended
  /// without removing theirs are removed first.
  static Result<PidsCgroup> create(pid_t init, std::uint64_t max);
  ~PidsCgroup();
  PidsCgroup(PidsCgroup&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  PidsCgroup& operator=(PidsCgroup&& o) noexcept;
  PidsCgroup(const PidsCgroup&) = delete;
  PidsCgroup& operator=(const PidsCgroup&) = delete;

  /// Its directory ("" when none).
  const std::string& path() const noexcept { return path_; }
  /// Removes it (retrying briefly while its last processes are being released).
  void remove() noexcept;

 private:
  std::string path_;
};

/// The directory under which this process may create pids cgroups ("" when none: not root, or
/// neither a writable cgroup v2 whose children can have the pids controller (it is enabled for
/// them here when it is not yet) nor a writable v1 pids hierarchy).
std::string pids_cgroup_root();

}  // namespace lx::driver
