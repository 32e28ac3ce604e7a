// capget and capset when no plugin emulates capabilities (the proc family's fake root does,
// and confines capget's pid itself): capget of a process outside the instance gets ESRCH.
// capget reads its target from guest memory, so it is served on the guest's behalf on a copy.
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "claims.h"

namespace lx::signal {
namespace {

using sdk::SyscallContext;
using sdk::SyscallResult;

// Implements capget(2): the header is read once; the kernel answers for that copy.
SyscallResult capget_(const Members& m, SyscallContext& c) {
  __user_cap_header_struct h{};
  if (int e = c.read(c.arg(0), h); e != 0) return SyscallResult::error(e);
  __user_cap_header_struct mine = h;
  if (h.pid > 0 && !m.contains(h.pid)) return SyscallResult::error(ESRCH);
  if (h.pid == 0) mine.pid = c.tid();  // 0 is the caller: here, the guest thread
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  long r = syscall(SYS_capget, &mine, c.arg(1) ? data : nullptr);
  int e = errno;
  if (mine.version != h.version) {  // an unknown version: the kernel tells the one it prefers
    h.version = mine.version;
    if (int we = c.write(c.arg(0), h); we != 0) return SyscallResult::error(we);
  }
  if (r < 0) return SyscallResult::error(e);
  if (c.arg(1)) {
    std::size_t n = h.version == _LINUX_CAPABILITY_VERSION_1 ? 1 : 2;
    if (int we = c.write_memory(c.arg(1), data, n * sizeof data[0]); we != 0) return SyscallResult::error(we);
  }
  return SyscallResult::value(0);
}

}  // namespace

std::vector<Claim> capability_claims(Members& m) {
  std::vector<Claim> out;
  out.push_back(notify(SYS_capget, "pids outside the instance: ESRCH",
                       [&m](SyscallContext& c) { return capget_(m, c); }));
  out.push_back(kernel(SYS_capset, sdk::Route::kAllow, 0, "the kernel limits it to the caller (EPERM otherwise)",
                       sdk::Support::kFull));
  return out;
}

}  // namespace lx::signal
