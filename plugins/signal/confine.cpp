// The checks every topic file shares: is a pid, a pair of pids or a pidfd's process a member,
// and a copy of a guest's fd to act on its open file.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include <lxhost/syscall_table.h>

#include "handlers.h"

namespace lx::signal {

using sdk::SyscallResult;

SyscallResult member_or_esrch(const Members& m, pid_t a, pid_t b) {
  if (a <= 0) return SyscallResult::continue_native();
  if (!m.contains(a) || (b > 0 && !m.contains(b))) return sdk::fail(ESRCH);
  return SyscallResult::continue_native();
}

SyscallResult pidfd_member_or_esrch(const Members& m, sdk::SyscallContext& c, int fd) {
  auto target = pidfd_target(c.tid(), fd);
  // Not a pidfd: the kernel's own EBADF/EINVAL. A process that is gone: the kernel's ESRCH.
  if (!target || *target == -1) return SyscallResult::continue_native();
  if (*target <= 0 || !m.contains(*target)) return sdk::fail(ESRCH);
  return SyscallResult::continue_native();
}

SyscallResult first_pid_member(Members& m, sdk::SyscallContext& c) { return member_or_esrch(m, c.pid_arg(0)); }

SyscallResult both_pids_members(Members& m, sdk::SyscallContext& c) {
  return member_or_esrch(m, c.pid_arg(0), c.pid_arg(1));
}

SyscallResult pidfd_member(Members& m, sdk::SyscallContext& c) { return pidfd_member_or_esrch(m, c, c.fd(0)); }

int copy_guest_fd(pid_t pid, int fd) {
  int pidfd = static_cast<int>(syscall(sdk::sys::pidfd_open, pid, 0));
  if (pidfd < 0) return -errno;
  int out = static_cast<int>(syscall(sdk::sys::pidfd_getfd, pidfd, fd, 0));
  int e = errno;
  close(pidfd);
  return out < 0 ? -e : out;
}

}  // namespace lx::signal
