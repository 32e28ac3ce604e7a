// The fs family's part of a kernel-backed instance (sdk::KernelConfigurator): the guest root and
// the mounts of its mount namespace. Under the kernel backend the family takes on no syscall:
// paths resolve in the mount namespace, and /proc is the PID namespace's own procfs.
#pragma once

#include <string>
#include <vector>

#include <lxhost/interfaces.h>

#include "guest_root.h"

namespace lx::fs {

/// What the fs config asks of the kernel: the root and the mounts, in the order they are done.
class FsKernelPart final : public sdk::KernelConfigurator {
 public:
  /// Sets the part: `root` (an absolute host directory), then `mounts`.
  void set(std::string root, std::vector<sdk::KernelMount> mounts);
  /// Sets plan.root and appends the mounts; an error when another plugin set another root.
  std::string configure_kernel(sdk::KernelPlan& plan) noexcept override;

  /// The root it gives the plan.
  const std::string& root() const noexcept { return root_; }
  /// The mounts it gives the plan.
  const std::vector<sdk::KernelMount>& mounts() const noexcept { return mounts_; }

 private:
  std::string root_ = "/";
  std::vector<sdk::KernelMount> mounts_;
};

/// The mounts of a kernel-backed instance whose root is host directory `root`: each configured
/// mount a bind; then, with `default_mounts` and a root other than "/", the /dev, /proc, /sys and
/// /tmp the configured ones leave out (/dev a new one, /proc the PID namespace's procfs, /sys and
/// /tmp the host's bound); with root "/", only /proc. `host_proc` ([fs] proc = "host") binds the
/// host's /proc instead of a new procfs (with root "/", the host's /proc simply stays). Every
/// mount comes after the mounts above it (a parent before what is mounted inside it).
std::vector<sdk::KernelMount> kernel_mounts(const std::string& root, const std::vector<Mount>& configured,
                                            bool default_mounts, bool host_proc);

}  // namespace lx::fs
