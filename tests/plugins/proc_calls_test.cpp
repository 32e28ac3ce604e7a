// Unit tests of the proc family's table and handlers, without a guest: the fake root's ids,
// groups and capabilities, the process limit and the uname personality, each handler run on a
// FakeSyscallContext for a call of this test process (the instance's only thread).
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include <gtest/gtest.h>
#include <lxhost/testing/fake_syscall_context.h>

#include "handlers.h"
#include "proc_table.h"

namespace lx::proc {
namespace {

namespace sys = sdk::sys;
using sdk::Route;
using sdk::SyscallResult;
using sdk::testing::FakeSyscallContext;
using Kind = SyscallResult::Kind;

constexpr auto kMinusOne = static_cast<std::uint64_t>(static_cast<std::uint32_t>(-1));

// The row of `nr` in the table.
const sdk::Row<ProcState>& row(int nr) {
  for (const ProcRow& r : proc_table())
    if (r.row.nr == nr) return r.row;
  ADD_FAILURE() << "no row for " << sdk::SyscallTable::name(nr);
  static const sdk::Row<ProcState> none{-1, {}, nullptr};
  return none;
}

class ProcCalls : public ::testing::Test {
 protected:
  ProcCalls() { state_.creds.start(getpid(), 0); }  // the first process: root

  // Runs the row's handler of `ctx`'s syscall, and checks it read every argument as its kind.
  SyscallResult handle(FakeSyscallContext& ctx) {
    SyscallResult r = row(ctx.nr()).handler(state_, ctx);
    EXPECT_TRUE(ctx.kind_mismatches().empty()) << ctx.name() << " read an argument as the wrong kind";
    return r;
  }
  // The handler's result for `nr(args...)` called by this process.
  SyscallResult call(int nr, std::initializer_list<std::uint64_t> args = {}) {
    FakeSyscallContext ctx(nr);
    ctx.set_args(args);
    return handle(ctx);
  }
  // The value `nr()` returns (a get*id call).
  std::int64_t value_of(int nr) {
    SyscallResult r = call(nr);
    EXPECT_EQ(r.kind(), Kind::kValue) << sdk::SyscallTable::name(nr);
    return r.value();
  }
  // The effective and permitted capabilities (low 32) capget gives for `pid`, or its error.
  SyscallResult capget(pid_t pid, __user_cap_data_struct* out) {
    FakeSyscallContext ctx(sys::capget);
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, pid};
    std::uint64_t data = ctx.put_zeroes(2 * sizeof *out);
    ctx.set_args({ctx.put(&h, sizeof h), data});
    SyscallResult r = handle(ctx);
    *out = ctx.memory_as<__user_cap_data_struct>(data);
    return r;
  }

