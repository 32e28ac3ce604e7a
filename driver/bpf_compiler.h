// Compiles a FilterPolicy into a classic BPF seccomp program: arch check first, x32 numbers
// refused, then a binary search on the syscall number, then per-syscall argument rules.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "driver/filter_policy.h"

namespace lx::driver {

/// A compiled seccomp program.
using BpfProgram = std::vector<sock_filter>;

/// The seccomp return value (SECCOMP_RET_*) for an action.
std::uint32_t seccomp_return(const Action& a) noexcept;

/// Compiles `policy`. Never fails for a well-formed policy; an Error for a malformed one (arg
/// index out of 0..5, number out of range, program longer than BPF_MAXINSNS).
Result<BpfProgram> compile_filter(const FilterPolicy& policy);

/// A human-readable listing of `prog`, one instruction per line (for debugging and tests).
std::string disassemble(const BpfProgram& prog);

}  // namespace lx::driver
