// The init of a kernel-backed instance: pid 1 of its PID namespace, root of its user namespace,
// in its mount, UTS and IPC namespaces. It sets up the mount namespace the families asked for
// (KernelPlan: the distro as root with pivot_root, binds, a procfs of the PID namespace, /dev),
// then serves the host over one socket (ns_wire.h): it forks every launch (which installs the
// seccomp filter and takes its user before exec), reaps every orphan, reports how launches end,
// and ends the namespace when told to, or when the host is gone.
#pragma once

#include <lxhost/interfaces.h>

#include "driver/bpf_compiler.h"
#include "driver/ns_mounts.h"

namespace lx::driver {

/// What init needs, inherited from the host process at the fork.
struct NsInitConfig {
  sdk::KernelPlan plan;
  BpfProgram filter;       ///< installed by every launch before its exec
  bool listener = false;   ///< the filter has NOTIFY routes: each launch hands the host a listener
  /// Apply the store's recorded owners under the root before the pivot (ns_owners.h), for the
  /// maps `maps_key` names ("" never).
  std::string owners_for_maps;
  bool new_ipc_and_uts = true;  ///< KernelInstance::Options::new_ipc_and_uts
  std::vector<ExactMount> exact_mounts;  ///< KernelInstance::Options::exact_mounts
  bool read_only_root = false;           ///< KernelInstance::Options::read_only_root
};

/// Runs init on socket `ctl` (never returns). Call in the first process of the new PID namespace.
[[noreturn]] void ns_init_main(int ctl, const NsInitConfig& config);

}  // namespace lx::driver
