// Signals a guest ignores, under ptrace: dropped at their delivery stop, and the call they
// interrupted with EINTR made again.
#include "driver/ignored_signals.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#include <cerrno>
#include <cstdint>

#include "base/proc_status.h"

namespace lx::driver {
namespace {

constexpr unsigned long long bit(int sig) noexcept { return 1ULL << (sig - 1); }

// The syscall instruction (0f 05) ends just before `rip`: the thread is at the return of a call.
bool after_syscall_instruction(pid_t tid, std::uint64_t rip) noexcept {
  unsigned char code[2] = {};
  iovec local{code, sizeof code};
  iovec remote{reinterpret_cast<void*>(rip - 2), sizeof code};
  return process_vm_readv(tid, &local, 1, &remote, 1, 0) == 2 && code[0] == 0x0f && code[1] == 0x05;
}

}  // namespace

bool ignores(int sig, unsigned long long ignored, unsigned long long caught) noexcept {
  if (sig < 1 || sig > 64 || sig == SIGKILL || sig == SIGSTOP) return false;
  if (ignored & bit(sig)) return true;
  bool default_ignore = sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
  return default_ignore && !(caught & bit(sig));
}

SignalDecision at_signal_stop(pid_t tid, int sig, bool handler_ran) noexcept {
  auto st = ProcStatus::read(tid);
  if (!st) return {sig, false};
  auto ign = st->sig_ignored(), cgt = st->sig_caught(), blk = st->sig_blocked();
  auto pnd = st->sig_pending(), shd = st->shared_pending();
  if (!ign || !cgt || !blk || !pnd || !shd || !ignores(sig, *ign, *cgt)) return {sig, false};
  SignalDecision d{0, false};
  if (handler_ran) return d;
  // Another signal that will be delivered interrupts the call natively too: leave it as it is.
  unsigned long long others = (*pnd | *shd) & ~*blk;
  for (int s = 1; s <= 64; ++s)
    if ((others & bit(s)) && !ignores(s, *ign, *cgt)) return d;
  user_regs_struct regs;
  if (ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0) return d;
  if (static_cast<long long>(regs.orig_rax) < 0 || static_cast<long long>(regs.rax) != -EINTR) return d;
  if (!after_syscall_instruction(tid, regs.rip)) return d;
  regs.rax = regs.orig_rax;  // as the kernel's own restart: the same call, its arguments unchanged
  regs.rip -= 2;
  d.restarted = ptrace(PTRACE_SETREGS, tid, 0, &regs) == 0;
  return d;
}

}  // namespace lx::driver
