// A file descriptor owned by one object and closed with it (host code and in-tree plugins).
#pragma once

#include <unistd.h>

#include <utility>

namespace lx {

/// Owns one fd (-1: none) and closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  /// The fd, still owned.
  int get() const noexcept { return fd_; }
  /// Whether an fd is held.
  explicit operator bool() const noexcept { return fd_ >= 0; }
  /// Gives the fd up without closing it.
  int release() noexcept { return std::exchange(fd_, -1); }
  /// Closes the held fd and holds `fd` instead.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace lx
