// The fs family under each backend: no syscall and its root and mounts as the kernel's part under
// the kernel backend, the same rows as before under the emulated one, the same errors under both.
#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend_fixture.h"

namespace lx::backend_test {
namespace {

class FsBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_ / "root";
    data_ = tmp_ / "data";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(data_.c_str(), 0755), 0);
    kernel_.strings["metadata_dir"] = emulated_.strings["metadata_dir"] = tmp_ / "meta";
  }
  void set_root(const std::string& root) { kernel_.strings["root"] = emulated_.strings["root"] = root; }

  test::TempDir tmp_;
  std::string root_, data_;
  FakeConfig kernel_{Backend::kKernel}, emulated_{Backend::kEmulated};
  Family fs_{"fs"};
};

TEST_F(FsBackendTest, KernelHostRootAsksForNothingAndMountsTheInstancesProc) {
  ASSERT_EQ(fs_.configure(kernel_), "");
  EXPECT_TRUE(fs_.specs().empty()) << "asks for " << ::testing::PrintToString(fs_.names());
  EXPECT_EQ(fs_.offered<sdk::PathResolver>(), nullptr);
  sdk::KernelPlan plan = fs_.plan();
  EXPECT_EQ(plan.root, "/");
  EXPECT_EQ(described(plan.mounts), std::vector<std::string>{"proc  /proc"});
}

TEST_F(FsBackendTest, KernelGuestRootGetsTheDefaultMountsAfterTheConfiguredOnes) {
  set_root(root_);
  kernel_.tables["mount"] = {mount_table(data_, "/data", true)};
  ASSERT_EQ(fs_.configure(kernel_), "");
  EXPECT_TRUE(fs_.specs().empty()) << "asks for " << ::testing::PrintToString(fs_.names());
  EXPECT_EQ(fs_.offered<sdk::PathResolver>(), nullptr);
  sdk::KernelPlan plan = fs_.plan();
  EXPECT_EQ(plan.root, real(root_));
  EXPECT_EQ(described(plan.mounts), (std::vector<std::string>{"bind " + data_ + " /data ro", "dev  /dev",
                                                              "proc  /proc", "bind /sys /sys ro", "bind /tmp /tmp"}));
}

TEST_F(FsBackendTest, KernelConfiguredMountsReplaceDefaultsAndParentsComeFirst) {
  set_root(root_);
  kernel_.tables["mount"] = {mount_table(data_, "/dev/shm/"), mount_table(data_, "/tmp"), mount_table(data_, "/a/b/c")};
  ASSERT_EQ(fs_.configure(kernel_), "");
  EXPECT_EQ(described(fs_.plan().mounts),
            (std::vector<std::string>{"bind " + data_ + " /tmp", "dev  /dev", "proc  /proc", "bind /sys /sys ro",
                                      "bind " + data_ + " /dev/shm", "bind " + data_ + " /a/b/c"}));
}

TEST_F(FsBackendTest, KernelWithoutDefaultMountsHasOnlyTheConfiguredOnes) {
  set_root(root_);
  kernel_.booleans["default_mounts"] = false;
  kernel_.tables["mount"] = {mount_table(data_, "/data")};
  ASSERT_EQ(fs_.configure(kernel_), "");
  EXPECT_EQ(described(fs_.plan().mounts), std::vector<std::string>{"bind " + data_ + " /data"});
}

TEST_F(FsBackendTest, KernelHostProcBindsTheHostsProc) {
  set_root(root_);
  kernel_.strings["proc"] = "host";
  ASSERT_EQ(fs_.configure(kernel_), "");
  EXPECT_EQ(described(fs_.plan().mounts),
            (std::vector<std::string>{"dev  /dev", "bind /proc /proc", "bind /sys /sys ro", "bind /tmp /tmp"}));
  set_root("/");
  ASSERT_EQ(fs_.configure(kernel_), "");
  EXPECT_TRUE(fs_.plan().mounts.empty());
}

TEST_F(FsBackendTest, KernelPlanRefusesAnotherRoot) {
  set_root(root_);
  ASSERT_EQ(fs_.configure(kernel_), "");
  sdk::KernelPlan plan;
  plan.root = data_;
  EXPECT_NE(fs_.offered<sdk::KernelConfigurator>()->configure_kernel(plan), "");
}

TEST_F(FsBackendTest, EmulatedStillTranslatesAndOffersNoKernelPart) {
  set_root(root_);
  ASSERT_EQ(fs_.configure(emulated_), "");
  auto specs = fs_.specs();
  ASSERT_TRUE(specs.count(sys::openat));
  EXPECT_EQ(specs[sys::openat].route, sdk::Route::kNotify);
  EXPECT_EQ(specs[sys::chdir].route, sdk::Route::kTrace);
  EXPECT_NE(fs_.offered<sdk::PathResolver>(), nullptr);
  EXPECT_EQ(fs_.offered<sdk::KernelConfigurator>(), nullptr);
  // Configured again for the kernel, it withdraws both.
  ASSERT_EQ(fs_.configure(kernel_), "");
  EXPECT_TRUE(fs_.specs().empty());
  EXPECT_EQ(fs_.offered<sdk::PathResolver>(), nullptr);
  EXPECT_NE(fs_.offered<sdk::KernelConfigurator>(), nullptr);
}

TEST_F(FsBackendTest, KernelRefusesWhatEmulatedRefusesWithTheSameWords) {
  auto same_error = [&](const char* what) {
    std::string k = fs_.configure(kernel_), e = fs_.configure(emulated_);
    EXPECT_NE(k, "") << what;
    EXPECT_EQ(k, e) << what;
  };
  set_root("relative");
  same_error("a relative root");
  set_root(tmp_ / "missing");
  same_error("a missing root");
  set_root(root_);
  kernel_.tables["mount"] = emulated_.tables["mount"] = {mount_table("", "/x")};
  same_error("a mount without host");
  kernel_.tables["mount"] = emulated_.tables["mount"] = {mount_table(tmp_ / "missing", "/x")};
  same_error("a missing mount host");
  kernel_.tables["mount"] = emulated_.tables["mount"] = {mount_table(data_, "relative")};
  same_error("a relative mount guest path");
  kernel_.tables.clear();
  emulated_.tables.clear();
  kernel_.strings["proc"] = emulated_.strings["proc"] = "all";
  same_error("proc = all");
  kernel_.strings.erase("proc");
  emulated_.strings.erase("proc");
  kernel_.strings["metadata"] = emulated_.strings["metadata"] = "cloud";
  same_error("metadata = cloud");
}

}  // namespace
}  // namespace lx::backend_test
