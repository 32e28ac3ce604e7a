// An instance: the separate process that holds one distro's loaded plugins and runs every launch
// of that distro under the driver. lxhostd starts it (`lxhostd --instance`), passes it launches
// (the client's connection and stdio fds) over a control socket, and tells it to end; a
// crashing plugin takes down this process only, never the service.
#pragma once

namespace lx::service {

/// The instance process's main loop on control socket `control`; returns its exit code.
int instance_main(int control);

}  // namespace lx::service
