// Unit tests of the signal family's table and handlers, without a guest: each handler runs on a
// FakeSyscallContext for a call of this test process (a member) naming its parent (not one),
// and each row's policy is applied to integer arguments as the filter compiled from it would.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <linux/sockios.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include <gtest/gtest.h>
#include <lxhost/testing/fake_syscall_context.h>

#include "handlers.h"
#include "signal_table.h"

namespace lx::signal {
namespace {

namespace sys = sdk::sys;
using sdk::Route;
using sdk::SyscallResult;
using sdk::testing::FakeSyscallContext;
using Kind = SyscallResult::Kind;

// Waits until child `pid` has exited, without reaping it (waitid with WNOWAIT).
bool wait_until_zombie(pid_t pid) {
  siginfo_t si{};
  return waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT) == 0 && si.si_pid == pid;
}

// The row of `nr` in the table.
const sdk::Row<Members>& row(int nr) {
  for (const SignalRow& r : signal_table())
    if (r.row.nr == nr) return r.row;
  ADD_FAILURE() << "no row for " << sdk::SyscallTable::name(nr);
  static const sdk::Row<Members> none{-1, {}, nullptr};
  return none;
}

// Whether condition `c` holds for `args`, as the filter compiled from it decides.
bool holds(const sdk::ArgCondition& c, const std::uint64_t (&args)[6]) {
  std::uint64_t v = c.width == sdk::ArgCondition::Width::k32 ? args[c.arg] & 0xffffffffu : args[c.arg];
  switch (c.op) {
    case sdk::ArgCondition::Op::kEq: return v == c.value;
    case sdk::ArgCondition::Op::kNe: return v != c.value;
    case sdk::ArgCondition::Op::kLt: return v < c.value;
    case sdk::ArgCondition::Op::kGe: return v >= c.value;
    case sdk::ArgCondition::Op::kMaskedEq: return (v & c.mask) == c.value;
  }
  return false;
}

// The route the kernel gives the call `nr(args...)` under its row's policy: the first rule
// whose conditions all hold, else the policy's own.
Route route(int nr, std::uint64_t a0 = 0, std::uint64_t a1 = 0, std::uint64_t a2 = 0, std::uint64_t a3 = 0,
            std::uint64_t a4 = 0) {
  const sdk::Policy& p = row(nr).policy;
  const std::uint64_t args[6] = {a0, a1, a2, a3, a4, 0};
  for (const sdk::ArgRule& r : p.rules)
    if (std::all_of(r.all_of.begin(), r.all_of.end(), [&](const auto& c) { return holds(c, args); }))
      return r.route;
  return p.otherwise.route;
}

class SignalCalls : public ::testing::Test {
 protected:
  SignalCalls() { members_.add(getpid()); }

  // Runs the row's handler of `ctx`'s syscall, and checks it read every argument as its kind.
  SyscallResult handle(FakeSyscallContext& ctx) {
    SyscallResult r = row(ctx.nr()).handler(members_, ctx);
    EXPECT_TRUE(ctx.kind_mismatches().empty()) << ctx.name() << " read an argument as the wrong kind";
    return r;
  }
  // The handler's result for `nr(args...)` called by this process.
  SyscallResult call(int nr, std::initializer_list<std::uint64_t> args) {
    FakeSyscallContext ctx(nr);
    ctx.set_args(args);
    return handle(ctx);
  }

