// The backend choice end to end ([instance] backend = auto | kernel | emulated): under deny_userns
// (a seccomp filter refusing user namespaces, as a container's profile does) kernel is refused
// with an error naming the refusal and auto runs the guest on the emulated backend; emulated runs
// everywhere; where the host allows user namespaces, auto and kernel run the guest in one of its
// own. Which backend ran is what `lx exec --trace` says ("lx: backend: NAME (why)"), and, for the
// kernel one, seen from inside: the guest's user namespace is not the test's.
#include <unistd.h>

#include <filesystem>
#include <cstdio>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"
#include "test_backend.h"
#include "unprivileged.h"

namespace {

using lx::test::CommandOptions;
using lx::test::run_command;
using lx::test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kLx = LX_BIN;
const std::string kDeny = std::string(GUEST_DIR) + "/deny_userns";
constexpr const char* kRefusal = "unshare(CLONE_NEWUSER): Operation not permitted";
// The guest prints its user namespace (readlink /proc/self/ns/user).
const std::vector<std::string> kShowUserns = {"/bin/sh", "-c", "readlink /proc/self/ns/user"};

std::string own_userns() { return std::filesystem::read_symlink("/proc/self/ns/user").string() + "\n"; }

// `lx exec --trace --set instance.backend=BACKEND -- CMD...`, under deny_userns when `denied`.
std::vector<std::string> exec(const std::string& backend, const std::vector<std::string>& cmd, bool denied) {
  std::vector<std::string> argv;
  if (denied) argv.push_back(kDeny);
  argv.insert(argv.end(), {kLx, "exec", "--trace", "--set", "instance.backend=" + backend, "--"});
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  return argv;
}

TEST(DenyUserns, RefusesUserNamespacesToWhatItRuns) {
  auto r = run_command({kDeny, "/bin/sh", "-c", "unshare -U true; echo $?"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out, "0\n") << "unshare -U worked under deny_userns";
  EXPECT_THAT(r.err, HasSubstr("Operation not permitted"));
  EXPECT_EQ(run_command({kDeny, "/bin/sh", "-c", "echo still runs"}).out, "still runs\n");
}

TEST(Backend, KernelIsRefusedWithTheReasonWhereUserNamespacesAre) {
  auto r = run_command(exec("kernel", {"/bin/true"}, true));
  EXPECT_EQ(r.status, 125) << r.err;
  EXPECT_THAT(r.err, HasSubstr("instance.backend = kernel, but this host refuses a user namespace"));
  EXPECT_THAT(r.err, HasSubstr(kRefusal));
}

TEST(Backend, AutoRunsOnTheEmulatedBackendWhereUserNamespacesAreRefused) {
  auto r = run_command(exec("auto", kShowUserns, true));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, own_userns());
  EXPECT_THAT(r.err, HasSubstr("lx: backend: emulated (auto: this host refuses a user namespace"));
  EXPECT_THAT(r.err, HasSubstr(kRefusal));
}

TEST(Backend, EmulatedRunsEverywhere) {
  for (bool denied : {false, true}) {
    auto r = run_command(exec("emulated", kShowUserns, denied));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, own_userns()) << "denied=" << denied;
    EXPECT_THAT(r.err, HasSubstr("lx: backend: emulated (instance.backend = emulated")) << "denied=" << denied;
  }
}

TEST(Backend, AutoAndKernelRunTheGuestInItsOwnUserNamespaceWhereTheHostAllowsIt) {
  if (!lx::test::kernel_refusal().empty())
    GTEST_SKIP() << "this host refuses user namespaces: " << lx::test::kernel_refusal();
  auto r = run_command(exec("auto", kShowUserns, false));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("lx: backend: kernel (auto: this host lets the user create a user namespace)"));
  EXPECT_THAT(r.out, HasSubstr("user:[")) << r.err;
  EXPECT_NE(r.out, own_userns());
  r = run_command(exec("kernel", kShowUserns, false));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("lx: backend: kernel (instance.backend = kernel"));
  EXPECT_THAT(r.out, HasSubstr("user:[")) << r.err;
  EXPECT_NE(r.out, own_userns());
}

