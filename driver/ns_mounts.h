// The mount namespace of a kernel-backed instance, as its KernelPlan says.
#pragma once

#include <string>

#include <lxhost/interfaces.h>

namespace lx::driver {

/// In a new mount namespace (owned by the process's user namespace): makes every mount private,
/// binds the plan's root, does its mounts in order, and pivots into the root. "" or why not.
std::string set_up_mounts(const sdk::KernelPlan& plan);

}  // namespace lx::driver
