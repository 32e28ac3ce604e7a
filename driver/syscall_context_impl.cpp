// NotifyContext and TraceContext: guest memory, notification validity, fd installation and
// register rewriting.
#include "driver/syscall_context_impl.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <lxhost/syscall_table.h>

#include "base/proc_status.h"

namespace lx::driver {
using sdk::ArgKind;
using sdk::SyscallInfo;
using sdk::SyscallTable;

std::uint64_t reg_arg(const user_regs_struct& regs, int i) noexcept {
  switch (i) {
    case 0: return regs.rdi;
    case 1: return regs.rsi;
    case 2: return regs.rdx;
    case 3: return regs.r10;
    case 4: return regs.r8;
    case 5: return regs.r9;
  }
  return 0;
}

void set_reg_arg(user_regs_struct& regs, int i, std::uint64_t v) noexcept {
  switch (i) {
    case 0: regs.rdi = v; break;
    case 1: regs.rsi = v; break;
    case 2: regs.rdx = v; break;
    case 3: regs.r10 = v; break;
    case 4: regs.r8 = v; break;
    case 5: regs.r9 = v; break;
  }
}

pid_t thread_group_of(pid_t tid) noexcept {
  auto status = ProcStatus::read(tid);
  return status.ok() ? status->tgid().value_or(tid) : tid;
}

const char* NotifyContext::name() const noexcept { return SyscallTable::name(nr()).data(); }

pid_t NotifyContext::pid() const noexcept {
  if (tgid_ == 0) tgid_ = thread_group_of(tid());
  return tgid_;
}

int NotifyContext::read_memory(std::uint64_t addr, void* out, std::size_t len) noexcept {
  if (int e = mem_.read(addr, out, len); e != 0) return e;
  // The thread may have died and its tid been reused between RECV and the read.
  return still_valid() ? 0 : ESRCH;
}

int NotifyContext::write_memory(std::uint64_t addr, const void* in, std::size_t len) noexcept {
  if (!still_valid()) return ESRCH;
  return mem_.write(addr, in, len);
}

int NotifyContext::read_string(std::uint64_t addr, std::string& out, std::size_t max) noexcept {
  if (int e = mem_.read_string(addr, out, max); e != 0) return e;
  return still_valid() ? 0 : ESRCH;
}

bool NotifyContext::still_valid() noexcept {
  std::uint64_t id = req_.id;
  return ioctl(listener_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

sdk::SyscallResult NotifyContext::reply(sdk::SyscallResult result) noexcept {
  seccomp_notif_resp resp{};
  resp.id = req_.id;
  switch (result.kind()) {
    case sdk::SyscallResult::Kind::kValue:
      resp.val = result.value();
      break;
    case sdk::SyscallResult::Kind::kError:
      resp.error = -result.error();
      break;
    case sdk::SyscallResult::Kind::kContinue:
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      break;
    case sdk::SyscallResult::Kind::kRewritten:
      // Registers cannot be rewritten on this route: a plugin bug, reported to the guest.
      result = sdk::SyscallResult::error(ENOSYS);
      resp.error = -ENOSYS;
      break;
    case sdk::SyscallResult::Kind::kResponded:
      return result;  // install_fd answered already
  }
  // ENOENT: the guest thread was killed or interrupted meanwhile; nothing to answer.
  (void)ioctl(listener_, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  return result;
}

// The other answer: the fd is added and the call answered with its number in one step, so that a
// guest interrupted meanwhile gets no fd it does not know of.
sdk::SyscallResult NotifyContext::install_fd(int host_fd, unsigned guest_flags) noexcept {
  seccomp_notif_addfd addfd{};
  addfd.id = req_.id;
  addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
  addfd.srcfd = static_cast<std::uint32_t>(host_fd);
  addfd.newfd = 0;
  addfd.newfd_flags = guest_flags & O_CLOEXEC;
  int fd = ioctl(listener_, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
  if (fd < 0) return sdk::SyscallResult::error(errno);
  return sdk::SyscallResult::responded(fd);
}

const char* TraceContext::name() const noexcept { return SyscallTable::name(nr()).data(); }

int TraceContext::set_arg(int i, std::uint64_t value) noexcept {
  if (i < 0 || i > 5) return EINVAL;
  set_reg_arg(regs_, i, value);
  dirty_ = true;
  return 0;
}

int TraceContext::set_nr(int nr) noexcept {
  regs_.orig_rax = static_cast<std::uint64_t>(static_cast<std::int64_t>(nr));
  dirty_ = true;
  return 0;
}

}  // namespace lx::driver
