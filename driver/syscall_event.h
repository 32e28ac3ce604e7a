// What the driver reports about each intercepted syscall and each guest process, for --trace
// and for the process table's observers.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>

#include <lxhost/syscall_context.h>

namespace lx::driver {

/// One intercepted syscall and its outcome.
struct SyscallEvent {
  pid_t tid = 0;                        ///< guest thread
  int nr = -1;                          ///< syscall number
  sdk::Route route = sdk::Route::kAllow;///< route it arrived on
  std::array<std::uint64_t, 6> args{};  ///< arguments as the guest passed them
  std::array<std::string, 6> strings;   ///< string/path arguments read before dispatch (tracing only)
  sdk::SyscallResult result = sdk::SyscallResult::continue_native();  ///< what the handler decided
};

/// Receives driver events. Called from several threads at once; must be thread-safe.
class EventSink {
 public:
  virtual ~EventSink() = default;
  /// An intercepted syscall was decided.
  virtual void on_syscall(const SyscallEvent& event) noexcept = 0;
  /// A guest process or thread appeared (`parent` 0 for the first).
  virtual void on_process_start(pid_t tid, pid_t parent) noexcept { (void)tid, (void)parent; }
  /// A guest process or thread exited with wait status `status`.
  virtual void on_process_exit(pid_t tid, int status) noexcept { (void)tid, (void)status; }
  /// A guest process called execve successfully.
  virtual void on_exec(pid_t tid) noexcept { (void)tid; }
};

/// Reads the path and string arguments of `event` (tid, nr, args set) from guest memory.
void capture_string_args(SyscallEvent& event) noexcept;

/// Formats `event` as strace does: `[pid 42] openat(AT_FDCWD, "/etc/passwd", 0x80000, 0) = 3 <notify>`.
std::string format_event(const SyscallEvent& event);

}  // namespace lx::driver
