// Tests of the SDK's ground floor without a guest: argument policies (what the filter compiler
// receives), typed argument accessors checked against the syscall table, table rows and typed
// interfaces of PluginBase, and FakeSyscallContext itself.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <lxhost/arg_policy.h>
#include <lxhost/plugin.h>
#include <lxhost/syscall_table.h>
#include <lxhost/testing/fake_syscall_context.h>

namespace lx::sdk {
namespace {

using namespace policy;
using testing::FakeSyscallContext;

TEST(ArgPolicy, IfElseIfElseIsTheRulesInOrderThenTheDefault) {
  Policy p = If(Arg<int>(0) == AF_INET, Allow()).ElseIf(Arg<int>(0) == AF_UNIX, Notify()).Else(Error(EAFNOSUPPORT));
  ASSERT_EQ(p.rules.size(), 2u);
  EXPECT_EQ(p.rules[0].route, Route::kAllow);
  ASSERT_EQ(p.rules[0].all_of.size(), 1u);
  EXPECT_EQ(p.rules[0].all_of[0].arg, 0);
  EXPECT_EQ(p.rules[0].all_of[0].op, ArgCondition::Op::kEq);
  EXPECT_EQ(p.rules[0].all_of[0].value, static_cast<std::uint64_t>(AF_INET));
  EXPECT_EQ(p.rules[0].all_of[0].width, ArgCondition::Width::k32);
  EXPECT_EQ(p.rules[1].route, Route::kNotify);
  EXPECT_EQ(p.otherwise.route, Route::kErrno);
  EXPECT_EQ(p.otherwise.errno_value, EAFNOSUPPORT);
}

TEST(ArgPolicy, MasksConjunctionsAndWidths) {
  Policy p = If((Arg<int>(1) & O_ACCMODE) == O_RDONLY && Arg<unsigned long>(2) >= 4096ul, Allow()).Else(Notify());
  ASSERT_EQ(p.rules.size(), 1u);
  const auto& all = p.rules[0].all_of;
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].op, ArgCondition::Op::kMaskedEq);
  EXPECT_EQ(all[0].mask, static_cast<std::uint64_t>(O_ACCMODE));
  EXPECT_EQ(all[1].op, ArgCondition::Op::kGe);
  EXPECT_EQ(all[1].width, ArgCondition::Width::k64);
  // A negative int compares as its 32-bit pattern (the kernel ignores the high half).
  Policy neg = If(Arg<int>(0) == AT_FDCWD, Notify()).Else(Allow());
  EXPECT_EQ(neg.rules[0].all_of[0].value, 0xffffff9cull);
}

TEST(ArgPolicy, ABareDecisionIsAPolicyWithoutRules) {
  Policy p = Trace();
  EXPECT_TRUE(p.rules.empty());
  EXPECT_EQ(p.otherwise.route, Route::kTrace);
}

TEST(SyscallTable, NamedNumbersAndKinds) {
  EXPECT_EQ(sys::openat, 257);
  EXPECT_EQ(SyscallTable::arg_kind(sys::openat, 1), ArgKind::kPath);
  EXPECT_EQ(SyscallTable::arg_kind(sys::openat, 5), ArgKind::kNone);
  EXPECT_EQ(SyscallTable::arg_kind(100000, 0), ArgKind::kNone);
  EXPECT_EQ(to_string(Family::kNet), "net");
  EXPECT_EQ(family_from_string("signal"), Family::kSignal);
  EXPECT_FALSE(family_from_string("nope"));
}

TEST(FakeContext, TypedAccessorsReadTheTablesKindsAndReportOtherKinds) {
  FakeSyscallContext ctx(sys::openat);
  std::uint64_t path = ctx.put_string("/etc/hostname");
  ctx.set_args({static_cast<std::uint64_t>(AT_FDCWD), path, O_RDONLY | O_CLOEXEC, 0644});
  std::string p;
  EXPECT_EQ(ctx.fd(0), AT_FDCWD);
  EXPECT_EQ(ctx.path(1, p), 0);
  EXPECT_EQ(p, "/etc/hostname");
  EXPECT_EQ(ctx.flags<int>(2), O_RDONLY | O_CLOEXEC);
  EXPECT_TRUE(ctx.kind_mismatches().empty());
  (void)ctx.fd(1);  // a path read as a descriptor: a handler bug the fake reports
  ASSERT_EQ(ctx.kind_mismatches().size(), 1u);
  EXPECT_EQ(ctx.kind_mismatches()[0].first, 1);
  EXPECT_EQ(ctx.kind_mismatches()[0].second, ArgKind::kFd);
}