  Members members_;
  const std::uint64_t self_ = static_cast<std::uint64_t>(getpid());
  const std::uint64_t outsider_ = static_cast<std::uint64_t>(getppid());  // alive, not a member
};

TEST_F(SignalCalls, TheTableHasOneRowPerSyscallAndHandlersForWhatLeavesTheKernel) {
  std::set<int> seen;
  for (const SignalRow& r : signal_table()) {
    EXPECT_TRUE(seen.insert(r.row.nr).second) << "two rows for " << sdk::SyscallTable::name(r.row.nr);
    EXPECT_FALSE(r.row.note.empty()) << sdk::SyscallTable::name(r.row.nr);
    bool leaves = r.row.policy.otherwise.route == Route::kNotify;
    for (const auto& rule : r.row.policy.rules) leaves = leaves || rule.route == Route::kNotify;
    EXPECT_EQ(leaves, r.row.handler != nullptr) << sdk::SyscallTable::name(r.row.nr);
  }
}

TEST_F(SignalCalls, APidOutsideTheInstanceIsNotFound) {
  for (int nr : {sys::tkill, sys::rt_sigqueueinfo, sys::pidfd_open, sys::process_vm_readv, sys::process_vm_writev,
                 sys::prlimit64, sys::sched_getparam, sys::sched_getaffinity, sys::get_robust_list,
                 sys::migrate_pages, sys::move_pages, sys::getpgid, sys::getsid, sys::kill}) {
    EXPECT_EQ(call(nr, {outsider_}).error(), ESRCH) << sdk::SyscallTable::name(nr);
    EXPECT_EQ(call(nr, {self_}).kind(), Kind::kContinue) << sdk::SyscallTable::name(nr);
  }
  for (int nr : {sys::tgkill, sys::rt_tgsigqueueinfo, sys::kcmp}) {
    EXPECT_EQ(call(nr, {self_, outsider_}).error(), ESRCH) << sdk::SyscallTable::name(nr);
    EXPECT_EQ(call(nr, {outsider_, self_}).error(), ESRCH) << sdk::SyscallTable::name(nr);
    EXPECT_EQ(call(nr, {self_, self_}).kind(), Kind::kContinue) << sdk::SyscallTable::name(nr);
  }
}

// A launch's first process is lx's own until it exec's its program: every capability, the
// instance's fds (seccomp listeners included). A guest that found its pid took a listener with
// pidfd_getfd (found by an attack): it is no member until then.
TEST_F(SignalCalls, ALaunchNotYetExecdIsNotFound) {
  const std::uint64_t launch = static_cast<std::uint64_t>(getppid());
  members_.add(static_cast<pid_t>(launch), true);
  EXPECT_EQ(call(sys::pidfd_open, {launch}).error(), ESRCH);
  EXPECT_EQ(call(sys::process_vm_writev, {launch}).error(), ESRCH);
  members_.launched(static_cast<pid_t>(launch));
  EXPECT_EQ(call(sys::pidfd_open, {launch}).kind(), Kind::kContinue);
  members_.remove(static_cast<pid_t>(launch));
}

TEST_F(SignalCalls, TheCallerItselfStaysInTheKernel) {
  EXPECT_EQ(route(sys::sched_setaffinity, 0), Route::kAllow);
  EXPECT_EQ(route(sys::sched_setaffinity, self_), Route::kNotify);
  EXPECT_EQ(route(sys::getpriority, PRIO_PROCESS, 0), Route::kAllow);
  EXPECT_EQ(route(sys::getpriority, PRIO_PGRP, 0), Route::kNotify);
  EXPECT_EQ(route(sys::ioprio_get, kIoprioWhoProcess, 0), Route::kAllow);
  EXPECT_EQ(route(sys::ioprio_get, kIoprioWhoProcess, self_), Route::kNotify);
  EXPECT_EQ(route(sys::setpgid, 0, 0), Route::kAllow);
  EXPECT_EQ(route(sys::setpgid, 0, 1), Route::kNotify);
  EXPECT_EQ(route(sys::perf_event_open, 0, 0, 0, 0, 0), Route::kAllow);
  EXPECT_EQ(route(sys::perf_event_open, 0, 0, 0, 0, PERF_FLAG_PID_CGROUP), Route::kNotify);
  EXPECT_EQ(route(sys::ptrace, PTRACE_ATTACH), Route::kErrno);
}

TEST_F(SignalCalls, OnlyTheCommandsThatSetAnOwnerLeaveTheKernel) {
  EXPECT_EQ(route(sys::fcntl, 0, F_SETOWN), Route::kNotify);
  EXPECT_EQ(route(sys::fcntl, 0, F_SETOWN_EX), Route::kNotify);
  EXPECT_EQ(route(sys::fcntl, 0, F_GETFL), Route::kAllow);
  EXPECT_EQ(route(sys::ioctl, 0, FIOSETOWN), Route::kNotify);
  EXPECT_EQ(route(sys::ioctl, 0, TIOCSPGRP), Route::kNotify);
  EXPECT_EQ(route(sys::ioctl, 0, TIOCGPGRP), Route::kAllow);
}

TEST_F(SignalCalls, KillMinusOneSparesTheCallerAndReachesMembersOnly) {
  // The only member is the caller: kill(-1) finds nobody, as natively with nobody else.
  EXPECT_EQ(call(sys::kill, {static_cast<std::uint64_t>(-1), 0}).error(), ESRCH);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  members_.add(child);
  EXPECT_EQ(call(sys::kill, {static_cast<std::uint64_t>(-1), 0}).kind(), Kind::kValue);
  EXPECT_EQ(call(sys::kill, {static_cast<std::uint64_t>(-1), SIGKILL}).kind(), Kind::kValue);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  members_.remove(child);
}

TEST_F(SignalCalls, KillOfAGroupOrEverybodyChecksTheSignal) {
  EXPECT_EQ(call(sys::kill, {static_cast<std::uint64_t>(-1), NSIG + 1}).error(), EINVAL);
  EXPECT_EQ(call(sys::kill, {0, 0}).kind(), Kind::kValue);  // the caller's own group: the caller
  EXPECT_EQ(call(sys::kill, {static_cast<std::uint64_t>(-1), 0}).error(), ESRCH);
}

// Issue 12: kill(INT_MIN, SIGKILL) killed the caller itself; natively it is ESRCH, whatever the
// signal (the kernel tells INT_MIN from a group before it looks at the signal).
TEST_F(SignalCalls, KillOfIntMinIsNotFound) {
  const auto int_min = static_cast<std::uint64_t>(static_cast<std::int64_t>(INT_MIN));
  EXPECT_EQ(call(sys::kill, {int_min, 0}).error(), ESRCH);
  EXPECT_EQ(call(sys::kill, {int_min, NSIG + 1}).error(), ESRCH);
}

// Issue 12: a child that has exited but is not yet reaped left the members, and signalling it
// gave ESRCH where Linux gives 0 (sigwait-style code broke by timing).
TEST_F(SignalCalls, AnUnreapedChildCanStillBeSignalled) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  members_.add(child);
  ASSERT_TRUE(wait_until_zombie(child));
  members_.remove(child);  // as the tracer does when it sees the exit
  EXPECT_EQ(call(sys::kill, {static_cast<std::uint64_t>(child), 0}).kind(), Kind::kValue);
  EXPECT_EQ(call(sys::kill, {static_cast<std::uint64_t>(child), SIGKILL}).kind(), Kind::kValue);
  EXPECT_EQ(call(sys::kill, {static_cast<std::uint64_t>(child), NSIG + 1}).error(), EINVAL);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  EXPECT_EQ(call(sys::kill, {static_cast<std::uint64_t>(child), 0}).error(), ESRCH);  // reaped: gone
}

