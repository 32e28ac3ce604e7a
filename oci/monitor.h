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

/// A new pty of the devpts that `ptmx` opens (the container's own under the kernel backend, so
/// that ttyname() inside finds it), its master sent to the console socket at `console_socket`
/// (the pty's name as the message, the fd as SCM_RIGHTS, as runc sends it); its slave, opened
/// from the master (TIOCGPTPEER: no path lookup).
Result<UniqueFd> pty_for_console(const std::string& ptmx, const std::string& console_socket);

/// The ptmx of container `monitor`'s processes: its instance's own under the kernel backend.
std::string ptmx_of(pid_t monitor);

}  // namespace lx::oci
