// Tests of plugin loading: search path, ABI check, refusal reasons (permission denied as the
// unprivileged user), library lifetime.
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gmock/gmock.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runtime/plugin_loader.h"
#include "unprivileged.h"

namespace lx::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// What find_plugin answers when called by the unprivileged user (in a child that switched to it
// when root, since root bypasses permission checks): "ok <path>" or "<errno> <message>".
std::string find_as_unprivileged(const std::string& name, const std::vector<std::string>& search_path) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string out;
    if (geteuid() == 0 && (setgroups(0, nullptr) != 0 || setgid(test::unprivileged_gid()) != 0 ||
                           setuid(test::unprivileged_uid()) != 0 || geteuid() == 0)) {
      out = "cannot switch to the unprivileged user";
    } else {
      auto r = find_plugin(name, search_path);
      out = r ? "ok " + *r : std::to_string(r.error().code) + " " + r.error().message;
    }
    (void)!write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int st;
  waitpid(pid, &st, 0);
  return out;
}

// Whether the unprivileged user differs from root (else permission checks cannot be tried).
bool unprivileged_is_checked() { return test::unprivileged_uid() != 0; }

// Restores a mode at scope exit, so that TempDir can remove what a test locked.
struct ModeGuard {
  std::string path;
  ~ModeGuard() { chmod(path.c_str(), 0755); }
};

void write_file(const std::string& path, mode_t mode) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << "not really a library";
  chmod(path.c_str(), mode);
}

TEST(PluginLoader, UnsearchableDirectoryIsPermissionDeniedAndEveryPlaceIsListed) {
  if (!unprivileged_is_checked()) GTEST_SKIP() << "root without a way to drop privileges: no permission checks";
  test::TempDir d("lxhost-loader-test", 0755);
  std::string locked = d / "locked", plugins = locked + "/plugins";
  write_file(plugins + "/lxhost-x.so", 0644);
  std::filesystem::create_directories(d / "empty");
  chmod((d / "empty").c_str(), 0755);
  std::vector<std::string> path = {d / "missing", plugins, d / "empty"};
  // Reachable, it is found: the refusal below comes from the mode only.
  chmod(locked.c_str(), 0755);
  EXPECT_EQ(find_as_unprivileged("x", path), "ok " + plugins + "/lxhost-x.so");

  ModeGuard guard{locked};
  chmod(locked.c_str(), 0700);
  if (geteuid() != 0) chmod(locked.c_str(), 0000);
  std::string r = find_as_unprivileged("x", path);
  EXPECT_THAT(r, ::testing::StartsWith(std::to_string(EACCES) + " "));
  EXPECT_THAT(r, HasSubstr("plugin 'x' cannot be loaded: permission denied for uid " +
                           std::to_string(test::unprivileged_uid())));
  EXPECT_THAT(r, HasSubstr(plugins + " (permission denied: cannot search " + locked + ")"));
  EXPECT_THAT(r, HasSubstr(d / "missing" + " (no such directory)"));
  EXPECT_THAT(r, HasSubstr(d / "empty" + " (no such file)"));
  EXPECT_THAT(r, Not(HasSubstr("not found")));
}

TEST(PluginLoader, UnreadablePluginIsPermissionDeniedAndALaterOneIsUsed) {
  if (!unprivileged_is_checked()) GTEST_SKIP() << "root without a way to drop privileges: no permission checks";
  test::TempDir d("lxhost-loader-test", 0755);
  write_file(d / "a/lxhost-x.so", 0600);
  if (geteuid() != 0) chmod((d / "a/lxhost-x.so").c_str(), 0000);
  chmod((d / "a").c_str(), 0755);
  std::string r = find_as_unprivileged("x", {d / "a"});
  EXPECT_THAT(r, ::testing::StartsWith(std::to_string(EACCES) + " "));
  EXPECT_THAT(r, HasSubstr(d / "a" + " (permission denied: cannot read lxhost-x.so)"));
  r = find_as_unprivileged(d / "a/lxhost-x.so", {});
  EXPECT_THAT(r, HasSubstr("plugin file '" + d / "a/lxhost-x.so" + "': permission denied: cannot read lxhost-x.so"));
  // As a shell's PATH search does, a readable one further on is taken.
  write_file(d / "b/lxhost-x.so", 0644);
  chmod((d / "b").c_str(), 0755);
  EXPECT_EQ(find_as_unprivileged("x", {d / "a", d / "b"}), "ok " + d / "b/lxhost-x.so");
}

