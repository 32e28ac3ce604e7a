// SDK: the x86_64 syscall table as data — number, name, family and argument kinds of every
// syscall, and a named constant per number (lx::sdk::sys::openat).
//
// One source of truth: syscalls_x86_64.def (an X-macro list). Everything that needs a syscall's
// number, name, family or argument kinds (plugins, the filter compiler, `lx syscalls`, --trace,
// disabled families, config) reads it here. Header-only and constexpr, so out-of-tree plugins
// get it with the other SDK headers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace lx::sdk {

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

/// The family names, indexed by Family: the only list of them.
inline constexpr std::array<std::string_view, kFamilyCount> kFamilyNames = {
    "fs", "proc", "net", "signal", "memory", "time", "ipc", "core", "other"};

/// "fs", "proc", "net", "signal", "memory", "time", "ipc", "core", "other".
constexpr std::string_view to_string(Family f) noexcept {
  auto i = static_cast<int>(f);
  return i >= 0 && i < kFamilyCount ? kFamilyNames[i] : "?";
}

/// The family named `name`, if any.
constexpr std::optional<Family> family_from_string(std::string_view name) noexcept {
  for (int i = 0; i < kFamilyCount; ++i)
    if (kFamilyNames[i] == name) return static_cast<Family>(i);
  return std::nullopt;
}

/// The kind of one syscall argument (for typed accessors, --trace formatting and policy checks).
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
  constexpr int arg_count() const noexcept {
    int n = 0;
    while (n < 6 && args[n] != ArgKind::kNone) ++n;
    return n;
  }
};

/// A named constant per syscall number: sys::openat == 257.
namespace sys {
#define LX_SYSCALL(nr, name, family, a0, a1, a2, a3, a4, a5) inline constexpr int name = nr;
#include <lxhost/syscalls_x86_64.def>
#undef LX_SYSCALL
}  // namespace sys

namespace detail {
inline constexpr SyscallInfo kSyscalls[] = {
#define LX_SYSCALL(nr, name, family, a0, a1, a2, a3, a4, a5) \
  {nr, #name, Family::family, {ArgKind::a0, ArgKind::a1, ArgKind::a2, ArgKind::a3, ArgKind::a4, ArgKind::a5}},
#include <lxhost/syscalls_x86_64.def>
#undef LX_SYSCALL
};

inline constexpr int kMaxNr = [] {
  int m = 0;
  for (const auto& e : kSyscalls) m = e.nr > m ? e.nr : m;
  return m;
}();

// Index from number to table position (-1: unassigned).
inline constexpr std::array<short, kMaxNr + 1> kIndex = [] {
  std::array<short, kMaxNr + 1> idx{};
  for (auto& i : idx) i = -1;
  for (std::size_t i = 0; i < std::size(kSyscalls); ++i) idx[kSyscalls[i].nr] = static_cast<short>(i);
  return idx;
}();
}  // namespace detail

/// The x86_64 syscall table (checked for order and unique names by syscall_table_test).
class SyscallTable {
 public:
  /// Every entry, sorted by number.
  static constexpr std::span<const SyscallInfo> all() noexcept { return detail::kSyscalls; }
  /// The entry for `nr`, or nullptr for an unassigned number.
  static constexpr const SyscallInfo* find(int nr) noexcept {
    if (nr < 0 || nr > detail::kMaxNr || detail::kIndex[nr] < 0) return nullptr;
    return &detail::kSyscalls[detail::kIndex[nr]];
  }
  /// The entry named `name`, or nullptr.
  static constexpr const SyscallInfo* find(std::string_view name) noexcept {
    for (const auto& e : detail::kSyscalls)
      if (e.name == name) return &e;
    return nullptr;
  }
  /// The highest assigned number.
  static constexpr int max_nr() noexcept { return detail::kMaxNr; }
  /// The name of `nr`, or "?" for an unassigned number.
  static constexpr std::string_view name(int nr) noexcept {
    const SyscallInfo* e = find(nr);
    return e ? e->name : std::string_view("?");
  }
  /// The kind of argument `i` of `nr` (kNone for an unassigned number or argument).
  static constexpr ArgKind arg_kind(int nr, int i) noexcept {
    const SyscallInfo* e = find(nr);
    return e && i >= 0 && i < 6 ? e->args[i] : ArgKind::kNone;
  }
};

static_assert(sys::openat == 257 && sys::read == 0, "syscalls_x86_64.def out of step with the kernel");
static_assert(SyscallTable::max_nr() < 512, "x32-only numbers (512 and up) do not belong in the x86_64 table");

}  // namespace lx::sdk
