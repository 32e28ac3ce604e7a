// The mount namespace of a kernel-backed instance, as its KernelPlan says.
#pragma once

#include <string>
#include <vector>

#include <lxhost/interfaces.h>

namespace lx::driver {

/// A mount done exactly as given (an OCI bundle's `mounts` entry, for lxhost-runc): mount(2)'s
/// source, type, flags and data at `guest`, or a bind mount of host path `source`.
struct ExactMount {
  std::string guest;          ///< absolute guest path
  std::string source;         ///< host path (bind), else mount(2)'s source ("shm", "proc"...)
  std::string type;           ///< filesystem type ("" for a bind)
  bool bind = false;          ///< a bind mount of `source`
  bool recursive = false;     ///< with its submounts (rbind)
  unsigned long flags = 0;    ///< MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, atime flags
  std::string data;           ///< the filesystem's options ("mode=1777,size=65536k")
};

/// In a new mount namespace (owned by the process's user namespace): makes every mount private,
/// binds the plan's root, does `exact` in order, then the plan's mounts in order, and pivots
/// into the root, made read-only when `read_only_root` (its mount only: those on it keep theirs).
/// "" or why not.
std::string set_up_mounts(const sdk::KernelPlan& plan, const std::vector<ExactMount>& exact = {},
                          bool read_only_root = false);

}  // namespace lx::driver