TEST(FakeContext, GuestMemoryFaultsOutsideWhatWasPlaced) {
  FakeSyscallContext ctx(sys::read);
  std::uint64_t buf = ctx.put_zeroes(16);
  int v = 0;
  EXPECT_EQ(ctx.read(buf + 12, v), 0);
  EXPECT_EQ(ctx.read(buf + 13, v), EFAULT);  // crosses the end
  EXPECT_EQ(ctx.read(0x10, v), EFAULT);
  EXPECT_EQ(ctx.write(buf, 42), 0);
  EXPECT_EQ(ctx.memory_as<int>(buf), 42);
  std::string s;
  std::uint64_t unterminated = ctx.put("abc", 3);
  EXPECT_EQ(ctx.read_string(unterminated, s), EFAULT);
  std::uint64_t long_one = ctx.put_string(std::string(100, 'x'));
  EXPECT_EQ(ctx.read_string(long_one, s, 50), ENAMETOOLONG);
}

TEST(FakeContext, InstalledFdsAreKeptAndRewritesNeedTheTraceRoute) {
  FakeSyscallContext ctx(sys::openat);
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  SyscallResult r = ctx.install_fd(fd, 0);
  ::close(fd);
  ASSERT_EQ(r.kind(), SyscallResult::Kind::kResponded);
  ASSERT_EQ(ctx.installed_fds().count(static_cast<int>(r.value())), 1u);
  EXPECT_EQ(::fcntl(ctx.installed_fds().at(static_cast<int>(r.value())), F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(ctx.set_arg(0, 1), EPERM);
  FakeSyscallContext traced(sys::execve, ::getpid(), Route::kTrace);
  EXPECT_EQ(traced.set_arg(0, 7), 0);
  EXPECT_EQ(traced.rewritten_args().at(0), 7u);
  // A check of the rewritten call's result: kept on the TRACE route only, for the test to call.
  EXPECT_FALSE(ctx.check_return([](pid_t, long) { return true; }));
  EXPECT_TRUE(traced.check_return([](pid_t, long ret) { return ret >= 0; }));
  ASSERT_TRUE(traced.return_check());
  EXPECT_TRUE(traced.return_check()(::getpid(), 3));
  EXPECT_FALSE(traced.return_check()(::getpid(), -EBADF));
}

struct Counter {
  int calls = 0;
};

SyscallResult count_call(Counter& c, SyscallContext& ctx) {
  ++c.calls;
  return ctx.fd(0) < 0 ? fail(EBADF) : SyscallResult::value(ctx.fd(0));
}

class TablePlugin : public PluginBase, public ProgramNames {
 public:
  PluginInfo info() const noexcept override { return {"t", "0", "fs", "", ""}; }
  std::vector<ConfigKey> config_keys() const noexcept override { return {}; }
  std::string configure(const PluginConfig&) noexcept override { return {}; }
  std::string program_of(pid_t) noexcept override { return "/bin/t"; }
  void declare() {
    static const Row<Counter> rows[] = {
        {sys::close, Notify(), &count_call, Support::kPartial, "counted"},
        {sys::socket, If(Arg<int>(0) == AF_INET, Allow()).Else(Error(EAFNOSUPPORT)), nullptr, Support::kErrno, ""},
    };
    add_rows<Counter>(counter, rows);
    offer<ProgramNames>(this);
  }
  void withdraw() { offer<ProgramNames>(nullptr); }
  Counter counter;
};

TEST(PluginBase, RowsBecomeSpecsAndDispatchToTheirHandlers) {
  TablePlugin p;
  p.declare();
  auto specs = p.syscalls();
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].nr, sys::close);
  EXPECT_EQ(specs[0].route, Route::kNotify);
  EXPECT_EQ(specs[0].support, Support::kPartial);
  EXPECT_EQ(specs[0].note, "counted");
  EXPECT_EQ(specs[1].route, Route::kErrno);
  EXPECT_EQ(specs[1].errno_value, EAFNOSUPPORT);
  EXPECT_EQ(specs[1].arg_rules.size(), 1u);
  FakeSyscallContext ctx(sys::close);
  ctx.set_args({static_cast<std::uint64_t>(-1)});
  EXPECT_EQ(p.handle(ctx).error(), EBADF);
  EXPECT_EQ(p.counter.calls, 1);
  FakeSyscallContext other(sys::read);  // not in the table: runs natively
  EXPECT_EQ(p.handle(other).kind(), SyscallResult::Kind::kContinue);
}

TEST(PluginBase, OffersTypedInterfacesByName) {
  TablePlugin p;
  p.declare();
  void* raw = p.query_interface(ProgramNames::kName);
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(static_cast<ProgramNames*>(raw)->program_of(1), "/bin/t");
  EXPECT_EQ(p.query_interface(PathResolver::kName), nullptr);
  p.withdraw();
  EXPECT_EQ(p.query_interface(ProgramNames::kName), nullptr);
}

}  // namespace
}  // namespace lx::sdk
