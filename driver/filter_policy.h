// The policy the seccomp filter is compiled from: a route (and errno) per syscall, with optional
// kernel-side rules on integer arguments, plus what to do with foreign arches and x32 numbers.
#pragma once

#include <cerrno>
#include <cstdint>
#include <map>
#include <vector>

#include <lxhost/plugin.h>

namespace lx::driver {

using sdk::ArgCondition;
using sdk::ArgRule;
using sdk::Route;

/// What the filter returns for a call: a route and its 16-bit data (the errno for kErrno).
struct Action {
  Route route = Route::kAllow;  ///< route
  std::uint16_t data = 0;       ///< errno for kErrno; unused otherwise
  friend bool operator==(const Action&, const Action&) = default;

  /// ALLOW.
  static Action allow() { return {Route::kAllow, 0}; }
  /// ERRNO(e).
  static Action error(int e) { return {Route::kErrno, static_cast<std::uint16_t>(e)}; }
  /// USER_NOTIF.
  static Action notify() { return {Route::kNotify, 0}; }
  /// TRACE.
  static Action trace() { return {Route::kTrace, 0}; }
};

/// The rules of one syscall: `rules` tried in order, `fallback` when none matches.
struct SyscallPolicy {
  std::vector<ArgRule> rules;  ///< kernel-side argument rules
  Action fallback;             ///< action when no rule matches
};

/// A whole filter policy. Syscalls not in `syscalls` get `default_action`.
struct FilterPolicy {
  std::map<int, SyscallPolicy> syscalls;     ///< per syscall number
  Action default_action = Action::allow();   ///< every other x86_64 syscall
  Action x32_action = Action::error(ENOSYS);  ///< numbers with __X32_SYSCALL_BIT
  Action foreign_arch_action = Action::error(ENOSYS);  ///< arch != AUDIT_ARCH_X86_64 (int 0x80)
};

}  // namespace lx::driver
