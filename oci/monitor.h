// lxhost-runc: the container's process, lxhost's *monitor* (see container.h): it builds the
// instance, reports to `create`, waits for `start`, runs the process, serves `exec`, and exits
// as the process exited.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "oci/container.h"
#include "oci/spec.h"

namespace lx::oci {

/// What the monitor is given by `create`.
struct MonitorArgs {
  const Spec* spec = nullptr;                ///< the bundle's config.json
  const CreateOptions* options = nullptr;    ///< create's (or run's) options
  std::string state_dir;                     ///< STATE/ID
  std::vector<sock_filter> filter;           ///< the bundle's seccomp profile, compiled
  int report_fd = -1;                        ///< "ok BACKEND" or "error WHY" goes there
  int listen_fds = 0;  ///< LISTEN_FDS given to lxhost-runc
  int extra_fds = 0;   ///< fds 3.. the process gets: LISTEN_FDS + --preserve-fds
};

/// The monitor, in the process `create` forked. Never returns.
[[noreturn]] void monitor_main(MonitorArgs a);

/// A new pty of the devpts whose ptmx is open at `ptmx` (the container's own under the kernel
/// backend, so that ttyname() inside finds it), its master sent to the console socket at
/// `console_socket` (the pty's name as the message, the fd as SCM_RIGHTS, as runc sends it); its
/// slave, opened from the master (TIOCGPTPEER: no path lookup).
Result<UniqueFd> pty_for_console(UniqueFd ptmx, const std::string& console_socket);

/// The ptmx of container `monitor`'s processes, opened: with `root` (the kernel instance's root
/// fd) the instance's own; else that of the first of its processes whose /proc/PID/root opens
/// (init's is closed to a user who is not root: it is not dumpable); the host's where the
/// container has no PID namespace of its own (the emulated backend).
Result<UniqueFd> open_ptmx(pid_t monitor, int root = -1);

}  // namespace lx::oci
