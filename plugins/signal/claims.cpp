// The helpers the topic files share: claim builders, kernel-side rules, and the member checks.
#include "claims.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace lx::signal {

using sdk::SyscallResult;

Claim notify(int nr, std::string note, sdk::PluginBase::Handler h, sdk::Support support) {
  Claim c;
  c.spec.nr = nr;
  c.spec.route = sdk::Route::kNotify;
  c.spec.support = support;
  c.spec.note = std::move(note);
  c.handler = std::move(h);
  return c;
}

Claim kernel(int nr, sdk::Route route, int errno_value, std::string note, sdk::Support support) {
  Claim c;
  c.spec.nr = nr;
  c.spec.route = route;
  c.spec.errno_value = errno_value;
  c.spec.support = support;
  c.spec.note = std::move(note);
  return c;
}

sdk::ArgCondition arg_eq(int arg, std::uint64_t value) {
  sdk::ArgCondition c;
  c.arg = arg;
  c.op = sdk::ArgCondition::Op::kEq;
  c.value = value & 0xffffffffu;
  c.width = sdk::ArgCondition::Width::k32;
  return c;
}

sdk::ArgRule allow_when(std::vector<sdk::ArgCondition> conds) {
  sdk::ArgRule r;
  r.all_of = std::move(conds);
  r.route = sdk::Route::kAllow;
  return r;
}

SyscallResult member_or_esrch(const Members& m, pid_t a, pid_t b) {
  if (a <= 0) return SyscallResult::continue_native();
  if (!m.contains(a) || (b > 0 && !m.contains(b))) return SyscallResult::error(ESRCH);
  return SyscallResult::continue_native();
}

SyscallResult pidfd_member_or_esrch(const Members& m, sdk::SyscallContext& c, int fd) {
  auto target = pidfd_target(c.tid(), fd);
  // Not a pidfd: the kernel's own EBADF/EINVAL. A process that is gone: the kernel's ESRCH.
  if (!target || *target == -1) return SyscallResult::continue_native();
  if (*target <= 0 || !m.contains(*target)) return SyscallResult::error(ESRCH);
  return SyscallResult::continue_native();
}

int copy_guest_fd(pid_t pid, int fd) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return -errno;
  int out = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  int e = errno;
  close(pidfd);
  return out < 0 ? -e : out;
}

}  // namespace lx::signal
