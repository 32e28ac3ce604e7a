// Tests of the config: defaults, layering, --set, schema errors with file:line:column, plugin
// tables, and that a failed merge changes nothing.
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <toml++/toml.h>

#include "config/config.h"
#include <lxhost/errno_names.h>
#include "unprivileged.h"

namespace lx::config {
namespace {

using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    std::string p = dir_ / name;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p) << text;
    return p;
  }
  test::TempDir dir_{"lxhost-config-test"};
};

TEST_F(ConfigTest, DefaultsEnableEveryFamilyWithTheFourPlugins) {
  Config c;
  auto f = c.families();
  ASSERT_EQ(f.size(), 8u);
  for (const auto& [name, fc] : f) {
    EXPECT_TRUE(fc.enabled) << name;
    EXPECT_EQ(fc.plugin, name == "fs" || name == "net" || name == "signal" || name == "proc" ? name : "") << name;
    EXPECT_FALSE(fc.on_disabled.passthrough);
    EXPECT_EQ(fc.on_disabled.errno_value, ENOSYS);
  }
  EXPECT_EQ(c.driver().notify_workers, 2);
  EXPECT_TRUE(c.driver().sync_wakeup);
  EXPECT_TRUE(c.plugin_search_path().empty());
  EXPECT_EQ(c.where("driver.notify_workers").source, "<defaults>");
  EXPECT_THAT(std::string(Config::default_toml()), HasSubstr("# Threads serving the NOTIFY route"));
}

TEST_F(ConfigTest, LaterLayersWin) {
  Config c;
  ASSERT_TRUE(c.merge_string("[driver]\nnotify_workers = 3\n[families.net]\nenabled = false\n", "a.toml").ok());
  ASSERT_TRUE(c.merge_string("[driver]\nnotify_workers = 5\n", "b.toml").ok());
  EXPECT_EQ(c.driver().notify_workers, 5);
  EXPECT_FALSE(c.families()["net"].enabled);  // untouched by b.toml
  EXPECT_EQ(c.where("driver.notify_workers").str(), "b.toml:2:18");
  EXPECT_EQ(c.where("families.net.enabled").str(), "a.toml:4:11");
}

TEST_F(ConfigTest, SetTakesTomlValuesOrStrings) {
  Config c;
  ASSERT_TRUE(c.apply_set("fs.root=/srv/root").ok());
  ASSERT_TRUE(c.apply_set("net.allow_domains=[\"unix\"]").ok());
  ASSERT_TRUE(c.apply_set("families.net.enabled=false").ok());
  ASSERT_TRUE(c.apply_set(" driver.notify_workers =4").ok());  // spaces around the key go
  ASSERT_TRUE(c.apply_set("families.net.on_disabled=passthrough").ok());
  EXPECT_EQ(c.root().at_path("fs.root").value<std::string>(), "/srv/root");
  const toml::array* a = c.root().at_path("net.allow_domains").as_array();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->size(), 1u);
  EXPECT_FALSE(c.families()["net"].enabled);
  EXPECT_TRUE(c.families()["net"].on_disabled.passthrough);
  EXPECT_EQ(c.driver().notify_workers, 4);
  EXPECT_EQ(c.where("fs.root").str(), "--set fs.root=/srv/root");
}

TEST_F(ConfigTest, SetErrorsNameTheAssignment) {
  Config c;
  auto r = c.apply_set("families.net.enabeld=false");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "--set families.net.enabeld=false: unknown key 'families.net.enabeld'");
  EXPECT_THAT(c.apply_set("novalue").error().message, HasSubstr("expected KEY=VALUE"));
  EXPECT_THAT(c.apply_set("=3").error().message, HasSubstr("empty key"));
  EXPECT_THAT(c.apply_set("  =3").error().message, HasSubstr("empty key"));
  EXPECT_THAT(c.apply_set("a..b=3").error().message, HasSubstr("empty part"));
  EXPECT_THAT(c.apply_set("families.net.enabled=yes").error().message,
              HasSubstr("'families.net.enabled' must be a boolean, not a string"));
}

TEST_F(ConfigTest, TypoInFileNamesLineAndColumn) {
  std::string p = write("typo.toml", "# comment\n\n[families.net]\n  enabeld = false\n");
  Config c;
  auto r = c.merge_file(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, p + ":4:3: unknown key 'families.net.enabeld'");
}