TEST_F(SignalCalls, APidfdOfAProcessOutsideIsNotFound) {
  int outside = static_cast<int>(syscall(SYS_pidfd_open, getppid(), 0));
  int mine = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
  if (outside < 0 || mine < 0) GTEST_SKIP() << "no pidfd_open";
  for (int nr : {sys::pidfd_send_signal, sys::pidfd_getfd, sys::process_madvise, sys::setns}) {
    EXPECT_EQ(call(nr, {static_cast<std::uint64_t>(outside)}).error(), ESRCH) << sdk::SyscallTable::name(nr);
    EXPECT_EQ(call(nr, {static_cast<std::uint64_t>(mine)}).kind(), Kind::kContinue) << sdk::SyscallTable::name(nr);
  }
  close(outside);
  close(mine);
}

TEST_F(SignalCalls, PrioritiesOfGroupsAndUsersCoverMembersOnly) {
  EXPECT_EQ(call(sys::getpriority, {PRIO_PROCESS, outsider_}).error(), ESRCH);
  EXPECT_EQ(call(sys::getpriority, {PRIO_USER, static_cast<std::uint64_t>(-5)}).error(), ESRCH);  // as natively: an invalid uid covers nobody
  EXPECT_EQ(call(sys::getpriority, {PRIO_PGRP, 1}).error(), ESRCH);  // init's group: no member in it
  SyscallResult mine = call(sys::getpriority, {PRIO_PGRP, 0});
  ASSERT_EQ(mine.kind(), Kind::kValue);
  EXPECT_EQ(mine.value(), 20 - getpriority(PRIO_PROCESS, 0));  // the raw value: 20 - nice
  EXPECT_EQ(call(sys::ioprio_get, {kIoprioWhoProcess, outsider_}).error(), ESRCH);
  EXPECT_EQ(call(sys::ioprio_get, {kIoprioWhoPgrp, 1}).error(), ESRCH);
}

