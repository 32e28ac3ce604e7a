// The signal family under each backend: nothing under the kernel one (the PID namespace confines).
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "backend_fixture.h"

namespace lx::backend_test {
namespace {

TEST(SignalBackendTest, KernelAsksForNothingEmulatedConfines) {
  Family signal{"signal"};
  FakeRegistry none;
  FakeConfig kernel(Backend::kKernel), emulated(Backend::kEmulated);
  ASSERT_EQ(signal.configure(kernel), "");
  signal.plugin().connect(none);
  EXPECT_TRUE(signal.specs().empty()) << "asks for " << ::testing::PrintToString(signal.names());
  EXPECT_EQ(signal.offered<sdk::KernelConfigurator>(), nullptr);
  ASSERT_EQ(signal.configure(emulated), "");
  signal.plugin().connect(none);
  auto names = signal.names();
  for (const char* n : {"kill", "tgkill", "ptrace", "pidfd_open", "capget"}) EXPECT_TRUE(names.count(n)) << n;
}

}  // namespace
}  // namespace lx::backend_test