  ProcState state_;
};

TEST_F(ProcCalls, TheTableHasOneRowPerSyscallPerBackendEachWithAHandler) {
  // The emulated backend's rows with fake root, those with real credentials (never both), the
  // kernel backend's.
  std::set<int> seen[3];
  for (const ProcRow& r : proc_table()) {
    bool kernel = r.when == When::kKernelRelease;
    bool refused = r.row.policy.otherwise.route == Route::kErrno;
    int set = kernel ? 2 : r.when == When::kRealCredentials ? 1 : 0;
    EXPECT_TRUE(seen[set].insert(r.row.nr).second) << "two rows for " << sdk::SyscallTable::name(r.row.nr);
    EXPECT_EQ(r.row.handler != nullptr, !refused) << sdk::SyscallTable::name(r.row.nr);
    EXPECT_FALSE(r.row.note.empty()) << sdk::SyscallTable::name(r.row.nr);
    if (refused) {
      EXPECT_TRUE(kernel) << sdk::SyscallTable::name(r.row.nr);
      EXPECT_EQ(r.row.policy.otherwise.errno_value, EPERM) << sdk::SyscallTable::name(r.row.nr);
      continue;
    }
    Route want = r.when == When::kGuestRoot ? Route::kTrace : Route::kNotify;
    EXPECT_EQ(r.row.policy.otherwise.route, want) << sdk::SyscallTable::name(r.row.nr);
  }
}

TEST_F(ProcCalls, FakeRootIsRootUntilItSetsAnotherUid) {
  EXPECT_EQ(value_of(sys::getuid), 0);
  EXPECT_EQ(value_of(sys::geteuid), 0);
  EXPECT_EQ(call(sys::setuid, {1000}).kind(), Kind::kValue);
  EXPECT_EQ(value_of(sys::getuid), 1000);
  EXPECT_EQ(value_of(sys::geteuid), 1000);
  // Without CAP_SETUID only the own ids are allowed.
  EXPECT_EQ(call(sys::setuid, {0}).error(), EPERM);
  EXPECT_EQ(call(sys::setresuid, {kMinusOne, 0, kMinusOne}).error(), EPERM);
  __user_cap_data_struct caps{};
  ASSERT_EQ(capget(0, &caps).kind(), Kind::kValue);
  EXPECT_EQ(caps.effective, 0u);
  EXPECT_EQ(caps.permitted, 0u);
}

TEST_F(ProcCalls, SetuidOfMinusOneIsInvalidAndChangesNothing) {
  EXPECT_EQ(call(sys::setuid, {kMinusOne}).error(), EINVAL);
  EXPECT_EQ(call(sys::setgid, {kMinusOne}).error(), EINVAL);
  EXPECT_EQ(value_of(sys::getuid), 0);
  EXPECT_EQ(value_of(sys::getgid), 0);
}

TEST_F(ProcCalls, SetfsuidOfMinusOneAsksForTheCurrentOne) {
  ASSERT_EQ(call(sys::setfsuid, {1000}).value(), 0);
  EXPECT_EQ(call(sys::setfsuid, {kMinusOne}).value(), 1000);
  std::uint32_t uid = 0, gid = 0;
  ASSERT_TRUE(state_.creds.fs_identity(getpid(), uid, gid));
  EXPECT_EQ(uid, 1000u);
  EXPECT_EQ(call(sys::setfsgid, {kMinusOne}).value(), 0);
}

TEST_F(ProcCalls, SetresuidKeepsWhatIsMinusOne) {
  EXPECT_EQ(call(sys::setresuid, {kMinusOne, 5, kMinusOne}).kind(), Kind::kValue);
  FakeSyscallContext ctx(sys::getresuid);
  std::uint64_t r = ctx.put_zeroes(4), e = ctx.put_zeroes(4), s = ctx.put_zeroes(4);
  ctx.set_args({r, e, s});
  ASSERT_EQ(handle(ctx).kind(), Kind::kValue);
  EXPECT_EQ(ctx.memory_as<std::uint32_t>(r), 0u);
  EXPECT_EQ(ctx.memory_as<std::uint32_t>(e), 5u);
  EXPECT_EQ(ctx.memory_as<std::uint32_t>(s), 0u);
  std::uint32_t uid = 0, gid = 0;
  ASSERT_TRUE(state_.creds.fs_identity(getpid(), uid, gid));
  EXPECT_EQ(uid, 5u);  // the filesystem uid follows the effective one
}

TEST_F(ProcCalls, CapgetUnderFakeRootGivesEveryCapabilityOfTheInstanceOnly) {
  __user_cap_data_struct caps{};
  ASSERT_EQ(capget(0, &caps).kind(), Kind::kValue);
  EXPECT_EQ(caps.effective, static_cast<std::uint32_t>(state_.all_caps));
  EXPECT_EQ(caps.permitted, static_cast<std::uint32_t>(state_.all_caps));
  EXPECT_EQ(caps.inheritable, 0u);
  EXPECT_EQ(capget(getppid(), &caps).error(), ESRCH);
  EXPECT_EQ(capget(-3, &caps).error(), EINVAL);
}

TEST_F(ProcCalls, CapgetOfAnUnknownVersionTellsTheOneItPrefers) {
  FakeSyscallContext ctx(sys::capget);
  __user_cap_header_struct h{0x12345678, 0};
  std::uint64_t header = ctx.put(&h, sizeof h);
  ctx.set_args({header, ctx.put_zeroes(24)});
  EXPECT_EQ(handle(ctx).error(), EINVAL);
  EXPECT_EQ(ctx.memory_as<__user_cap_header_struct>(header).version, _LINUX_CAPABILITY_VERSION_3);
}

TEST_F(ProcCalls, CapsetCannotRaiseThePermittedSet) {
  FakeSyscallContext drop(sys::capset);
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[2]{};
  drop.set_args({drop.put(&h, sizeof h), drop.put(none, sizeof none)});
  ASSERT_EQ(handle(drop).kind(), Kind::kValue);
  FakeSyscallContext raise(sys::capset);
  __user_cap_data_struct some[2]{{1u << CAP_CHOWN, 1u << CAP_CHOWN, 0}, {0, 0, 0}};
  raise.set_args({raise.put(&h, sizeof h), raise.put(some, sizeof some)});
  EXPECT_EQ(handle(raise).error(), EPERM);
}

TEST_F(ProcCalls, KeepcapsKeepsThePermittedSetAcrossSetuid) {
  EXPECT_EQ(call(sys::prctl, {PR_SET_KEEPCAPS, 2}).error(), EINVAL);
  ASSERT_EQ(call(sys::prctl, {PR_SET_KEEPCAPS, 1}).kind(), Kind::kValue);
  EXPECT_EQ(call(sys::prctl, {PR_GET_KEEPCAPS}).value(), 1);
  EXPECT_EQ(call(sys::prctl, {PR_GET_DUMPABLE}).kind(), Kind::kContinue);
  ASSERT_EQ(call(sys::setresuid, {1000, 1000, 1000}).kind(), Kind::kValue);
  __user_cap_data_struct caps{};
  ASSERT_EQ(capget(0, &caps).kind(), Kind::kValue);
  EXPECT_EQ(caps.effective, 0u);
  EXPECT_EQ(caps.permitted, static_cast<std::uint32_t>(state_.all_caps));
  caps_after_exec(state_, getpid());  // execve drops them for a non-root uid and resets keepcaps
  ASSERT_EQ(capget(0, &caps).kind(), Kind::kValue);
  EXPECT_EQ(caps.permitted, 0u);
  EXPECT_EQ(call(sys::prctl, {PR_GET_KEEPCAPS}).value(), 0);
}

TEST_F(ProcCalls, GroupsAreSetByRootOnly) {
  std::vector<std::uint32_t> groups = {10, 20};
  FakeSyscallContext set(sys::setgroups);
  set.set_args({groups.size(), set.put(groups.data(), groups.size() * 4)});
  ASSERT_EQ(handle(set).kind(), Kind::kValue);
  EXPECT_EQ(call(sys::getgroups, {0}).value(), 2);
  EXPECT_EQ(call(sys::getgroups, {1, 0}).error(), EINVAL);
  FakeSyscallContext get(sys::getgroups);
  std::uint64_t out = get.put_zeroes(8);
  get.set_args({2, out});
  ASSERT_EQ(handle(get).value(), 2);
  EXPECT_EQ(get.memory(out), std::vector<unsigned char>({10, 0, 0, 0, 20, 0, 0, 0}));
  ASSERT_EQ(call(sys::setgid, {100}).kind(), Kind::kValue);  // still CAP_SETGID: uid 0
  ASSERT_EQ(call(sys::setuid, {1000}).kind(), Kind::kValue);
  FakeSyscallContext again(sys::setgroups);
  again.set_args({groups.size(), again.put(groups.data(), groups.size() * 4)});
  EXPECT_EQ(handle(again).error(), EPERM);
}

TEST_F(ProcCalls, ALaunchIdentityStartsTheFirstProcessAsThatUser) {
  std::uint32_t groups[] = {27};
  ASSERT_EQ(state_.creds.set_identity(getpid(), 1000, 1001, groups, 1), 0);
  EXPECT_EQ(value_of(sys::getuid), 1000);
  EXPECT_EQ(value_of(sys::getegid), 1001);
  EXPECT_EQ(call(sys::getgroups, {0}).value(), 1);
  EXPECT_EQ(state_.creds.guest_uid(getuid()), 0u);  // the host user's files are root's
}

TEST_F(ProcCalls, ForkPastTheProcessLimitFailsButThreadsDoNot) {
  state_.max_processes = 1;  // this process is the one
  EXPECT_EQ(call(sys::fork).error(), EAGAIN);
  EXPECT_EQ(call(sys::clone, {SIGCHLD}).error(), EAGAIN);
  EXPECT_EQ(call(sys::clone, {CLONE_VM | CLONE_THREAD | CLONE_SIGHAND}).kind(), Kind::kContinue);
  FakeSyscallContext c3(sys::clone3);
  clone_args args{};
  args.flags = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;
  c3.set_args({c3.put(&args, sizeof args), sizeof args});
  EXPECT_EQ(handle(c3).kind(), Kind::kContinue);
  state_.max_processes = 2;
  EXPECT_EQ(call(sys::vfork).kind(), Kind::kContinue);
}

TEST_F(ProcCalls, UnameShowsTheConfiguredHostnameAndRelease) {
  state_.hostname = "guest-host";
  FakeSyscallContext ctx(sys::uname);
  std::uint64_t out = ctx.put_zeroes(sizeof(utsname));
  ctx.set_args({out});
  ASSERT_EQ(handle(ctx).kind(), Kind::kValue);
  utsname mine{};
  ASSERT_EQ(uname(&mine), 0);
  auto u = ctx.memory_as<utsname>(out);
  EXPECT_STREQ(u.nodename, "guest-host");
  EXPECT_STREQ(u.release, mine.release);  // not configured: the host's
  EXPECT_EQ(call(sys::uname, {0x10}).error(), EFAULT);
}

// fexecve is an exec of the fd's file by its guest path (FsPlugin.FexecveFindsTheInterpreterInTheGuestRoot
// runs it end to end); an fd the caller does not have is EBADF, as natively.
TEST_F(ProcCalls, ExecveatOfAnEmptyPathIsAnExecOfTheFdsFile) {
  FakeSyscallContext ctx(sys::execveat, getpid(), Route::kTrace);
  ctx.set_args({9999, ctx.put_string(""), 0, 0, AT_EMPTY_PATH});
  EXPECT_EQ(handle(ctx).error(), EBADF);
}

}  // namespace
}  // namespace lx::proc
