// Tests of build_dispatch: disabled families, plugin routes and rules, conflicts, io_uring.
#include <sys/socket.h>
#include <sys/syscall.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/dispatch_builder.h"

namespace lx::runtime {
namespace {

using ::testing::HasSubstr;
using sdk::Route;

// A plugin made in-process: returns the specs it is given.
class FakePlugin final : public sdk::Plugin {
 public:
  FakePlugin(std::string name, std::vector<sdk::SyscallSpec> specs) : name_(std::move(name)), specs_(std::move(specs)) {}
  sdk::PluginInfo info() const noexcept override { return {name_, "0", "other", "fake", ""}; }
  std::vector<sdk::ConfigKey> config_keys() const noexcept override { return {}; }
  std::string configure(const sdk::PluginConfig&) noexcept override { return {}; }
  std::vector<sdk::SyscallSpec> syscalls() const noexcept override { return specs_; }
  sdk::SyscallResult handle(sdk::SyscallContext&) noexcept override { return sdk::SyscallResult::continue_native(); }

 private:
  std::string name_;
  std::vector<sdk::SyscallSpec> specs_;
};

FamilyPlugin fake(std::string family, std::string name, std::vector<sdk::SyscallSpec> specs) {
  return {std::move(family), std::make_shared<LoadedPlugin>(boost::dll::shared_library{},
                                                            new FakePlugin(std::move(name), std::move(specs)), "fake")};
}

sdk::SyscallSpec spec(int nr, Route r) {
  sdk::SyscallSpec s;
  s.nr = nr;
  s.route = r;
  return s;
}

TEST(DispatchBuilder, DefaultConfigInterceptsNothing) {
  config::Config c;
  auto d = build_dispatch(c, {});
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->policy.syscalls.empty());
  EXPECT_TRUE(d->rows.empty());
  for (const auto& f : d->families) EXPECT_THAT(f.summary, HasSubstr("native passthrough"));
}

TEST(DispatchBuilder, DisabledFamilyBecomesKernelErrno) {
  config::Config c;
  ASSERT_TRUE(c.apply_set("families.net.enabled=false").ok());
  auto d = build_dispatch(c, {});
  ASSERT_TRUE(d.ok());
  for (int nr : {SYS_socket, SYS_connect, SYS_bind, SYS_sendmsg, SYS_socketpair}) {
    ASSERT_TRUE(d->policy.syscalls.count(nr)) << nr;
    EXPECT_EQ(d->policy.syscalls[nr].fallback, driver::Action::error(ENOSYS));
  }
  EXPECT_FALSE(d->policy.syscalls.count(SYS_openat));
}

TEST(DispatchBuilder, DisabledFamilyHonoursOnDisabled) {
  config::Config c;
  ASSERT_TRUE(c.apply_set("families.net.enabled=false").ok());
  ASSERT_TRUE(c.apply_set("families.net.on_disabled=EACCES").ok());
  auto d = build_dispatch(c, {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->policy.syscalls[SYS_socket].fallback, driver::Action::error(EACCES));
  ASSERT_TRUE(c.apply_set("families.net.on_disabled=passthrough").ok());
  d = build_dispatch(c, {});
  EXPECT_FALSE(d->policy.syscalls.count(SYS_socket));
}

TEST(DispatchBuilder, PluginRoutesReachPolicyAndTable) {
  config::Config c;
  auto d = build_dispatch(c, {fake("other", "a", {spec(SYS_getppid, Route::kNotify), spec(SYS_chdir, Route::kTrace),
                                                  spec(SYS_sync, Route::kErrno)})});
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->policy.syscalls[SYS_getppid].fallback, driver::Action::notify());
  EXPECT_EQ(d->policy.syscalls[SYS_chdir].fallback, driver::Action::trace());
  EXPECT_EQ(d->policy.syscalls[SYS_sync].fallback, driver::Action::error(ENOSYS));
  EXPECT_NE(d->table.at(SYS_getppid).plugin, nullptr);
  EXPECT_NE(d->table.at(SYS_chdir).plugin, nullptr);
  EXPECT_EQ(d->table.at(SYS_sync).plugin, nullptr);  // decided in the kernel: no handler
  // The three, io_uring closed and the 8 calls on the host's kernel refused (chdir is an fs call:
  // the instance is confined).
  EXPECT_EQ(d->rows.size(), 12u);
  EXPECT_EQ(d->policy.syscalls[SYS_bpf].fallback, driver::Action::error(EPERM));
  EXPECT_EQ(d->policy.syscalls[SYS_finit_module].fallback, driver::Action::error(EPERM));
}

TEST(DispatchBuilder, TwoPluginsClaimingOneSyscallIsAnError) {
  config::Config c;
  auto d = build_dispatch(c, {fake("other", "a", {spec(SYS_getppid, Route::kNotify)}),
                              fake("proc", "b", {spec(SYS_getppid, Route::kTrace)})});
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.error().message, HasSubstr("syscall getppid is claimed by two plugins: 'a' and 'b'"));
}

TEST(DispatchBuilder, UnknownSyscallNumberIsAnError) {
  config::Config c;
  auto d = build_dispatch(c, {fake("other", "a", {spec(4000, Route::kNotify)})});
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.error().message, HasSubstr("unknown syscall number 4000"));
}

TEST(DispatchBuilder, DisabledFamilyWinsOverPlugin) {
  config::Config c;
  ASSERT_TRUE(c.apply_set("families.net.enabled=false").ok());
  auto d = build_dispatch(c, {fake("other", "a", {spec(SYS_socket, Route::kNotify)})});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->policy.syscalls[SYS_socket].fallback, driver::Action::error(ENOSYS));
  EXPECT_EQ(d->table.at(SYS_socket).plugin, nullptr);
}

TEST(DispatchBuilder, ArgRulesNeedingHandlersGetOne) {
  config::Config c;
  sdk::SyscallSpec s = spec(SYS_socket, Route::kAllow);
  s.arg_rules.push_back({{{0, sdk::ArgCondition::Op::kEq, AF_INET}}, Route::kNotify, 0});
  auto d = build_dispatch(c, {fake("net", "n", {s})});
  ASSERT_TRUE(d.ok());
  EXPECT_NE(d->table.at(SYS_socket).plugin, nullptr);
  EXPECT_EQ(d->policy.syscalls[SYS_socket].rules.size(), 1u);
}

TEST(DispatchBuilder, IoUringClosedOnlyWhenFsOrNetIsPoliced) {
  config::Config c;
  auto d = build_dispatch(c, {fake("other", "a", {spec(SYS_getppid, Route::kNotify)})});
  EXPECT_FALSE(d->policy.syscalls.count(SYS_io_uring_setup));
  d = build_dispatch(c, {fake("fs", "f", {spec(SYS_openat, Route::kNotify)})});
  EXPECT_EQ(d->policy.syscalls[SYS_io_uring_setup].fallback, driver::Action::error(ENOSYS));
  d = build_dispatch(c, {fake("fs", "f", {spec(SYS_openat, Route::kNotify), spec(SYS_io_uring_setup, Route::kNotify)})});
  EXPECT_EQ(d->policy.syscalls[SYS_io_uring_setup].fallback, driver::Action::notify());
}

}  // namespace
}  // namespace lx::runtime
