// Unit tests of a launch's plan (plan_launch): who it runs as, its argv, environment and working
// directory, on the host root and in a distro, from fake guest files; no process is started.
#include <map>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "launch_plan.h"

namespace {

using lx::service::find_user;
using lx::service::groups_of;
using lx::service::InstanceSettings;
using lx::service::plan_launch;
using lx::service::RunRequest;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

// Guest files as the test gives them: file contents by host path, and directories.
class FakeFiles final : public lx::service::GuestFiles {
 public:
  std::string read(const std::string& path) const override {
    auto it = files.find(path);
    return it == files.end() ? "" : it->second;
  }
  std::optional<std::string> not_a_directory(const std::string& path) const override {
    std::string dir = path.size() > 1 && path.back() == '/' ? path.substr(0, path.size() - 1) : path;
    if (dirs.count(dir)) return std::nullopt;
    return files.count(path) ? "not a directory" : "No such file or directory";
  }
  std::map<std::string, std::string> files;
  std::set<std::string> dirs;
};

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/ash\n"
    "broken line\n"
    "user:x:1000:1000:A User:/home/user:/bin/sh\n"
    "nohome:x:1001:1001::/nonexistent:\n";
const char* kGroup =
    "root:x:0:\n"
    "wheel:x:10:root,user\n"
    "audio:x:29:user\n"
    "user:x:1000:user\n"
    "bad\n";

class LaunchPlan : public ::testing::Test {
 protected:
  void SetUp() override {
    distro_.name = "bb";
    distro_.rootfs = "/r";
    distro_.fake_root = true;
    distro_.can_set_identity = true;
    host_.name = "host";
    guest_.files["/r/etc/passwd"] = kPasswd;
    guest_.files["/r/etc/group"] = kGroup;
    guest_.files["/r/etc/hostname"] = "bb\n";
    for (const char* d : {"/r", "/r/root", "/r/home/user", "/r/tmp", "/work", "/home/me"}) guest_.dirs.insert(d);
    request_.cwd = "/work";
    request_.env = {"TERM=xterm", "LANG=C.UTF-8", "LC_ALL=C", "HOME=/home/me", "USER=me", "SHELL=/bin/zsh",
                    "SECRET=1"};
  }

  InstanceSettings distro_, host_;
  FakeFiles guest_;
  RunRequest request_;
};

TEST_F(LaunchPlan, OnTheHostRootTheClientsOwnEnvironmentAndDirectory) {
  request_.argv = {"/bin/true"};
  auto plan = plan_launch(host_, request_, guest_);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_THAT(plan->argv, ElementsAre("/bin/true"));
  EXPECT_EQ(plan->env, request_.env);
  EXPECT_EQ(plan->cwd, "/work");
  EXPECT_FALSE(plan->user);
  // --cd wins; without a command, a login shell: the client's $SHELL.
  request_.argv.clear();
  request_.cd = "/home/me";
  plan = plan_launch(host_, request_, guest_);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->cwd, "/home/me");
  EXPECT_THAT(plan->argv, ElementsAre("/bin/zsh", "-l"));
  request_.env = {"TERM=xterm"};
  EXPECT_THAT(plan_launch(host_, request_, guest_)->argv, ElementsAre("/bin/sh", "-l"));
}

TEST_F(LaunchPlan, AWorkingDirectoryThatIsNoneIsNamedWithItsCause) {
  request_.cwd = "/gone";
  auto plan = plan_launch(host_, request_, guest_);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message, "working directory /gone: No such file or directory");
  request_.cd = "/r/etc/hostname";
  plan = plan_launch(host_, request_, guest_);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message, "--cd /r/etc/hostname: not a directory");
  // No directory at all: the instance's own.
  request_.cd.clear();
  request_.cwd.clear();
  plan = plan_launch(host_, request_, guest_);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->cwd, "");
}

TEST_F(LaunchPlan, InADistroRootsOwnEnvironmentWithTheClientsTerminalAndLocale) {
  auto plan = plan_launch(distro_, request_, guest_);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_THAT(plan->env, ElementsAre("TERM=xterm", "LANG=C.UTF-8", "LC_ALL=C",
                                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                     "HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/ash", "PWD=/root"));
  // A login shell: root's own; the client's directory is outside the distro, so root's home.
  EXPECT_THAT(plan->argv, ElementsAre("/bin/ash", "-l"));
  EXPECT_EQ(plan->cwd, "/r/root");
  EXPECT_FALSE(plan->user) << "root inside is the emulated identity's default, not a -u";
}

