// Owners of I/O signals and process groups: fcntl F_SETOWN/F_SETOWN_EX and ioctl
// FIOSETOWN/SIOCSPGRP would have the kernel deliver SIGIO (or any F_SETSIG signal) to the
// owner later, so an owner must be a member, or a process group made of members only.
// Only those commands leave the kernel (see the table); every other fcntl and ioctl stays
// native. TIOCSPGRP and setpgid move process groups within the caller's session.
#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "base/proc_status.h"
#include "handlers.h"

namespace lx::signal {
namespace {

using sdk::SyscallContext;
using sdk::SyscallResult;

// Whether `owner` (a pid if > 0, a process group if < 0, nobody if 0) lies inside the instance.
bool owner_inside(const Members& m, int owner) {
  if (owner == 0) return true;
  return owner > 0 ? m.contains(owner) : m.group_inside(-owner);
}

// Runs `op` on a copy of the guest's fd `fd` (the same open file) and returns its result.
template <class Op>
SyscallResult on_copy(SyscallContext& c, int fd, Op op) {
  int mine = copy_guest_fd(c.pid(), fd);
  if (mine < 0) return sdk::fail(-mine);
  long r = op(mine);
  int e = errno;
  close(mine);
  return r < 0 ? sdk::fail(e) : SyscallResult::value(r);
}

}  // namespace

// Implements fcntl(2) F_SETOWN and F_SETOWN_EX (the only commands the kernel sends here).
SyscallResult handle_fcntl(Members& m, SyscallContext& c) {
  int fd = c.fd(0);
  int cmd = c.int_arg(1);
  if (cmd == F_SETOWN) {
    // An integer in a register: checked once, and the native call sees the same value.
    if (!owner_inside(m, static_cast<int>(c.uint_arg(2)))) return sdk::fail(ESRCH);
    return SyscallResult::continue_native();
  }
  if (cmd != F_SETOWN_EX) return SyscallResult::continue_native();
  // The owner is in guest memory: decided on a copy, and set on the guest's open file with it.
  f_owner_ex owner{};
  if (int e = c.read(c.uint_arg(2), owner); e != 0) return sdk::fail(e);
  bool inside = owner.type == F_OWNER_PGRP ? owner.pid <= 0 || m.group_inside(owner.pid)
                                           : owner.pid <= 0 || m.contains(owner.pid);
  if ((owner.type == F_OWNER_TID || owner.type == F_OWNER_PID || owner.type == F_OWNER_PGRP) && !inside)
    return sdk::fail(ESRCH);
  return on_copy(c, fd, [&](int mine) { return static_cast<long>(fcntl(mine, F_SETOWN_EX, &owner)); });
}

// Implements ioctl(2) FIOSETOWN, SIOCSPGRP and TIOCSPGRP (the only commands the kernel sends here).
SyscallResult handle_ioctl(Members& m, SyscallContext& c) {
  int fd = c.fd(0);
  auto cmd = static_cast<unsigned>(c.uint_arg(1));
  int value = 0;
  if (int e = c.read(c.ptr(2), value); e != 0) return sdk::fail(e);
  if (cmd == TIOCSPGRP) {
    // The kernel keeps it to a group of the caller's session; a guest may hand the terminal to
    // its own groups, or back to the group its launch started in (job control on exit).
    if (value > 0 && !m.group_has_member(value) && !m.is_launch_group(value)) return sdk::fail(EPERM);
    return SyscallResult::continue_native();
  }
  if (!owner_inside(m, value)) return sdk::fail(ESRCH);
  return on_copy(c, fd, [&](int mine) { return static_cast<long>(ioctl(mine, cmd, &value)); });
}

namespace {

// Fields of /proc/<pid>/stat after the command: ppid, session and the PF_* flags; false when
// the process is gone.
bool stat_fields(pid_t pid, pid_t& ppid, pid_t& session, unsigned long& flags) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::size_t at = text.rfind(')');
  // state ppid pgrp session tty_nr tpgid flags
  return at != std::string::npos &&
         std::sscanf(text.c_str() + at + 1, " %*c %d %*d %d %*d %*d %lu", &ppid, &session, &flags) == 3;
}

// What the kernel's setpgid answers `caller` for process `pid` and a group that is not there (a
// group outside the instance is one): its checks of the process come first (ksys_setpgid).
int refusal_for_absent_group(pid_t caller, pid_t pid) {
  constexpr unsigned long kForkNoExec = 0x40;  // PF_FORKNOEXEC: forked, not exec'd since
  pid_t ppid = 0, session = 0, own_session = 0, own_ppid = 0;
  unsigned long flags = 0, own_flags = 0;
  auto status = ProcStatus::read(pid);
  if (!stat_fields(pid, ppid, session, flags) || !stat_fields(caller, own_ppid, own_session, own_flags) || !status)
    return ESRCH;
  if (status->tgid() != pid) return EINVAL;  // a thread that does not lead its group
  if (ppid == caller) {
    if (session != own_session) return EPERM;
    if (!(flags & kForkNoExec)) return EACCES;
  } else if (pid != caller) {
    return ESRCH;
  }
  return EPERM;  // a session leader, or the group that is not there
}

}  // namespace

// Implements setpgid(2): only a member moves, and only into a group of the instance (its own,
// one with a member, or the one its launch started in).
SyscallResult handle_setpgid(Members& m, SyscallContext& c) {
  pid_t pid = c.pid_arg(0);
  pid_t pgid = c.pid_arg(1);
  if (pid < 0 || pgid < 0) return SyscallResult::continue_native();  // EINVAL
  if (pid == 0) pid = c.pid();
  if (!m.contains(pid)) return sdk::fail(ESRCH);
  if (pgid != 0 && pgid != pid && !m.group_has_member(pgid) && !m.is_launch_group(pgid))
    return sdk::fail(refusal_for_absent_group(c.pid(), pid));
  return SyscallResult::continue_native();
}

}  // namespace lx::signal
