// Typed, bounded access to a guest's memory through process_vm_readv/process_vm_writev.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace lx::driver {

/// Reads and writes the memory of one guest thread's address space. Every function returns 0
/// or a positive errno (EFAULT for an unmapped address, ESRCH when the guest is gone).
class GuestMemory {
 public:
  /// Access to the address space of thread `tid`.
  explicit GuestMemory(pid_t tid) noexcept : tid_(tid) {}

  /// Copies exactly `len` bytes at guest address `addr` into `out`.
  int read(std::uint64_t addr, void* out, std::size_t len) const noexcept;
  /// Copies exactly `len` bytes from `in` to guest address `addr`.
  int write(std::uint64_t addr, const void* in, std::size_t len) const noexcept;
  /// Reads a NUL-terminated string of at most `max` bytes (excluding the NUL) into `out`,
  /// page by page so that a string ending just before an unmapped page still reads.
  /// ENAMETOOLONG when no NUL is found within `max` bytes.
  int read_string(std::uint64_t addr, std::string& out, std::size_t max) const noexcept;

 private:
  pid_t tid_;
};

}  // namespace lx::driver
