// A file descriptor that closes itself.
#pragma once

#include <unistd.h>

#include <utility>

namespace lx::fs {

/// Owns one fd (or none, -1).
class UniqueFd {
 public:
  UniqueFd() = default;
  /// Takes `fd`.
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  /// The fd, or -1.
  int get() const noexcept { return fd_; }
  /// Whether an fd is held.
  explicit operator bool() const noexcept { return fd_ >= 0; }
  /// Closes the held fd and takes `fd`.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  /// Gives up ownership.
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

}  // namespace lx::fs
