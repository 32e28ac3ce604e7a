// A small classic-BPF interpreter for seccomp programs, so filters are tested without a kernel
// (as Chromium's bpf_dsl tests do).
#pragma once

#include <linux/seccomp.h>

#include <cstdint>
#include <string>

#include "driver/bpf_compiler.h"

namespace lx::driver {

/// Runs `prog` against `data` as the kernel would and returns the SECCOMP_RET_* value, or an
/// Error for an invalid program (bad jump, out-of-range load, no return). When `executed` is
/// set, it receives the number of instructions run.
Result<std::uint32_t> evaluate_filter(const BpfProgram& prog, const seccomp_data& data, std::size_t* executed = nullptr);

/// Builds seccomp_data for an x86_64 call.
seccomp_data make_seccomp_data(int nr, std::uint64_t a0 = 0, std::uint64_t a1 = 0, std::uint64_t a2 = 0,
                               std::uint64_t a3 = 0, std::uint64_t a4 = 0, std::uint64_t a5 = 0,
                               std::uint32_t arch = 0xC000003E /* AUDIT_ARCH_X86_64 */);

}  // namespace lx::driver
