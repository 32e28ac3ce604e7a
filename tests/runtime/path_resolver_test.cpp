// Tests of the fs plugin's PathResolver, the interface other plugins reach through the host.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include <lxhost/interfaces.h>

#include "runtime/runner.h"

namespace lx::runtime {
namespace {

class PathResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lxhost-resolver-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    root_ = dir_ + "/root";
    std::string cmd = std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh dynamic " + root_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::filesystem::create_symlink("/bin/sh", root_ + "/sh-link");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  sdk::PathResolver* resolver(std::unique_ptr<Runtime>& rt) {
    config::Config c;
    EXPECT_TRUE(c.apply_set("fs.root=" + root_).ok());
    EXPECT_TRUE(c.apply_set("instance.backend=emulated").ok());  // the resolver is the emulated backend's
    EXPECT_TRUE(c.apply_set(std::string("plugins.search_path=[\"") + PLUGIN_DIR + "\"]").ok());
    auto r = Runtime::create(c);
    if (!r.ok()) {
      ADD_FAILURE() << r.error().message;
      return nullptr;
    }
    rt = std::move(*r);
    for (const auto& fp : rt->plugins())
      if (void* p = fp.plugin->plugin().query_interface(sdk::PathResolver::kName))
        return static_cast<sdk::PathResolver*>(p);
    return nullptr;
  }

  std::string dir_, root_;
};

TEST_F(PathResolverTest, FsPluginOffersItWhenTranslating) {
  std::unique_ptr<Runtime> rt;
  sdk::PathResolver* pr = resolver(rt);
  ASSERT_NE(pr, nullptr);
  std::string out;
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/etc/passwd", true, out), 0);
  EXPECT_EQ(out, std::filesystem::canonical(root_).string() + "/etc/passwd");
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/../../etc/../etc/passwd", true, out), 0);
  EXPECT_EQ(out, std::filesystem::canonical(root_).string() + "/etc/passwd");
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/run/new.sock", false, out), ENOENT);  // no /run
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/tmp/new.sock", false, out), 0);      // /tmp is a mount
  EXPECT_EQ(out, "/tmp/new.sock");
  EXPECT_EQ(pr->guest_path(std::filesystem::canonical(root_).string() + "/bin/sh"), "/bin/sh");
  EXPECT_EQ(pr->guest_path("/usr/share"), "");
}

TEST_F(PathResolverTest, ExecPathsGiveProgramAndTheRootsInterpreter) {
  std::unique_ptr<Runtime> rt;
  sdk::PathResolver* pr = resolver(rt);
  ASSERT_NE(pr, nullptr);
  std::string prog, interp;
  sdk::PathResolver::FileId runs;
  ASSERT_EQ(pr->exec_paths(getpid(), AT_FDCWD, "/sh-link", prog, interp, runs), 0);
  std::string root = std::filesystem::canonical(root_).string();
  EXPECT_EQ(prog, std::filesystem::canonical(root_ + "/bin/sh").string());
  EXPECT_EQ(interp.rfind(root + "/", 0), 0u) << interp;  // the rootfs's own ld.so
  struct stat st;
  ASSERT_EQ(::stat(interp.c_str(), &st), 0);
  EXPECT_EQ(runs.dev, st.st_dev);  // what the exec must load: the interpreter
  EXPECT_EQ(runs.ino, st.st_ino);
  EXPECT_EQ(pr->exec_paths(getpid(), AT_FDCWD, "/nonexistent", prog, interp, runs), ENOENT);
}

