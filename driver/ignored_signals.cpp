// Signals a guest ignores, under ptrace: dropped at their delivery stop, and the call they
// interrupted with EINTR made again.
#include "driver/ignored_signals.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#include <sys/syscall.h>
#include <time.h>

#include <algorithm>
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

SignalDecision IgnoredSignals::at_stop(pid_t tid, int sig, bool handler_ran) noexcept {
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
  d.restarted = rewind(tid, regs);
  return d;
}

// Rewinds the interrupted call in `regs` with what is left of its timeout (see the header).
bool IgnoredSignals::rewind(pid_t tid, user_regs_struct& regs) noexcept {
  int nr = static_cast<int>(regs.orig_rax);
  bool timespec_arg = nr == SYS_rt_sigtimedwait || nr == SYS_epoll_pwait2;
  if (!timespec_arg && nr != SYS_epoll_wait && nr != SYS_epoll_pwait) return false;
  // rt_sigtimedwait(set, info, timeout, size): rdx; epoll_*(epfd, events, max, timeout, ...): r10
  unsigned long long& arg = nr == SYS_rt_sigtimedwait ? regs.rdx : regs.r10;
  auto now = std::chrono::steady_clock::now();
  auto it = calls_.find(tid);
  if (it == calls_.end() || it->second.marker != arg) {  // a call not rewound before: its first interruption
    Interrupted first{now, -1, 0};
    if (timespec_arg && arg != 0) {
      timespec ts{};
      iovec local{&ts, sizeof ts};
      iovec remote{reinterpret_cast<void*>(arg), sizeof ts};
      if (process_vm_readv(tid, &local, 1, &remote, 1, 0) != sizeof ts) return false;
      first.timeout_ns = ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
    } else if (!timespec_arg && static_cast<int>(arg) >= 0) {
      first.timeout_ns = static_cast<int>(arg) * 1'000'000LL;
    }
    it = calls_.insert_or_assign(tid, first).first;
  }
  Interrupted& call = it->second;
  std::int64_t left = -1;
  if (call.timeout_ns >= 0)
    left = std::max<std::int64_t>(0, call.timeout_ns - std::chrono::duration_cast<std::chrono::nanoseconds>(now - call.first).count());
  if (timespec_arg && left >= 0) {
    timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
    std::uint64_t at = (regs.rsp - 128 - sizeof ts) & ~std::uint64_t{15};  // below the red zone
    iovec local{&ts, sizeof ts};
    iovec remote{reinterpret_cast<void*>(at), sizeof ts};
    if (process_vm_writev(tid, &local, 1, &remote, 1, 0) != sizeof ts) return false;
    arg = at;
  } else if (!timespec_arg && left >= 0) {
    arg = static_cast<unsigned long long>(static_cast<int>((left + 999'999) / 1'000'000));
  }
  call.marker = arg;
  regs.rax = regs.orig_rax;  // as the kernel's own restart: the same call
  regs.rip -= 2;
  return ptrace(PTRACE_SETREGS, tid, 0, &regs) == 0;
}

}  // namespace lx::driver
