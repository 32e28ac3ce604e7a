// SDK: what a syscall handler sees (SyscallContext) and what it returns (SyscallResult).
//
// Part of the public plugin SDK: installed with `cmake --install` and used by out-of-tree
// plugins. Nothing here throws; guest errors are positive errno values or SyscallResult.
#pragma once

#include <sys/types.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>

#include <lxhost/syscall_table.h>

namespace lx::sdk {

/// How a syscall is decided: in the kernel (kAllow, kErrno) or by a plugin (kNotify, kTrace).
enum class Route : std::uint8_t {
  kAllow,   ///< native passthrough, decided in the kernel
  kErrno,   ///< fails with a fixed errno, decided in the kernel
  kNotify,  ///< completed on behalf of the guest through seccomp user notification
  kTrace,   ///< handled at a ptrace seccomp stop; registers can be rewritten
};

/// Returns "allow", "errno", "notify" or "trace".
constexpr const char* to_string(Route r) noexcept {
  switch (r) {
    case Route::kAllow: return "allow";
    case Route::kErrno: return "errno";
    case Route::kNotify: return "notify";
    case Route::kTrace: return "trace";
  }
  return "?";
}

/// The outcome of a handler: a value, an errno, or "let the call run natively".
class SyscallResult {
 public:
  /// What the driver does with the result.
  enum class Kind : std::uint8_t {
    kValue,      ///< the call returns value() without running natively
    kError,      ///< the call fails with -error() without running natively
    kContinue,   ///< the call runs natively, unchanged
    kRewritten,  ///< TRACE only: the call runs natively with the arguments set through the context
    kResponded,  ///< the handler already completed the call (e.g. install_fd); value() is what it returned
  };

  /// The call returns `v` to the guest.
  static constexpr SyscallResult value(std::int64_t v) noexcept { return {Kind::kValue, v}; }
  /// The call fails with errno `e` (a positive errno value).
  static constexpr SyscallResult error(int e) noexcept { return {Kind::kError, e}; }
  /// The call runs natively, unchanged.
  static constexpr SyscallResult continue_native() noexcept { return {Kind::kContinue, 0}; }
  /// TRACE only: the call runs natively with the registers the handler rewrote.
  static constexpr SyscallResult rewritten() noexcept { return {Kind::kRewritten, 0}; }
  /// The call was already completed by the context (e.g. install_fd); `v` is its guest return.
  static constexpr SyscallResult responded(std::int64_t v) noexcept { return {Kind::kResponded, v}; }

  /// The kind of result.
  constexpr Kind kind() const noexcept { return kind_; }
  /// The value for kValue/kResponded (a guest return value, possibly -errno for kResponded).
  constexpr std::int64_t value() const noexcept { return v_; }
  /// The positive errno for kError.
  constexpr int error() const noexcept { return kind_ == Kind::kError ? static_cast<int>(v_) : 0; }
  /// What the guest sees in rax for kValue/kError/kResponded: the value or -errno.
  constexpr std::int64_t guest_return() const noexcept { return kind_ == Kind::kError ? -v_ : v_; }

 private:
  constexpr SyscallResult(Kind k, std::int64_t v) noexcept : kind_(k), v_(v) {}
  Kind kind_;
  std::int64_t v_;
};

/// One intercepted system call of one guest thread, as a handler sees it.
///
/// Guest memory is reached only through the bounded helpers below; each returns 0 or a positive
/// errno (EFAULT for a bad pointer). On the NOTIFY route the helpers check that the notification
/// is still valid after reading (the guest thread may have died and its pid been reused).
/// Memory read from the guest can change under the handler: read once, act on the copy.
class SyscallContext {
 public:
  virtual ~SyscallContext() = default;

  /// The syscall number (x86_64).
  virtual int nr() const noexcept = 0;
  /// The syscall name ("openat").
  virtual const char* name() const noexcept = 0;
  /// Argument `i` (0..5) as the guest passed it.
  virtual std::uint64_t arg(int i) const noexcept = 0;
  /// The guest's thread group id (host pid).
  virtual pid_t pid() const noexcept = 0;
  /// The guest thread id (host tid).
  virtual pid_t tid() const noexcept = 0;
  /// The route the call arrived on (kNotify or kTrace).
  virtual Route route() const noexcept = 0;
  /// The name of the instance the guest belongs to.
  virtual const std::string& instance() const noexcept = 0;

  /// Copies `len` bytes of guest memory at `addr` into `out`.
  virtual int read_memory(std::uint64_t addr, void* out, std::size_t len) noexcept = 0;
  /// Copies `len` bytes from `in` to guest memory at `addr`.
  virtual int write_memory(std::uint64_t addr, const void* in, std::size_t len) noexcept = 0;
  /// Reads a NUL-terminated guest string of at most `max` bytes (ENAMETOOLONG past it).
  virtual int read_string(std::uint64_t addr, std::string& out, std::size_t max = PATH_MAX) noexcept = 0;

  // Typed arguments: each accessor reads argument `i` as the kind the syscall table gives it
  // (syscalls_x86_64.def); asking for another kind is reported to arg_kind_mismatch(), which a
  // test's FakeSyscallContext turns into a failure.