TEST_F(PathResolverTest, DotDotAfterASymlinkGoesUpFromItsTarget) {
  // As Linux does, component by component: /w/lk/.. is /a/b, the parent of the link's target.
  std::filesystem::create_directories(root_ + "/a/b/c");
  std::filesystem::create_directories(root_ + "/a/etc");
  std::filesystem::create_directories(root_ + "/w");
  std::filesystem::create_symlink("/a/b/c", root_ + "/w/lk");
  std::filesystem::create_symlink("../a/b/c", root_ + "/w/rel");
  std::filesystem::create_symlink("/tmp", root_ + "/w/tmp");  // /tmp is a mount
  std::unique_ptr<Runtime> rt;
  sdk::PathResolver* pr = resolver(rt);
  ASSERT_NE(pr, nullptr);
  std::string root = std::filesystem::canonical(root_).string();
  std::string out;
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/w/lk/../c", true, out), 0);
  EXPECT_EQ(out, root + "/a/b/c");
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/w/lk/../../etc/passwd", false, out), 0);
  EXPECT_EQ(out, root + "/a/etc/passwd");
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/w/rel/../c", true, out), 0);
  EXPECT_EQ(out, root + "/a/b/c");
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/w/lk/../../../../../../../etc/passwd", true, out), 0);
  EXPECT_EQ(out, root + "/etc/passwd");  // never above the guest root
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/w/tmp/../etc/passwd", true, out), 0);
  EXPECT_EQ(out, root + "/etc/passwd");  // out of a mount: its guest parent
  // Without a symlink, `..` needs the directory it leaves, as in the kernel.
  EXPECT_EQ(pr->host_path(getpid(), AT_FDCWD, "/nonexistent/../etc/passwd", true, out), ENOENT);
  EXPECT_EQ(pr->host_path(getpid(), AT_FDCWD, "/etc/passwd/../passwd", true, out), ENOTDIR);
}

TEST_F(PathResolverTest, ProcShowsTheInstanceOnly) {
  std::unique_ptr<Runtime> rt;
  sdk::PathResolver* pr = resolver(rt);
  ASSERT_NE(pr, nullptr);
  sdk::Plugin* fs = nullptr;
  for (const auto& fp : rt->plugins())
    if (fp.plugin->plugin().query_interface(sdk::PathResolver::kName)) fs = &fp.plugin->plugin();
  ASSERT_NE(fs, nullptr);
  std::string out, self = std::to_string(getpid());
  // This process is not a member yet: its /proc entry does not exist for the guest.
  EXPECT_EQ(pr->host_path(getpid(), AT_FDCWD, "/proc/" + self + "/status", true, out), ENOENT);
  EXPECT_EQ(pr->host_path(getpid(), AT_FDCWD, "/proc/self/status", true, out), ENOENT);
  // A launch's first process (parent 0) is none until it exec's; a forked one is one at once.
  fs->on_process_start(getpid(), 0);
  EXPECT_EQ(pr->host_path(getpid(), AT_FDCWD, "/proc/self/status", true, out), ENOENT);
  fs->on_process_exit(getpid());
  fs->on_process_start(getpid(), getppid());
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/proc/self/status", true, out), 0);
  EXPECT_EQ(out, "/proc/" + self + "/status");
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/proc//./" + self + "/status", true, out), 0);
  EXPECT_EQ(pr->host_path(getpid(), AT_FDCWD, "/proc/1/status", true, out), ENOENT);
  EXPECT_EQ(pr->host_path(getpid(), AT_FDCWD, "/proc/self/../1/status", true, out), ENOENT);
  EXPECT_EQ(pr->host_path(getpid(), AT_FDCWD, "/proc/self/root/proc/1", false, out), ENOENT);
  ASSERT_EQ(pr->host_path(getpid(), AT_FDCWD, "/proc/loadavg", true, out), 0);
  fs->on_process_exit(getpid());
  EXPECT_EQ(pr->host_path(getpid(), AT_FDCWD, "/proc/self/status", true, out), ENOENT);
}

TEST(PathResolver, NotOfferedWithTheHostRoot) {
  config::Config c;
  ASSERT_TRUE(c.apply_set(std::string("plugins.search_path=[\"") + PLUGIN_DIR + "\"]").ok());
  auto rt = Runtime::create(c);
  ASSERT_TRUE(rt.ok()) << rt.error().message;
  for (const auto& fp : (*rt)->plugins())
    EXPECT_EQ(fp.plugin->plugin().query_interface(sdk::PathResolver::kName), nullptr);
}

}  // namespace
}  // namespace lx::runtime