TEST_F(ConfigTest, WrongTypeNamesTheValue) {
  std::string p = write("type.toml", "[driver]\nnotify_workers = \"two\"\n");
  Config c;
  auto r = c.merge_file(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, p + ":2:18: 'driver.notify_workers' must be an integer, not a string");
  EXPECT_THAT(c.merge_string("[driver]\nnotify_workers = 0\n", "x").error().message, HasSubstr("between 1 and 64"));
  EXPECT_THAT(c.merge_string("[plugins]\nsearch_path = [\"a\", 3]\n", "x").error().message,
              HasSubstr("x:2:21: 'plugins.search_path' must be an array of strings; found an integer"));
}

TEST_F(ConfigTest, BadErrnoNameAndUnknownFamily) {
  Config c;
  auto r = c.merge_string("[families.net]\non_disabled = \"EWHATEVER\"\n", "e.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("e.toml:2:15: 'families.net.on_disabled' must be an errno name"));
  r = c.merge_string("[families.gpu]\nenabled = false\n", "f.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "f.toml:1:11: unknown family 'gpu' (families are fs, proc, net, signal, memory, time, ipc, other)");
  ASSERT_TRUE(c.merge_string("[families.time]\non_disabled = \"EPERM\"\nenabled = false\n", "g").ok());
  EXPECT_EQ(c.families()["time"].on_disabled.errno_value, EPERM);
}

TEST_F(ConfigTest, UnknownTopLevelKeyIsAnError) {
  Config c;
  auto r = c.merge_string("verbose = true\n", "t.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "t.toml:1:1: unknown key 'verbose'");
  r = c.merge_string("fs = 3\n", "t.toml");
  EXPECT_THAT(r.error().message, HasSubstr("'fs' must be a table"));
}

TEST_F(ConfigTest, SyntaxErrorHasLineAndColumn) {
  std::string p = write("syntax.toml", "[driver]\nnotify_workers = = 3\n");
  Config c;
  auto r = c.merge_file(p);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr(p + ":2:"));
}

TEST_F(ConfigTest, FailedMergeLeavesConfigUnchanged) {
  Config c;
  ASSERT_TRUE(c.apply_set("driver.notify_workers=7").ok());
  std::string before = c.to_toml();
  EXPECT_FALSE(c.merge_string("[driver]\nnotify_workers = 3\nbogus = 1\n", "x").ok());
  EXPECT_FALSE(c.apply_set("driver.bogus=1").ok());
  EXPECT_EQ(c.to_toml(), before);
  EXPECT_EQ(c.driver().notify_workers, 7);
}

TEST_F(ConfigTest, PluginTablesAreCheckedAgainstDeclaredKeys) {
  Config c;
  ASSERT_TRUE(c.merge_string("[probe]\nmode = \"x\"\ncount = \"three\"\n", "p.toml").ok());
  std::vector<sdk::ConfigKey> keys = {{"mode", sdk::ConfigType::kString, ""}, {"count", sdk::ConfigType::kInteger, ""}};
  auto r = c.validate_table("probe", keys);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "p.toml:3:9: 'probe.count' must be an integer, not a string");
  ASSERT_TRUE(c.apply_set("probe.count=3").ok());
  EXPECT_TRUE(c.validate_table("probe", keys).ok());
  ASSERT_TRUE(c.apply_set("probe.extra=1").ok());
  r = c.validate_table("probe", keys);
  EXPECT_THAT(r.error().message, HasSubstr("--set probe.extra=1: unknown key 'probe.extra' (known keys: mode, count)"));
  EXPECT_TRUE(c.validate_table("missing", keys).ok());
}

TEST_F(ConfigTest, TablesNoPluginOwnsAreErrors) {
  Config c;
  ASSERT_TRUE(c.merge_string("[probe]\nmode = 1\n[fs]\nroot = \"/\"\n", "o.toml").ok());
  std::vector<std::string> owned = {"probe"};
  EXPECT_TRUE(c.check_tables_owned(owned).ok());  // fs is a family's own table: allowed
  auto r = c.check_tables_owned({});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "o.toml:1:1: unknown table 'probe' (no loaded plugin reads it)");
}

TEST_F(ConfigTest, ArraysOfTablesAreReplacedWhole) {
  Config c;
  ASSERT_TRUE(c.merge_string("[[fs.mount]]\nhost = \"/a\"\n[[fs.mount]]\nhost = \"/b\"\n", "1").ok());
  ASSERT_TRUE(c.merge_string("[[fs.mount]]\nhost = \"/c\"\n", "2").ok());
  const toml::array* a = c.root().at_path("fs.mount").as_array();
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->size(), 1u);
}

