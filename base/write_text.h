// One write of a whole text to a kernel interface file (/proc/PID/uid_map, a cgroup's
// pids.max...), where a short write is an error, not a reason to write the rest.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

namespace lx {

/// Writes `text` to `path` in one write(2): 0, or the errno of the open or the write (EIO when
/// short).
inline int write_text(const std::string& path, std::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, text.data(), text.size());
  int e = n == static_cast<ssize_t>(text.size()) ? 0 : (n < 0 ? errno : EIO);
  ::close(fd);
  return e;
}

}  // namespace lx
