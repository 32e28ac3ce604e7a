// AF_UNIX binds of the emulated backend, made safe from a guest's renames: the kernel walks a
// bind's path again when it creates the socket file, and a directory on a translated host path
// swapped for a symlink meanwhile took that file outside the guest's world. So the socket is
// bound in a directory of lx's own, where no guest can swap anything, and its file is then renamed
// into the directory the fs family resolved (held as an fd) under the name the guest asked for.
// The socket keeps the name it was bound with: the names the kernel reports (getsockname,
// getpeername, accept, recvfrom) are mapped back to what the guest asked for.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/unique_fd.h"

namespace lx::net {

/// The sockets bound in lx's directory, by the name they were bound with, and the guest's name.
class BoundNames {
 public:
  static constexpr std::size_t kMax = 65536;  // the oldest forgotten first
  BoundNames() = default;
  BoundNames(const BoundNames&) = delete;
  BoundNames& operator=(const BoundNames&) = delete;
  ~BoundNames();

  /// Binds `sock` in lx's directory with `umask`, then moves its file to `name` in directory
  /// `dir` (the guest's credentials on that directory, as its own bind: EACCES, and EADDRINUSE
  /// for a name taken) and remembers `guest` as its name: 0 or errno.
  int bind(int sock, int dir, const std::string& name, const std::string& guest, mode_t umask);
  /// The guest's name of a socket bound as `host` here; "" for any other name.
  std::string guest_name(const std::string& host) const;

 private:
  int make_dir();  // lx's directory, made at the first bind (its mutex held)

  mutable std::mutex mu_;
  std::string dir_;
  UniqueFd dir_fd_;
  unsigned long next_ = 0;
  std::unordered_map<std::string, std::string> names_;
  std::deque<std::string> order_;
};

}  // namespace lx::net