// Capabilities the kernel honours only in the host's user namespace are not shown to a guest of
// its own (it would trust them and fail: LTP's library warned in every test as root); the ones
// that work in the namespace stay.
TEST(Backend, UnderTheKernelBackendRootHasOnlyTheCapabilitiesThatWorkInItsNamespace) {
  if (!lx::test::kernel_refusal().empty())
    GTEST_SKIP() << "this host refuses user namespaces: " << lx::test::kernel_refusal();
  auto r = run_command({kLx, "exec", "--set", "instance.backend=kernel", "--", "/bin/sh", "-c",
                        "grep CapEff /proc/self/status; echo -1000 > /proc/self/oom_score_adj || echo refused"});
  ASSERT_EQ(r.status, 0) << r.err;
  unsigned long long eff = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "CapEff: %llx", &eff), 1) << r.out;
  EXPECT_FALSE((eff >> 24) & 1) << "CAP_SYS_RESOURCE shown: " << r.out;
  EXPECT_FALSE((eff >> 14) & 1) << "CAP_IPC_LOCK shown: " << r.out;
  EXPECT_TRUE((eff >> 21) & 1) << "CAP_SYS_ADMIN (of the namespace) missing: " << r.out;
  EXPECT_TRUE((eff >> 23) & 1) << "CAP_SYS_NICE (renices the namespace's processes) missing: " << r.out;
  EXPECT_THAT(r.out, HasSubstr("refused"));  // what the missing capability means, natively too
}

// Under the kernel backend nothing of ours traces the guest (no TRACE row in the default config):
// the guest traces its own processes, as on WSL1. strace -f and gdb are the host's (the guest
// root is the host's root), run as root and as the unprivileged user.
TEST(Backend, UnderTheKernelBackendTheGuestTracesItsOwnProcesses) {
  if (!lx::test::kernel_refusal().empty())
    GTEST_SKIP() << "this host refuses user namespaces: " << lx::test::kernel_refusal();
  for (const char* tool : {"/usr/bin/strace", "/usr/bin/gdb"})
    if (access(tool, X_OK) != 0) GTEST_SKIP() << tool << " is not installed (scripts/setup.sh installs it)";
  const std::string lx = lx::test::reachable(kLx);
  for (bool unprivileged : {false, true}) {
    if (unprivileged && !lx::test::can_switch_user()) continue;
    auto as = [&](std::vector<std::string> argv) { return unprivileged ? lx::test::as_unprivileged(argv) : argv; };
    auto r = run_command(as({lx, "exec", "--set", "instance.backend=kernel", "--", "/usr/bin/strace", "-f", "-e",
                              "trace=execve,exit_group", "/bin/sh", "-c", "/bin/true; exit 7"}));
    EXPECT_EQ(r.status, 7) << r.err;
    EXPECT_THAT(r.err, HasSubstr("execve(\"/bin/true\"")) << "unprivileged=" << unprivileged;
    EXPECT_THAT(r.err, HasSubstr("exit_group(7)")) << "unprivileged=" << unprivileged;
    EXPECT_THAT(r.err, HasSubstr("+++ exited with 7 +++"));
    r = run_command(as({lx, "exec", "--set", "instance.backend=kernel", "--", "/usr/bin/gdb", "-nx", "-batch", "-ex", "run",
                        "-ex", "info inferiors", "--args", "/bin/sh", "-c", "exit 5"}));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("exited with code 05")) << r.out << r.err << " unprivileged=" << unprivileged;
  }
}

// The same choice through lxhostd: the client starts the daemon, which inherits the filter, and
// the daemon starts the instance.
class ServiceBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* d : {"/run", "/data", "/config"}) std::filesystem::create_directory(dir_.path() + d);
    env_ = {"XDG_RUNTIME_DIR=" + dir_ / "run", "XDG_DATA_HOME=" + dir_ / "data", "XDG_CONFIG_HOME=" + dir_ / "config"};
  }
  void TearDown() override { lx({"shutdown"}, false); }

  lx::test::CommandResult lx(std::vector<std::string> args, bool denied) {
    args.insert(args.begin(), kLx);
    if (denied) args.insert(args.begin(), kDeny);
    CommandOptions o;
    o.env_add = env_;
    return run_command(args, o);
  }

  TempDir dir_{"lxbk", 0700};  // short: the socket's path must fit in sockaddr_un
  std::vector<std::string> env_;
};

TEST_F(ServiceBackend, KernelIsRefusedWithTheReasonAndAutoRunsWhereUserNamespacesAre) {
  auto r = lx({"run", "--set", "instance.backend=kernel", "--", "/bin/true"}, true);
  EXPECT_EQ(r.status, 125) << r.err;
  EXPECT_THAT(r.err, HasSubstr("refuses a user namespace"));
  EXPECT_THAT(r.err, HasSubstr(kRefusal));
  r = lx({"run", "--set", "instance.backend=auto", "--", "/bin/sh", "-c", "readlink /proc/self/ns/user"}, true);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, own_userns());
}

}  // namespace
