// The proc family under each backend: under the kernel one, the hostname and the process limit
// handed to the kernel, no identity offered, only the uname release (and a fixed hostname) asked for.
#include <cerrno>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "backend_fixture.h"

namespace lx::backend_test {
namespace {

class ProcBackendTest : public ::testing::Test {
 protected:
  void set(FakeConfig& c) {
    c.booleans["fake_root"] = true;
    c.integers["max_processes"] = 40;
    c.strings["hostname"] = "guest";
  }
  FakeConfig kernel_{Backend::kKernel}, emulated_{Backend::kEmulated};
  Family proc_{"proc"};
};

TEST_F(ProcBackendTest, KernelHandsHostnameAndLimitToTheKernelAndAsksForNothing) {
  set(kernel_);
  ASSERT_EQ(proc_.configure(kernel_), "");
  NoPaths paths;
  FakeRegistry registry;
  registry.offered[std::string(sdk::PathResolver::kName)] = &paths;
  proc_.plugin().connect(registry);  // a translating fs would not get execve rewritten
  EXPECT_TRUE(proc_.specs().empty()) << "asks for " << ::testing::PrintToString(proc_.names());
  EXPECT_EQ(proc_.offered<sdk::IdentityMap>(), nullptr);
  EXPECT_EQ(proc_.offered<sdk::LaunchIdentity>(), nullptr);
  EXPECT_EQ(proc_.offered<sdk::Credentials>(), nullptr);
  EXPECT_EQ(proc_.offered<sdk::ProgramNames>(), nullptr);
  sdk::KernelPlan plan = proc_.plan();
  EXPECT_EQ(plan.hostname, "guest");
  EXPECT_EQ(plan.max_processes, 40u);
  EXPECT_EQ(plan.root, "/");
  EXPECT_TRUE(plan.mounts.empty());
}

TEST_F(ProcBackendTest, KernelWithoutSettingsLeavesThePlanAlone) {
  ASSERT_EQ(proc_.configure(kernel_), "");
  EXPECT_TRUE(proc_.specs().empty());
  sdk::KernelPlan plan = proc_.plan();
  EXPECT_EQ(plan.hostname, "");
  EXPECT_EQ(plan.max_processes, 0u);
}

TEST_F(ProcBackendTest, KernelFakesTheReleaseAndKeepsTheHostnameFixed) {
  set(kernel_);
  kernel_.strings["release"] = "9.9.9-lx";
  ASSERT_EQ(proc_.configure(kernel_), "");
  EXPECT_EQ(proc_.names(), (std::set<std::string>{"uname", "sethostname", "setdomainname"}));
  auto specs = proc_.specs();
  EXPECT_EQ(specs[sys::uname].route, sdk::Route::kNotify);
  EXPECT_EQ(specs[sys::sethostname].route, sdk::Route::kErrno);
  EXPECT_EQ(specs[sys::sethostname].errno_value, EPERM);
  EXPECT_EQ(specs[sys::setdomainname].errno_value, EPERM);
  EXPECT_EQ(proc_.plan().hostname, "guest");
}

TEST_F(ProcBackendTest, EmulatedStillEmulatesAndOffersNoKernelPart) {
  set(emulated_);
  ASSERT_EQ(proc_.configure(emulated_), "");
  NoPaths paths;
  FakeRegistry registry;
  registry.offered[std::string(sdk::PathResolver::kName)] = &paths;
  proc_.plugin().connect(registry);
  auto names = proc_.names();
  for (const char* n : {"getuid", "setuid", "capget", "fork", "clone", "uname", "execve"})
    EXPECT_TRUE(names.count(n)) << n;
  // sethostname is not refused (the kernel backend's rule), only guarded by the emulated CAP_SYS_ADMIN.
  EXPECT_EQ(proc_.specs()[sys::sethostname].route, sdk::Route::kNotify);
  EXPECT_EQ(proc_.specs()[sys::execve].route, sdk::Route::kTrace);
  EXPECT_NE(proc_.offered<sdk::IdentityMap>(), nullptr);
  EXPECT_NE(proc_.offered<sdk::LaunchIdentity>(), nullptr);
  EXPECT_NE(proc_.offered<sdk::Credentials>(), nullptr);
  EXPECT_NE(proc_.offered<sdk::ProgramNames>(), nullptr);
  EXPECT_EQ(proc_.offered<sdk::KernelConfigurator>(), nullptr);
}

TEST_F(ProcBackendTest, KernelRefusesWhatEmulatedRefuses) {
  for (FakeConfig* c : {&kernel_, &emulated_}) c->integers["max_processes"] = -1;
  EXPECT_NE(proc_.configure(kernel_), "");
  EXPECT_EQ(proc_.configure(kernel_), proc_.configure(emulated_));
  for (FakeConfig* c : {&kernel_, &emulated_}) {
    c->integers.clear();
    c->strings["hostname"] = std::string(65, 'h');
  }
  EXPECT_NE(proc_.configure(kernel_), "");
  EXPECT_EQ(proc_.configure(kernel_), proc_.configure(emulated_));
}

}  // namespace
}  // namespace lx::backend_test
