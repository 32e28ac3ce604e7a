// The net family's state: what its config asks for (domains, loopback only, the port map) and
// the fs family's path resolver, which every handler of the table reads. Set by configure() and
// connect(), read-only while guests run (but for the sockets connected on behalf).
#pragma once

#include <netinet/in.h>

#include <map>
#include <memory>
#include <vector>

#include <lxhost/interfaces.h>

#include "base/acting_as.h"
#include "bound_names.h"
#include "peer_pids.h"

namespace lx::net {

/// Guest port → host port ([[net.port_map]]).
using PortMap = std::map<in_port_t, in_port_t>;

/// The config of the net family and the interfaces it found.
struct NetState {
  bool restrict_domains = false;       ///< allow_domains is set: socket/socketpair decided in the kernel
  std::vector<int> domains;            ///< the AF_* allowed when restrict_domains
  bool loopback_only = false;          ///< bind = "loopback": only 127.0.0.0/8 and ::1
  PortMap ports;                       ///< guest → host ports
  sdk::PathResolver* paths = nullptr;  ///< the fs family's, when it translates paths (from connect())
  sdk::GuestCredentials* guest_creds = nullptr;  ///< each guest thread's credentials (proc family)
  OwnCredentials own_creds;            ///< this process's, taken in configure()
  /// The kernel backend: the guest has its own mount namespace, so an AF_UNIX path is never
  /// translated but resolved as the guest sees it (guest_view.h) for a call done on its behalf.
  bool kernel = false;
  /// Sockets connected on a guest's behalf, for SO_PEERCRED (the one part that changes while
  /// guests run: it locks itself).
  std::shared_ptr<ConnectingPids> connectors = std::make_shared<ConnectingPids>();
  /// AF_UNIX binds made in lx's own directory (emulated backend), their names for the guest.
  std::shared_ptr<BoundNames> bound = std::make_shared<BoundNames>();

  /// Whether calls that carry an address go through the handlers: addresses are checked or
  /// translated.
  bool handles_addresses() const noexcept { return loopback_only || !ports.empty() || paths != nullptr; }
};

}  // namespace lx::net
