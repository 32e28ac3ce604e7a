// The x86_64 syscall table as data: number, name, family and argument kinds of every syscall.
//
// One source of truth: syscalls_x86_64.def (an X-macro list); everything that needs a syscall's
// name or family (the filter compiler, `lx syscalls`, --trace, disabled families) reads it here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace lx::driver {

/// The family a syscall belongs to; a disabled family's syscalls fail in the kernel.
enum class Family : std::uint8_t {
  kFs,      ///< files, paths, descriptors
  kProc,    ///< processes, threads, identity, exec, limits
  kNet,     ///< sockets
  kSignal,  ///< sending and handling signals
  kMemory,  ///< address space
  kTime,    ///< clocks, timers, sleeping
  kIpc,     ///< SysV/POSIX IPC, futex, eventfd-like primitives
  kCore,    ///< what a process cannot live without (exit, rt_sigreturn, restart_syscall): never disabled
  kOther,   ///< everything else
};

/// Number of Family values.
inline constexpr int kFamilyCount = 9;

/// The kind of one syscall argument (for --trace formatting and policy checks).
enum class ArgKind : std::uint8_t {
  kNone,    ///< no such argument
  kInt,     ///< signed integer (int, long)
  kUint,    ///< unsigned integer, size or count
  kFd,      ///< file descriptor (or AT_FDCWD)
  kPath,    ///< NUL-terminated path string
  kString,  ///< other NUL-terminated string
  kPtr,     ///< pointer to a structure or buffer
  kFlags,   ///< bit flags or mode
  kPid,     ///< process or thread id
};

/// One entry of the table.
struct SyscallInfo {
  int nr;                        ///< x86_64 syscall number
  std::string_view name;         ///< name as in <sys/syscall.h> without the SYS_ prefix
  Family family;                 ///< family
  std::array<ArgKind, 6> args;   ///< argument kinds (kNone past the last)
  /// Number of arguments.
  int arg_count() const noexcept;
};

/// The x86_64 syscall table.
class SyscallTable {
 public:
  /// Every entry, sorted by number.
  static std::span<const SyscallInfo> all() noexcept;
  /// The entry for `nr`, or nullptr for an unassigned number.
  static const SyscallInfo* find(int nr) noexcept;
  /// The entry named `name`, or nullptr.
  static const SyscallInfo* find(std::string_view name) noexcept;
  /// The highest assigned number.
  static int max_nr() noexcept;
  /// The name of `nr`, or "syscall_<nr>" style fallback in a static buffer-free form ("?").
  static std::string_view name(int nr) noexcept;
};

/// "fs", "proc", "net", "signal", "memory", "time", "ipc", "core", "other".
std::string_view to_string(Family f) noexcept;
/// The family named `name`, if any.
std::optional<Family> family_from_string(std::string_view name) noexcept;

}  // namespace lx::driver