TEST_F(ConfigTest, StandardFilesAreLayeredAndOptional) {
  write("etc/lxhost.toml", "[driver]\nnotify_workers = 3\nsync_wakeup = false\n");
  write("xdg/lxhost/lxhost.toml", "[driver]\nnotify_workers = 6\n");
  setenv("XDG_CONFIG_HOME", (dir_ / "xdg").c_str(), 1);
  Config c;
  ASSERT_TRUE(c.merge_standard_files(dir_ / "etc").ok());
  EXPECT_EQ(c.driver().notify_workers, 6);
  EXPECT_FALSE(c.driver().sync_wakeup);
  setenv("XDG_CONFIG_HOME", (dir_ / "nowhere").c_str(), 1);
  Config d;
  EXPECT_TRUE(d.merge_standard_files(dir_ / "nothing").ok());
  unsetenv("XDG_CONFIG_HOME");
}

TEST_F(ConfigTest, MissingRequiredFileNamesIt) {
  Config c;
  auto r = c.merge_file(dir_ / "absent.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ENOENT);
  EXPECT_THAT(r.error().message, HasSubstr(dir_ / "absent.toml' does not exist"));
  EXPECT_TRUE(c.merge_file(dir_ / "absent.toml", true).ok());
}

TEST_F(ConfigTest, ErrnoNames) {
  EXPECT_EQ(sdk::errno_from_name("ENOSYS"), ENOSYS);
  EXPECT_EQ(sdk::errno_from_name("EAFNOSUPPORT"), EAFNOSUPPORT);
  EXPECT_EQ(sdk::errno_from_name("EWOULDBLOCK"), EAGAIN);
  EXPECT_EQ(sdk::errno_from_name("nope"), std::nullopt);
  EXPECT_EQ(sdk::errno_name(EPERM), "EPERM");
  EXPECT_EQ(sdk::errno_name(EAGAIN), "EAGAIN");
  EXPECT_EQ(sdk::errno_name(EOPNOTSUPP), "EOPNOTSUPP");
  EXPECT_EQ(sdk::errno_name(9999), std::nullopt);
  // Every name glibc knows, the same way round.
  for (int e = 1; e < 200; ++e) {
    const char* glibc = strerrorname_np(e);
    EXPECT_EQ(sdk::errno_name(e), glibc ? std::optional<std::string_view>(glibc) : std::nullopt) << e;
  }
}

TEST_F(ConfigTest, OnDisabledTakesAnyErrnoName) {
  Config c;
  ASSERT_TRUE(c.apply_set("families.net.on_disabled=\"EHWPOISON\"").ok());
  EXPECT_EQ(c.families().at("net").on_disabled.errno_value, EHWPOISON);
  EXPECT_FALSE(c.apply_set("families.net.on_disabled=\"ENOPE\"").ok());
}

}  // namespace
}  // namespace lx::config

namespace {

TEST(ConfigDuration, ParsesUnitsAndForever) {
  using std::chrono::milliseconds;
  EXPECT_EQ(lx::config::parse_duration("0s"), milliseconds(0));
  EXPECT_EQ(lx::config::parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(lx::config::parse_duration("30s"), milliseconds(30000));
  EXPECT_EQ(lx::config::parse_duration("5m"), milliseconds(300000));
  EXPECT_EQ(lx::config::parse_duration("2h"), milliseconds(7200000));
  EXPECT_EQ(lx::config::parse_duration("forever"), milliseconds::max());
  for (const char* bad : {"", "s", "5", "5x", "-1s", "1.5s", "5 s"})
    EXPECT_FALSE(lx::config::parse_duration(bad).has_value()) << bad;
}

TEST(ConfigDuration, InstanceDurationsAreCheckedWithTheirPlace) {
  lx::config::Config c;
  auto r = c.merge_string("[instance]\nlinger = \"5x\"\n", "d.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("d.toml:2:10"));
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("'instance.linger' must be a duration"));
  // grace cannot be forever; linger can.
  EXPECT_FALSE(c.merge_string("[instance]\ngrace = \"forever\"\n", "g.toml").ok());
  EXPECT_TRUE(c.merge_string("[instance]\nlinger = \"forever\"\ngrace = \"500ms\"\n", "ok.toml").ok());
}

}  // namespace