TEST(PluginLoader, DefaultDirsAreNextToTheExecutableThenTheInstallDir) {
  auto dirs = default_plugin_dirs();
  ASSERT_FALSE(dirs.empty());
  auto exe = std::filesystem::read_symlink("/proc/self/exe");
  EXPECT_EQ(dirs.front(), (exe.parent_path().parent_path() / "lib/lxhost/plugins").lexically_normal().string());
  EXPECT_EQ(dirs.back(), install_plugin_dir());
  // Listed even when it does not exist (this test binary has no plugins next to it).
  EXPECT_EQ(dirs.front(), builtin_plugin_dir());
}

TEST(PluginLoader, FindsPluginInSearchPathOrder) {
  auto p = find_plugin("probe", {"/nonexistent", TEST_PLUGIN_DIR});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(*p, std::string(TEST_PLUGIN_DIR) + "/lxhost-probe.so");
}

TEST(PluginLoader, MissingPluginListsWhereItLooked) {
  auto p = find_plugin("nosuch", {"/a", "/b"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ENOENT);
  EXPECT_THAT(p.error().message, HasSubstr("plugin 'nosuch' not found"));
  EXPECT_THAT(p.error().message, HasSubstr("/a (no such directory), /b (no such directory)"));
}

TEST(PluginLoader, PathNamesAreUsedAsIs) {
  EXPECT_FALSE(find_plugin("/nonexistent/lxhost-x.so", {}).ok());
  auto p = find_plugin(std::string(TEST_PLUGIN_DIR) + "/lxhost-probe.so", {});
  EXPECT_TRUE(p.ok());
}

TEST(PluginLoader, LoadsProbeAndReadsItsDescription) {
  auto l = load_plugin(std::string(TEST_PLUGIN_DIR) + "/lxhost-probe.so");
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ((*l)->info().name, "probe");
  EXPECT_EQ((*l)->info().config_table, "probe");
  EXPECT_FALSE((*l)->plugin().config_keys().empty());
}

TEST(PluginLoader, RefusesOtherAbiBeforeCallingTheFactory) {
  // The bad plugin's factory aborts: reaching it would kill this test.
  auto l = load_plugin(std::string(BROKEN_PLUGIN_DIR) + "/lxhost-badabi.so");
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.error().message, HasSubstr(fmt::format("was built for plugin ABI {}, but this lxhost has ABI {}", sdk::kAbiVersion + 41, sdk::kAbiVersion)));
}

TEST(PluginLoader, RefusesLibraryWithoutPluginExports) {
  auto l = load_plugin(std::string(BROKEN_PLUGIN_DIR) + "/lxhost-notaplugin.so");
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.error().message, HasSubstr("is not an lxhost plugin"));
}

TEST(PluginLoader, RefusesFileThatIsNotALibrary) {
  auto l = load_plugin("/etc/passwd");
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.error().message, HasSubstr("cannot load plugin '/etc/passwd'"));
}

TEST(PluginLoader, LibraryOutlivesEveryObjectItMade) {
  // Specs (with strings allocated inside the plugin) stay valid after the LoadedPlugin is gone
  // only if copied; the plugin object itself is destroyed before its library is unloaded.
  std::vector<sdk::SyscallSpec> specs;
  {
    auto l = load_plugin(std::string(TEST_PLUGIN_DIR) + "/lxhost-probe.so");
    ASSERT_TRUE(l.ok());
    specs = (*l)->plugin().syscalls();
  }
  SUCCEED();  // reaching here without a crash is the check (no dangling vtable at destruction)
}

}  // namespace
}  // namespace lx::runtime