TEST_F(LaunchPlan, InADistroTheDirectoryIsTheClientsWhenInsideElseHomeElseRoot) {
  request_.cwd = "/r/tmp";
  EXPECT_EQ(plan_launch(distro_, request_, guest_)->cwd, "/r/tmp");
  request_.cd = "tmp";  // relative: to the home directory
  guest_.dirs.insert("/r/root/tmp");
  EXPECT_EQ(plan_launch(distro_, request_, guest_)->cwd, "/r/root/tmp");
  request_.cd = "/nope";
  auto plan = plan_launch(distro_, request_, guest_);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message, "--cd /nope: no such directory in 'bb'");
  // No passwd: root with /root, which is missing too: the distro's /.
  guest_.files.erase("/r/etc/passwd");
  guest_.dirs.erase("/r/root");
  request_.cd.clear();
  request_.cwd = "/elsewhere";
  plan = plan_launch(distro_, request_, guest_);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->cwd, "/r/");
  EXPECT_THAT(plan->env, Contains("HOME=/root"));
  EXPECT_THAT(plan->argv, ElementsAre("/bin/sh", "-l"));
}

TEST_F(LaunchPlan, UnderTheKernelBackendTheDirectoryIsTheGuestsPath) {
  // The launch starts inside the distro's mount namespace, where the host's path of the rootfs
  // does not exist (or, under a bound /tmp, is another path to the same files).
  distro_.guest_cwd = true;
  request_.cwd = "/r/tmp";
  EXPECT_EQ(plan_launch(distro_, request_, guest_)->cwd, "/tmp");
  request_.cwd = "/elsewhere";
  EXPECT_EQ(plan_launch(distro_, request_, guest_)->cwd, "/root");
  request_.cd = "/";
  EXPECT_EQ(plan_launch(distro_, request_, guest_)->cwd, "/");
}

TEST_F(LaunchPlan, AUserOfTheDistroWithItsIdsGroupsHomeAndShell) {
  request_.user = "user";
  request_.argv = {"/bin/id"};
  auto plan = plan_launch(distro_, request_, guest_);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(plan->user);
  EXPECT_EQ(plan->user->uid, 1000u);
  EXPECT_EQ(plan->user->gid, 1000u);
  EXPECT_THAT(plan->user->groups, ElementsAre(1000u, 10u, 29u));
  EXPECT_THAT(plan->env, IsSupersetOf({"HOME=/home/user", "USER=user", "LOGNAME=user", "SHELL=/bin/sh", "PWD=/home/user"}));
  EXPECT_EQ(plan->cwd, "/r/home/user");
  // By uid too; an empty shell is /bin/sh.
  request_.user = "1001";
  plan = plan_launch(distro_, request_, guest_);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->user->uid, 1001u);
  EXPECT_THAT(plan->env, Contains("SHELL=/bin/sh"));
  EXPECT_THAT(plan->env, Contains("PWD=/"));
}

TEST_F(LaunchPlan, AUserIsRefusedWithoutTheEmulatedIdentityOrWhenUnknown) {
  request_.user = "nosuch";
  auto plan = plan_launch(distro_, request_, guest_);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message, "-u nosuch: no such user in the distro's /etc/passwd of 'bb'");
  request_.user = "user";
  distro_.can_set_identity = false;
  plan = plan_launch(distro_, request_, guest_);
  ASSERT_FALSE(plan);
  EXPECT_THAT(plan.error().message, HasSubstr("the loaded proc plugin cannot start a launch as another user"));
  plan = plan_launch(host_, request_, guest_);
  ASSERT_FALSE(plan);
  EXPECT_THAT(plan.error().message, HasSubstr("-u user: a launch runs as another user only with the emulated identity"));
  // On the host root with fake root: the host's /etc/passwd, and the client's other settings.
  host_.fake_root = true;
  host_.can_set_identity = true;
  guest_.files["/etc/passwd"] = kPasswd;
  request_.argv = {"/bin/true"};
  plan = plan_launch(host_, request_, guest_);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_THAT(plan->env, IsSupersetOf({"TERM=xterm", "SECRET=1", "HOME=/home/user", "USER=user"}));
  EXPECT_THAT(plan->env, Not(Contains("HOME=/home/me")));
  EXPECT_EQ(plan->cwd, "/work") << "the user's home is not a host directory";
}

TEST(PasswdFiles, EntriesAndGroupsAreParsedAsTheirFormatSays) {
  EXPECT_FALSE(find_user(kPasswd, "broken"));
  EXPECT_FALSE(find_user(kPasswd, ""));
  auto root = find_user(kPasswd, "0");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->name, "root");
  EXPECT_EQ(root->shell, "/bin/ash");
  EXPECT_FALSE(find_user("x:x:notanumber:0::/:/bin/sh\n", "x"));
  EXPECT_FALSE(find_user("x:x:0:0::/:/bin/sh", "0x")) << "a name is not a uid";
  EXPECT_THAT(groups_of(kGroup, "root", 0), ElementsAre(0u, 10u));
  EXPECT_THAT(groups_of(kGroup, "nobody", 65534), ElementsAre(65534u));
  EXPECT_THAT(groups_of("g:x:oops:nobody\n", "nobody", 1), ElementsAre(1u));
}

}  // namespace
