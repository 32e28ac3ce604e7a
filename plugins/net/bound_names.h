// AF_UNIX binds of the emulated backend, made safe from a guest's renames: the kernel walks a
// bind's path again when it creates the socket file, and a directory on a translated host path
// swapped for a symlink meanwhile took that file outside the guest's world. So the socket is
// bound by `/proc/self/fd/K/NAME`, K being lx's own fd of the directory the fs family resolved:
// the kernel reaches that very directory through the magic link, and walks nothing a guest can
// change. K stays open while lx remembers the socket, so that the name the kernel keeps for it
// stays unique: the names the kernel reports (getsockname, getpeername, accept, recvfrom) are
// mapped back to what the guest asked for; one lx no longer knows is reported unnamed.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/unique_fd.h"

namespace lx::net {

/// The sockets bound through lx's fds of their directories, by the name they were bound with,
/// and the guest's name for each.
class BoundNames {
 public:
  static constexpr std::size_t kMax = 1024;  // directory fds held at most; the oldest go first
  BoundNames() = default;
  BoundNames(const BoundNames&) = delete;
  BoundNames& operator=(const BoundNames&) = delete;

  /// Binds `sock` to `name` in directory `dir` (taken over) with `umask`, with the calling
  /// thread's credentials, and remembers `guest` as its name: 0 or errno.
  int bind(int sock, UniqueFd dir, const std::string& name, const std::string& guest, mode_t umask);
  /// The guest's name of a socket bound as `host` here; "" for any other name, and `*ours` (when
  /// given) says whether `host` is a name of this scheme at all.
  std::string guest_name(const std::string& host, bool* ours = nullptr) const;

 private:
  struct Entry {
    std::string guest;
    UniqueFd dir;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> names_;
  std::deque<std::string> order_;
};

}  // namespace lx::net
