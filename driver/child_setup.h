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
  bool new_session = false;     ///< setsid() and take stdin as controlling terminal
  bool only_stdio = false;      ///< every fd above 2 closed at exec
  bool set_signals = false;     ///< dispositions and mask as `ignored`/`blocked` say
  std::uint64_t ignored = 0;    ///< bit s-1: signal s ignored
  sigset_t blocked{};           ///< the mask set just before exec
};

/// The setup `spec` asks for (its stdio fds, as given).
ChildSetup child_setup_of(const LaunchSpec& spec);

/// In the child: handlers back to default, standard fds, session, dispositions (not the mask).
void prepare_child(const ChildSetup& s) noexcept;

}  // namespace lx::driver
