// The proc family's part of a kernel-backed instance (sdk::KernelConfigurator): the hostname of
// its UTS namespace and the process limit the kernel enforces (RLIMIT_NPROC of every launch).
#pragma once

#include <cstdint>
#include <string>

#include <lxhost/interfaces.h>

namespace lx::proc {

/// What [proc] asks of the kernel.
struct ProcKernelPart final : public sdk::KernelConfigurator {
  std::string hostname;             ///< [proc] hostname ("": the host's stays)
  std::uint64_t max_processes = 0;  ///< [proc] max_processes (0: no limit)

  std::string configure_kernel(sdk::KernelPlan& plan) noexcept override {
    try {
      if (!hostname.empty()) plan.hostname = hostname;
      if (max_processes > 0) plan.max_processes = max_processes;
      return {};
    } catch (...) {
      return "out of memory";
    }
  }
};

}  // namespace lx::proc
