// What a guest's first process does to itself between fork and exec, on both backends: its
// standard fds, its session and controlling terminal, its signal dispositions and mask. Prepared
// before the fork (after it, only async-signal-safe calls in a multi-threaded parent).
#pragma once

#include <signal.h>

#include <cstdint>

#include "driver/launcher.h"

namespace lx::driver {

/// The pre-exec state of a guest's first process (from a LaunchSpec).
struct ChildSetup {
  int stdio[3] = {-1, -1, -1};  ///< fds that become 0, 1, 2 (-1: inherited)
  int extra_fds[kMaxExtraFds] = {};  ///< fds that become 3, 4, ...
  int nextra = 0;                ///< how many of `extra_fds`
  bool new_session = false;     ///< setsid() and take stdin as controlling terminal
  bool only_stdio = false;      ///< every fd above 2 (and the extra ones) closed at exec
  bool set_signals = false;     ///< dispositions and mask as `ignored`/`blocked` say
  std::uint64_t ignored = 0;    ///< bit s-1: signal s ignored
  sigset_t blocked{};           ///< the mask set just before exec
  bool drop_bounding = false;   ///< drop every capability not in `bounding` from the bounding set
  std::uint64_t bounding = 0;   ///< with drop_bounding: bit c keeps capability c
  bool set_inheritable = false; ///< set the inheritable capabilities to `inheritable`
  std::uint64_t inheritable = 0;
  bool raise_ambient = false;   ///< raise the ambient capabilities in `ambient` (after inheritable)
  std::uint64_t ambient = 0;
  sock_fprog extra{};           ///< the guest's own filter (len 0: none); points into the LaunchSpec
  bool listen_pid = false;      ///< fill the environment's last entry (LaunchSpec::listen_pid)
  LaunchRlimit rlimits[kMaxRlimits] = {};  ///< set before exec
  int nrlimits = 0;                        ///< how many of `rlimits`
};

/// The setup `spec` asks for (its stdio fds, as given).
ChildSetup child_setup_of(const LaunchSpec& spec);

/// In the child: handlers back to default, standard fds, session, dispositions (not the mask).
void prepare_child(const ChildSetup& s) noexcept;

/// In the child, just before exec: with `s.listen_pid`, writes this process's pid into the
/// environment's last entry, "LISTEN_PID=" and its room (LaunchSpec::listen_pid).
void fill_listen_pid(const ChildSetup& s, char* const* envp) noexcept;

/// In the child, once lxhost's own filter is decided: the bounding set and the guest's own
/// filter (LaunchSpec::bounding_caps, extra_filter) and its limits (rlimits). 0, or the step
/// that failed (6 bounding set, inheritable or ambient capabilities, 7 the guest's filter, 8 a limit)
/// with errno set.
int restrict_child(const ChildSetup& s) noexcept;

}  // namespace lx::driver
