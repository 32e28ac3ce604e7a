// The launcher: forks the guest's first process, which waits until it is seized by the tracer,
// sets no_new_privs, stops itself, installs the seccomp filter with a listener (taken by the
// tracer at the syscall's exit stop), then execs the guest program. Both sides of that handshake
// are here; the trace channel only calls them in order.
#pragma once

#include <sys/types.h>

#include <linux/filter.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "driver/bpf_compiler.h"

namespace lx::driver {

/// The ids a launch starts with (the kernel backend sets them for real inside the instance's
/// user namespace; the emulated one through the proc family's LaunchIdentity).
struct LaunchIds {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

/// One resource limit a launch sets for its process (setrlimit before exec).
struct LaunchRlimit {
  int resource = 0;              ///< RLIMIT_*
  std::uint64_t soft = 0, hard = 0;
};

/// At most this many LaunchSpec::rlimits.
inline constexpr int kMaxRlimits = 16;

/// At most this many LaunchSpec::extra_fds.
inline constexpr int kMaxExtraFds = 32;
/// The room left for the pid in LaunchSpec::listen_pid's entry.
inline constexpr int kListenPidWidth = 10;

/// What to run.
struct LaunchSpec {
  std::vector<std::string> argv;  ///< argv[0] is looked up in PATH (from `env`) as execvp does
  std::vector<std::string> env;   ///< the guest's environment
  std::string cwd;                ///< working directory; empty: inherited
  std::vector<int> stdio;         ///< when set: the fds that become the guest's 0, 1, 2
  /// Fds that become the guest's 3, 4, ... (an OCI container's LISTEN_FDS and --preserve-fds),
  /// kept with only_stdio; at most kMaxExtraFds.
  std::vector<int> extra_fds;
  /// The guest's environment ends with "LISTEN_PID=" and kListenPidWidth spaces, which the
  /// guest's first process fills with its own pid just before exec (socket activation: the pid
  /// it will have is known only there).
  bool listen_pid = false;
  /// Limits the guest's first process starts with (an OCI container's process.rlimits), set
  /// before exec in the process itself: the kernel backend's launches come from the instance's
  /// init, which the launcher's own limits do not reach. At most kMaxRlimits.
  std::vector<LaunchRlimit> rlimits;
  bool new_session = false;       ///< setsid(), and take stdin as controlling terminal if a tty
  bool only_stdio = false;        ///< the guest inherits fds 0, 1, 2 only (every other is closed at exec)
  /// When set, the guest starts with exactly these signals ignored and these blocked (as the
  /// client that asked for the launch had them), instead of inheriting ours.
  bool set_signals = false;
  std::vector<int> ignored_signals;  ///< with set_signals: ignored (SIG_IGN); every other SIG_DFL
  std::vector<int> blocked_signals;  ///< with set_signals: the signal mask
  /// Kernel backend: the user the guest starts as (unset: the namespace's root).
  std::optional<LaunchIds> ids;
  /// When set, the capabilities kept in the guest's bounding set (bit c: capability c); every
  /// other is dropped before exec (an OCI container's process.capabilities.bounding).
  std::optional<std::uint64_t> bounding_caps;
  /// When set, the guest's inheritable capabilities (an OCI container's
  /// process.capabilities.inheritable), set before exec (they are kept across it).
  std::optional<std::uint64_t> inheritable_caps;
  /// When set, the ambient capabilities raised before exec (process.capabilities.ambient; each
  /// must be permitted and inheritable). Kept across the exec of a file without capabilities.
  std::optional<std::uint64_t> ambient_caps;
  /// A seccomp filter of the guest's own (an OCI container's linux.seccomp), installed beside
  /// lxhost's: the kernel runs both and the stricter action wins (an ERRNO of the container's
  /// profile before lxhost's NOTIFY), so the profile is merged without rewriting either.
  std::vector<sock_filter> extra_filter;
};

/// A forked, not yet seized guest process and its handshake pipes.
class Launcher {
 public:
  /// Called once with the seccomp listener (ownership passes) before the guest runs on.
  using ListenerHandler = std::function<Result<void>(int listener)>;

  /// Forks the child. It blocks until release() is called, then proceeds as described above.
  static Result<Launcher> spawn(const LaunchSpec& spec, const BpfProgram& filter);

  Launcher(Launcher&&) noexcept;
  Launcher& operator=(Launcher&&) = delete;
  ~Launcher();

  /// The child's pid.
  pid_t pid() const noexcept { return pid_; }
  /// A pidfd of the child.
  int pidfd() const noexcept { return pidfd_; }
  /// PTRACE_SEIZEs the child with `options`; on failure the child is killed and reaped.
  Result<void> seize(unsigned long options);
  /// Lets the child go on (call after seize()).
  Result<void> release();
  /// After release(): steps the child to the exit of its seccomp(2), takes the listener it got
  /// and gives it to `on_listener` while the child is still stopped, then lets it run on (to its
  /// exec). Must run on the thread that seized it.
  Result<void> take_listener(const ListenerHandler& on_listener);
  /// Kills the child and reaps it (after a failed handshake).
  void abandon() noexcept;
  /// After the child failed before exec: the error it reported (errno and e.g. "execve: No such
  /// file or directory"), or an Error with code 0 and an empty message when it reported none.
  Error child_error();

 private:
  Launcher() = default;
  Result<void> hand_over_listener(int child_fd, const ListenerHandler& on_listener);
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int go_fd_ = -1;    // write end: one byte releases the child
  int err_fd_ = -1;   // read end: the child's pre-exec error, EOF on successful exec
};

}  // namespace lx::driver
