// The per-instance process limit ([proc] max_processes) on the calls that make a process, and
// the uname personality ([proc] hostname and release).
#include <linux/sched.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstring>

#include "handlers.h"

namespace lx::proc {

using sdk::SyscallContext;
using sdk::SyscallResult;

// Implements the process limit on fork(2), vfork(2), clone(2), clone3(2); threads are not counted.
SyscallResult handle_fork(ProcState& s, SyscallContext& c) {
  std::uint64_t flags = 0;
  if (c.nr() == sdk::sys::clone) {
    flags = c.flags<std::uint64_t>(0);
  } else if (c.nr() == sdk::sys::clone3) {
    if (int e = c.read(c.ptr(0), flags); e != 0) return sdk::fail(e);  // clone_args.flags comes first
  }
  if (flags & CLONE_THREAD) return SyscallResult::continue_native();
  if (static_cast<std::int64_t>(s.creds.live_count()) >= s.max_processes) return sdk::fail(EAGAIN);
  return SyscallResult::continue_native();
}

// Implements uname(2) with the configured hostname and release.
SyscallResult handle_uname(ProcState& s, SyscallContext& c) {
  utsname u;
  if (::uname(&u) != 0) return sdk::fail(errno);
  if (!s.hostname.empty()) {
    std::memset(u.nodename, 0, sizeof u.nodename);
    std::memcpy(u.nodename, s.hostname.data(), s.hostname.size());
  }
  if (!s.release.empty()) {
    std::memset(u.release, 0, sizeof u.release);
    std::memcpy(u.release, s.release.data(), s.release.size());
  }
  if (int e = c.write(c.ptr(0), u); e != 0) return sdk::fail(e);
  return SyscallResult::value(0);
}

}  // namespace lx::proc
