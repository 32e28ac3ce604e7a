// SO_PEERCRED names the process that connected: the kernel records the pid of the caller of
// connect(2), which for an AF_UNIX connect done on a guest's behalf is lx. The net family keeps
// which guest process each such socket was connected for, and the SO_PEERCRED of its peer (the
// server's accepted socket, found with sock_diag) names that process instead.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <mutex>
#include <unordered_map>

namespace lx::net {

/// Sockets connected on a guest's behalf (by inode) and the guest process each was for. Bounded:
/// the oldest are forgotten first (a socket's SO_PEERCRED is mostly read soon after accept).
class ConnectingPids {
 public:
  static constexpr std::size_t kMax = 4096;
  /// Socket inode `ino` was connected for guest process `pid`.
  void record(ino_t ino, pid_t pid);
  /// The guest process socket `ino` was connected for; 0 when it was not connected on behalf.
  pid_t find(ino_t ino) const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<ino_t, pid_t> pids_;
  std::deque<ino_t> order_;
};

/// The inode of the peer of AF_UNIX socket `ino` (sock_diag, UDIAG_SHOW_PEER); 0 when it has
/// none or the kernel does not say.
ino_t unix_peer_inode(ino_t ino);

}  // namespace lx::net