TEST_F(SignalCalls, PerfEventsOfEveryProcessAreRefused) {
  auto any = static_cast<std::uint64_t>(-1);
  EXPECT_EQ(call(sys::perf_event_open, {0, any, any, any, PERF_FLAG_PID_CGROUP}).error(), EACCES);
  EXPECT_EQ(call(sys::perf_event_open, {0, any, 0, any, 0}).error(), EACCES);
  EXPECT_EQ(call(sys::perf_event_open, {0, any, any, any, 0}).kind(), Kind::kContinue);
  EXPECT_EQ(call(sys::perf_event_open, {0, outsider_, any, any, 0}).error(), ESRCH);
}

TEST_F(SignalCalls, OwnersOfIoSignalsMustBeMembers) {
  EXPECT_EQ(call(sys::fcntl, {0, F_SETOWN, outsider_}).error(), ESRCH);
  EXPECT_EQ(call(sys::fcntl, {0, F_SETOWN, self_}).kind(), Kind::kContinue);
  EXPECT_EQ(call(sys::fcntl, {0, F_SETOWN, 0}).kind(), Kind::kContinue);

  FakeSyscallContext ex(sys::fcntl);
  f_owner_ex owner{F_OWNER_PID, getppid()};
  ex.set_args({0, F_SETOWN_EX, ex.put(&owner, sizeof owner)});
  EXPECT_EQ(handle(ex).error(), ESRCH);

  FakeSyscallContext io(sys::ioctl);
  int outsider = getppid();
  io.set_args({0, FIOSETOWN, io.put(&outsider, sizeof outsider)});
  EXPECT_EQ(handle(io).error(), ESRCH);
}

TEST_F(SignalCalls, ProcessGroupsMoveWithinTheInstance) {
  FakeSyscallContext tty(sys::ioctl);
  int init_group = 1;
  tty.set_args({0, TIOCSPGRP, tty.put(&init_group, sizeof init_group)});
  EXPECT_EQ(handle(tty).error(), EPERM);
  members_.add_launch_group(1);  // the group a launch started in may have the terminal back
  FakeSyscallContext back(sys::ioctl);
  back.set_args({0, TIOCSPGRP, back.put(&init_group, sizeof init_group)});
  EXPECT_EQ(handle(back).kind(), Kind::kContinue);

  EXPECT_EQ(call(sys::setpgid, {outsider_, 0}).error(), ESRCH);
  EXPECT_EQ(call(sys::setpgid, {0, 2}).error(), EPERM);
  EXPECT_EQ(call(sys::setpgid, {0, self_}).kind(), Kind::kContinue);
}

TEST_F(SignalCalls, CapgetOfAProcessOutsideIsNotFound) {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, getppid()};
  FakeSyscallContext outside(sys::capget);
  outside.set_args({outside.put(&h, sizeof h), outside.put_zeroes(2 * sizeof(__user_cap_data_struct))});
  EXPECT_EQ(handle(outside).error(), ESRCH);

  h.pid = 0;  // the caller: the kernel answers for the guest thread
  FakeSyscallContext self(sys::capget);
  std::uint64_t data = self.put_zeroes(2 * sizeof(__user_cap_data_struct));
  self.set_args({self.put(&h, sizeof h), data});
  EXPECT_EQ(handle(self).kind(), Kind::kValue);
  __user_cap_data_struct mine[2]{};
  __user_cap_header_struct me{_LINUX_CAPABILITY_VERSION_3, 0};
  ASSERT_EQ(syscall(SYS_capget, &me, mine), 0);
  EXPECT_EQ(self.memory_as<__user_cap_data_struct>(data).effective, mine[0].effective);
}

}  // namespace
}  // namespace lx::signal
