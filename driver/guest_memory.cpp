// GuestMemory: process_vm_readv/process_vm_writev with exact-length and page-wise string reads.
#include "driver/guest_memory.h"

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lx::driver {
namespace {

constexpr std::uint64_t kPageSize = 4096;

// Moves `len` bytes between local `buf` and remote `addr`; 0 or errno.
int transfer(pid_t tid, std::uint64_t addr, void* buf, std::size_t len, bool write) noexcept {
  if (len == 0) return 0;
  if (addr == 0) return EFAULT;
  std::size_t done = 0;
  while (done < len) {
    iovec local{static_cast<char*>(buf) + done, len - done};
    iovec remote{reinterpret_cast<void*>(addr + done), len - done};
    ssize_t n = write ? process_vm_writev(tid, &local, 1, &remote, 1, 0)
                      : process_vm_readv(tid, &local, 1, &remote, 1, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EFAULT;  // partial transfer stopped at an unmapped page
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

}  // namespace

int GuestMemory::read(std::uint64_t addr, void* out, std::size_t len) const noexcept {
  return transfer(tid_, addr, out, len, false);
}

int GuestMemory::write(std::uint64_t addr, const void* in, std::size_t len) const noexcept {
  return transfer(tid_, addr, const_cast<void*>(in), len, true);
}

int GuestMemory::read_string(std::uint64_t addr, std::string& out, std::size_t max) const noexcept {
  out.clear();
  if (addr == 0) return EFAULT;
  char chunk[kPageSize];
  std::uint64_t cur = addr;
  try {
    while (out.size() <= max) {
      // Never cross a page boundary in one read: the next page may be unmapped.
      std::size_t n = kPageSize - (cur % kPageSize);
      if (int e = read(cur, chunk, n); e != 0) return e;
      if (const void* nul = std::memchr(chunk, '\0', n)) {
        std::size_t len = static_cast<const char*>(nul) - chunk;
        if (out.size() + len > max) return ENAMETOOLONG;
        out.append(chunk, len);
        return 0;
      }
      out.append(chunk, n);
      cur += n;
    }
  } catch (...) {
    return ENOMEM;
  }
  return ENAMETOOLONG;
}

}  // namespace lx::driver
