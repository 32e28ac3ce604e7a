// Tests of plugin loading: search path, ABI check, refusal reasons, library lifetime.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugin_loader.h"

namespace lx::host {
namespace {

using ::testing::HasSubstr;

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
  EXPECT_THAT(p.error().message, HasSubstr("/a, /b"));
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
  EXPECT_THAT(l.error().message, HasSubstr("was built for plugin ABI 43, but this lxhost has ABI 2"));
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
}  // namespace lx::host