  /// A descriptor argument (kFd): the low 32 bits, signed (AT_FDCWD stays -100).
  int fd(int i) const noexcept {
    check_kind(i, ArgKind::kFd);
    return static_cast<int>(arg(i));
  }
  /// A process, thread or group id argument (kPid), signed (0 and -1 keep their meaning).
  pid_t pid_arg(int i) const noexcept {
    check_kind(i, ArgKind::kPid);
    return static_cast<pid_t>(arg(i));
  }
  /// A flags or mode argument (kFlags), as T (int for open flags, unsigned for masks...).
  template <class T = int>
  T flags(int i) const noexcept {
    check_kind(i, ArgKind::kFlags);
    return static_cast<T>(arg(i));
  }
  /// A signed integer argument (kInt), as T (int by default: the kernel reads the low half).
  template <class T = int>
  T int_arg(int i) const noexcept {
    check_kind(i, ArgKind::kInt);
    return static_cast<T>(arg(i));
  }
  /// An unsigned integer, size or count argument (kUint).
  std::uint64_t uint_arg(int i) const noexcept {
    check_kind(i, ArgKind::kUint);
    return arg(i);
  }
  /// A guest pointer argument (kPtr): an address to read from or write to.
  std::uint64_t ptr(int i) const noexcept {
    check_kind(i, ArgKind::kPtr);
    return arg(i);
  }
  /// Reads the path argument `i` (kPath) into `out`: 0, EFAULT or ENAMETOOLONG.
  int path(int i, std::string& out) noexcept {
    check_kind(i, ArgKind::kPath);
    return read_string(arg(i), out, PATH_MAX);
  }
  /// Reads the string argument `i` (kString) into `out`, at most `max` bytes.
  int string_arg(int i, std::string& out, std::size_t max = PATH_MAX) noexcept {
    check_kind(i, ArgKind::kString);
    return read_string(arg(i), out, max);
  }

  /// Reads a trivially copyable value from guest memory.
  template <class T>
  int read(std::uint64_t addr, T& out) noexcept {
    static_assert(std::is_trivially_copyable_v<T>);
    return read_memory(addr, &out, sizeof(T));
  }
  /// Writes a trivially copyable value to guest memory.
  template <class T>
  int write(std::uint64_t addr, const T& in) noexcept {
    static_assert(std::is_trivially_copyable_v<T>);
    return write_memory(addr, &in, sizeof(T));
  }

  /// NOTIFY only: whether the guest is still waiting for this call (SECCOMP_IOCTL_NOTIF_ID_VALID).
  virtual bool still_valid() noexcept = 0;
  /// NOTIFY only: installs the host fd `host_fd` into the guest and completes the call with the
  /// new guest fd as its result, atomically (SECCOMP_IOCTL_NOTIF_ADDFD + SECCOMP_ADDFD_FLAG_SEND).
  /// `guest_flags` may hold O_CLOEXEC. Returns responded(fd) or error(errno).
  virtual SyscallResult install_fd(int host_fd, unsigned guest_flags) noexcept = 0;

  /// TRACE only: whether registers can be rewritten (false on the NOTIFY route).
  virtual bool can_rewrite() const noexcept = 0;
  /// TRACE only: sets argument `i` for the native call; return rewritten() afterwards.
  virtual int set_arg(int i, std::uint64_t value) noexcept = 0;
  /// TRACE only: changes the syscall number for the native call; return rewritten() afterwards.
  virtual int set_nr(int nr) noexcept = 0;
  /// TRACE only: the guest thread's stack pointer (0 on NOTIFY), e.g. to place a rewritten path
  /// below the red zone before pointing an argument at it.
  virtual std::uint64_t stack_pointer() const noexcept = 0;
  /// TRACE only: the place below the guest's stack red zone where push() starts.
  std::uint64_t scratch_top() const noexcept { return stack_pointer() - 128; }
  /// TRACE only: writes `len` bytes of `data` at or below `*top` (16-byte aligned) in guest
  /// memory, lowers `*top` to them and returns their address; 0 when the memory is not writable.
  /// For the arguments of a rewritten call: `std::uint64_t top = c.scratch_top();` then pushes.
  std::uint64_t push(std::uint64_t* top, const void* data, std::size_t len) noexcept {
    std::uint64_t addr = (*top - len) & ~std::uint64_t{15};
    if (write_memory(addr, data, len) != 0) return 0;
    *top = addr;
    return addr;
  }
  /// push() of `text` with its terminating NUL.
  std::uint64_t push(std::uint64_t* top, const std::string& text) noexcept {
    return push(top, text.c_str(), text.size() + 1);
  }
  /// What a rewritten call returned, checked by the plugin before the guest sees it: `ret` is
  /// the call's result (a new fd, or -errno). false: it is not what the handler resolved (a
  /// race won against the rewrite), and the guest thread is killed before it runs again.
  using ReturnCheck = std::function<bool(pid_t tid, long ret)>;
  /// TRACE only, with rewritten(): `check` sees the rewritten call's result. false when the
  /// route cannot (NOTIFY): then the handler must not let the call run natively.
  virtual bool check_return(ReturnCheck check) noexcept {
    (void)check;
    return false;
  }

  /// NOTIFY only: says that this handler is about to block (opening a FIFO waits for its other
  /// end): another worker takes the guest's next calls at once, so the one that would unblock
  /// this one is not left waiting behind it. Harmless to call when it then does not block.
  virtual void will_block() noexcept {}

 protected:
  /// Called when a handler reads argument `i` as `wanted` but the table says otherwise (a bug
  /// in the handler). The driver ignores it; FakeSyscallContext records it for the test.
  virtual void arg_kind_mismatch(int i, ArgKind wanted) const noexcept { (void)i, (void)wanted; }

 private:
  void check_kind(int i, ArgKind wanted) const noexcept {
    if (SyscallTable::arg_kind(nr(), i) != wanted) arg_kind_mismatch(i, wanted);
  }
};

}  // namespace lx::sdk
