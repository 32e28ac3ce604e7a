// capget when no plugin emulates capabilities (the proc family's fake root does, and confines
// capget's pid itself): capget of a process outside the instance gets ESRCH. capget reads its
// target from guest memory, so it is served on the guest's behalf on a copy.
#include <linux/capability.h>
#include <unistd.h>

#include <cerrno>

#include "handlers.h"

namespace lx::signal {

using sdk::SyscallContext;
using sdk::SyscallResult;

// Implements capget(2): the header is read once; the kernel answers for that copy.
SyscallResult handle_capget(Members& m, SyscallContext& c) {
  std::uint64_t header = c.ptr(0), data_addr = c.ptr(1);
  __user_cap_header_struct h{};
  if (int e = c.read(header, h); e != 0) return sdk::fail(e);
  __user_cap_header_struct mine = h;
  if (h.pid > 0 && !m.contains(h.pid)) return sdk::fail(ESRCH);
  if (h.pid == 0) mine.pid = c.tid();  // 0 is the caller: here, the guest thread
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  long r = syscall(sdk::sys::capget, &mine, data_addr ? data : nullptr);
  int e = errno;
  if (mine.version != h.version) {  // an unknown version: the kernel tells the one it prefers
    h.version = mine.version;
    if (int we = c.write(header, h); we != 0) return sdk::fail(we);
  }
  if (r < 0) return sdk::fail(e);
  if (data_addr) {
    std::size_t n = h.version == _LINUX_CAPABILITY_VERSION_1 ? 1 : 2;
    if (int we = c.write_memory(data_addr, data, n * sizeof data[0]); we != 0) return sdk::fail(we);
  }
  return SyscallResult::value(0);
}

}  // namespace lx::signal
