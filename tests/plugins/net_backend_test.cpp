// The net family under each backend: the same policy (domains, loopback, port map) under both, and
// no row for AF_UNIX path translation under the kernel one (paths are the mount namespace's), even
// when a translating fs plugin offers a PathResolver.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "backend_fixture.h"

namespace lx::backend_test {
namespace {

class NetBackendTest : public ::testing::Test {
 protected:
  // The syscalls `cfg` asks for once connected to a registry offering a PathResolver.
  std::map<int, sdk::SyscallSpec> specs(const FakeConfig& cfg) {
    EXPECT_EQ(net_.configure(cfg), "");
    net_.plugin().connect(registry_);
    return net_.specs();
  }
  void SetUp() override { registry_.offered[std::string(sdk::PathResolver::kName)] = &paths_; }

  NoPaths paths_;
  FakeRegistry registry_;
  FakeConfig kernel_{Backend::kKernel}, emulated_{Backend::kEmulated};
  Family net_{"net"};
};

TEST_F(NetBackendTest, KernelTranslatesNoPathsEmulatedDoes) {
  EXPECT_TRUE(specs(kernel_).empty()) << "asks for " << ::testing::PrintToString(net_.names());
  EXPECT_EQ(net_.offered<sdk::KernelConfigurator>(), nullptr);
  auto emulated = specs(emulated_);
  EXPECT_TRUE(emulated.count(sys::bind) && emulated.count(sys::connect) && emulated.count(sys::getsockname));
}

TEST_F(NetBackendTest, KernelKeepsThePolicyAsItIs) {
  for (FakeConfig* c : {&kernel_, &emulated_}) {
    c->strings["bind"] = "loopback";
    c->lists["allow_domains"] = {"unix", "inet"};
    sdk::ConfigTable port;
    port.integers = {{"guest", 80}, {"host", 8080}};
    c->tables["port_map"] = {port};
  }
  auto k = specs(kernel_);
  auto e = specs(emulated_);
  // But for SO_PEERCRED, whose pids are the PID namespace's on the kernel backend.
  EXPECT_FALSE(k.count(sys::getsockopt));
  EXPECT_TRUE(e.count(sys::getsockopt));
  e.erase(sys::getsockopt);
  ASSERT_EQ(k.size(), e.size());
  for (const auto& [nr, spec] : e) {
    ASSERT_TRUE(k.count(nr)) << sdk::SyscallTable::name(nr);
    EXPECT_EQ(k[nr].route, spec.route) << sdk::SyscallTable::name(nr);
    EXPECT_EQ(k[nr].errno_value, spec.errno_value) << sdk::SyscallTable::name(nr);
    EXPECT_EQ(k[nr].arg_rules.size(), spec.arg_rules.size()) << sdk::SyscallTable::name(nr);
  }
  EXPECT_EQ(k[sys::socket].arg_rules.size(), 2u);
  EXPECT_EQ(k[sys::bind].route, sdk::Route::kNotify);
}

TEST_F(NetBackendTest, KernelRefusesWhatEmulatedRefuses) {
  for (FakeConfig* c : {&kernel_, &emulated_}) c->strings["bind"] = "lan";
  EXPECT_NE(net_.configure(kernel_), "");
  EXPECT_EQ(net_.configure(kernel_), net_.configure(emulated_));
}

}  // namespace
}  // namespace lx::backend_test
