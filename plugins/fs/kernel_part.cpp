// The fs family's part of a kernel-backed instance (see kernel_part.h).
#include "kernel_part.h"

#include <algorithm>
#include <cstddef>
#include <exception>
#include <utility>

namespace lx::fs {
namespace {

using Kind = sdk::KernelMount::Kind;

// The guest path without trailing slashes ("/" stays "/").
std::string normalized(std::string guest) {
  while (guest.size() > 1 && guest.back() == '/') guest.pop_back();
  return guest;
}

// How many components deep guest path `p` is ("/" is 0, "/dev" 1, "/dev/shm" 2).
std::size_t depth(const std::string& p) {
  return static_cast<std::size_t>(std::count(p.begin(), p.end(), '/')) - (p == "/" ? 1 : 0);
}

// Whether the configured mounts already put something at `guest`.
bool configured_at(const std::vector<sdk::KernelMount>& mounts, const std::string& guest) {
  return std::any_of(mounts.begin(), mounts.end(), [&](const sdk::KernelMount& m) { return m.guest == guest; });
}

// The /proc of the instance: its PID namespace's procfs, or the host's bound (proc = "host").
sdk::KernelMount proc_mount(bool host_proc) {
  if (host_proc) return {Kind::kBind, "/proc", "/proc", false};
  return {Kind::kProc, "", "/proc", false};
}

}  // namespace

void FsKernelPart::set(std::string root, std::vector<sdk::KernelMount> mounts) {
  root_ = std::move(root);
  mounts_ = std::move(mounts);
}

std::string FsKernelPart::configure_kernel(sdk::KernelPlan& plan) noexcept {
  try {
    if (plan.root != "/" && plan.root != root_)
      return "the guest root is '" + root_ + "', but the plan's root is already '" + plan.root + "'";
    plan.root = root_;
    plan.mounts.insert(plan.mounts.end(), mounts_.begin(), mounts_.end());
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::vector<sdk::KernelMount> kernel_mounts(const std::string& root, const std::vector<Mount>& configured,
                                            bool default_mounts, bool host_proc) {
  std::vector<sdk::KernelMount> out;
  for (const Mount& m : configured) out.push_back({Kind::kBind, m.host, normalized(m.guest), m.read_only});
  if (root == "/") {
    // The host's tree: only /proc must be the instance's (a procfs of its PID namespace).
    if (!host_proc && !configured_at(out, "/proc")) out.push_back(proc_mount(false));
  } else if (default_mounts) {
    if (!configured_at(out, "/dev")) out.push_back({Kind::kDev, "", "/dev", false});
    if (!configured_at(out, "/proc")) out.push_back(proc_mount(host_proc));
    if (!configured_at(out, "/sys")) out.push_back({Kind::kBind, "/sys", "/sys", true});
    if (!configured_at(out, "/tmp")) out.push_back({Kind::kBind, "/tmp", "/tmp", false});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const sdk::KernelMount& a, const sdk::KernelMount& b) { return depth(a.guest) < depth(b.guest); });
  return out;
}

}  // namespace lx::fs
