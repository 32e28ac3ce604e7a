// lxhost-runc: an OCI linux.seccomp profile compiled to a BPF program with libseccomp (what runc
// and crun use), installed beside lxhost's own filter (LaunchSpec::extra_filter): the kernel
// runs both filters and the stricter action wins, so the profile's ERRNO and KILL rules hold
// while lxhost's NOTIFY and TRACE routes still serve what the profile allows.
#pragma once

#include <linux/filter.h>

#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"

namespace lx::oci {

/// Compiles profile `j` (runtime-spec config-linux.md "Seccomp"). Unknown syscall names are
/// skipped, as runc skips them (a profile lists calls of newer kernels); unsupported actions
/// (SCMP_ACT_NOTIFY: lxhost is the listener) and flags are errors naming the field.
Result<std::vector<sock_filter>> compile_seccomp(const nlohmann::json& j);

}  // namespace lx::oci
