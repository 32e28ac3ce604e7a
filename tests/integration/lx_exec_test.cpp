// End-to-end tests of `lx exec`: exit statuses, signals, threads, forks, disabled families,
// the probe plugin's NOTIFY/TRACE/ADDFD routes, refusals of bad plugins and bad config.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"

namespace {

using lx::test::CommandOptions;
using lx::test::CommandResult;
using lx::test::run_command;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kLx = LX_BIN;
const std::string kGuest = GUEST_DIR;

std::string probe_path() { return fmt::format("plugins.search_path=[\"{}\"]", TEST_PLUGIN_DIR); }

// lx exec with the probe plugin loaded for the "other" family, plus extra --set options.
std::vector<std::string> exec_probe(std::vector<std::string> sets, std::vector<std::string> cmd, bool trace = false) {
  std::vector<std::string> argv = {kLx, "exec", "--set", probe_path(), "--set", "families.other.plugin=probe"};
  for (auto& s : sets) argv.insert(argv.end(), {"--set", s});
  if (trace) argv.push_back("--trace");
  argv.push_back("--");
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  return argv;
}

// One line of the config-error output (must be exactly one line, naming the cause).
void expect_one_line(const CommandResult& r) {
  std::string e = r.err;
  while (!e.empty() && e.back() == '\n') e.pop_back();
  EXPECT_EQ(e.find('\n'), std::string::npos) << "expected one line, got:\n" << r.err;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/lxhost-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << content;
    return p;
  }

 private:
  std::string path_;
};

TEST(LxExec, ShellEchoAndExitCode) {
  auto r = run_command({kLx, "exec", "--", "/bin/sh", "-c", "echo hi; exit 3"});
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_EQ(r.status, 3) << r.err;
}

TEST(LxExec, GuestKilledBySignalReports128PlusN) {
  EXPECT_EQ(run_command({kLx, "exec", "--", "/bin/sh", "-c", "kill -KILL $$"}).status, 128 + SIGKILL);
  EXPECT_EQ(run_command({kLx, "exec", "--", "/bin/sh", "-c", "kill -SEGV $$"}).status, 128 + SIGSEGV);
}

TEST(LxExec, StdinStdoutAndEnvironmentPassThrough) {
  CommandOptions o;
  o.input = "line one\nline two\n";
  auto r = run_command({kLx, "exec", "--", "cat"}, o);
  EXPECT_EQ(r.out, o.input);
  EXPECT_EQ(r.status, 0);
  CommandOptions e;
  e.env_add = {"LXHOST_TEST_VAR=some value"};
  r = run_command({kLx, "exec", "--", "/bin/sh", "-c", "echo \"$LXHOST_TEST_VAR\"; echo err >&2"}, e);
  EXPECT_EQ(r.out, "some value\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(LxExec, MultiThreadedGuest) {
  auto r = run_command(exec_probe({}, {kGuest + "/guest_threads", "8", "300"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "threads ok 2400\n");
}

TEST(LxExec, GuestForkingManyChildren) {
  auto r = run_command(exec_probe({}, {kGuest + "/guest_forks", "300"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "forks ok 300\n");
  r = run_command(exec_probe({}, {kGuest + "/guest_forks", "50", "exec"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "forks ok 50\n");
}

TEST(LxExec, CommandNotFoundIs127) {
  auto r = run_command({kLx, "exec", "--", "/nonexistent/lxhost-no-such-program"});
  EXPECT_EQ(r.status, 127);
  EXPECT_THAT(r.err, HasSubstr("cannot run '/nonexistent/lxhost-no-such-program'"));
  expect_one_line(r);
}

TEST(LxExec, NoCommandIsUsageError) {
  auto r = run_command({kLx, "exec"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("no command given"));
}

TEST(LxExec, DisabledNetFamilyFailsInKernelWithEnosys) {
  auto r = run_command({kLx, "exec", "--set", "families.net.enabled=false", "--trace", "--",
                        kGuest + "/guest_probe", "socket"});
  EXPECT_EQ(r.out, "ENOSYS\n");
  // Decided in the kernel: listed as a kernel rule, and never seen as an intercepted call.
  EXPECT_THAT(r.err, HasSubstr("in kernel: socket -> errno(ENOSYS)"));
  EXPECT_THAT(r.err, Not(HasSubstr("] socket(")));
  EXPECT_THAT(r.err, HasSubstr("0 notifications, 0 trace stops"));
}

TEST(LxExec, DisabledFamilyWithOtherErrno) {
  auto r = run_command({kLx, "exec", "--set", "families.net.enabled=false", "--set",
                        "families.net.on_disabled=EAFNOSUPPORT", "--", kGuest + "/guest_probe", "unix"});
  EXPECT_EQ(r.out, "EAFNOSUPPORT\n");
}

TEST(LxExec, DisabledFamilyPassthroughWorksNatively) {
  auto r = run_command({kLx, "exec", "--set", "families.net.enabled=false", "--set",
                        "families.net.on_disabled=passthrough", "--", kGuest + "/guest_probe", "socket"});
  EXPECT_EQ(r.out, "ok\n");
  EXPECT_EQ(r.status, 0);
}

TEST(LxExec, X32AndForeignSyscallsAreRefused) {
  auto r = run_command({kLx, "exec", "--", kGuest + "/guest_probe", "x32"});
  EXPECT_EQ(r.out, "ENOSYS\n");
}

TEST(LxExec, ProbeNotifyRouteAnswersGetppid) {
  auto r = run_command(exec_probe({"probe.getppid_value=4242"}, {kGuest + "/guest_probe", "getppid"}, true));
  EXPECT_EQ(r.out, "4242\n") << r.err;
  EXPECT_THAT(r.err, HasSubstr("getppid() = 4242 <notify>"));
}

TEST(LxExec, ProbeNotifyContinueKeepsNativeResult) {
  auto r = run_command(exec_probe({}, {kGuest + "/guest_probe", "getppid"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out, "4242\n");
  EXPECT_GT(std::stol(r.out), 0);
}

TEST(LxExec, ProbeTraceRouteAnswersGetppid) {
  auto r = run_command(exec_probe({"probe.getppid_route=trace", "probe.getppid_value=777"},
                                  {kGuest + "/guest_probe", "getppid"}, true));
  EXPECT_EQ(r.out, "777\n") << r.err;
  EXPECT_THAT(r.err, HasSubstr("getppid() = 777 <trace>"));
}

TEST(LxExec, ProbeErrnoRouteIsDecidedInKernel) {
  auto r = run_command(exec_probe({"probe.getppid_route=errno"}, {kGuest + "/guest_probe", "getppid"}, true));
  EXPECT_EQ(r.out, "-1\n") << r.err;
  EXPECT_THAT(r.err, HasSubstr("in kernel: getppid -> errno(EPERM)"));
}

TEST(LxExec, ProbeInstallsFdWithAddfd) {
  auto r = run_command(exec_probe({"probe.magic_path=/lxhost/magic", "probe.magic_content=from the plugin"},
                                  {kGuest + "/guest_probe", "cat", "/lxhost/magic"}, true));
  EXPECT_EQ(r.out, "from the plugin") << r.err;
  EXPECT_THAT(r.err, HasSubstr("openat(AT_FDCWD, \"/lxhost/magic\""));
  // Other paths still open natively.
  r = run_command(exec_probe({"probe.magic_path=/lxhost/magic"}, {kGuest + "/guest_probe", "cat", "/proc/self/comm"}));
  EXPECT_EQ(r.out, "guest_probe\n") << r.err;
}

TEST(LxExec, ProbeTraceRouteRewritesRegisters) {
  auto r = run_command(exec_probe({"probe.exit_from=42", "probe.exit_to=43", "probe.getppid_route=none"},
                                  {kGuest + "/guest_probe", "exit", "42"}, true));
  EXPECT_EQ(r.status, 43) << r.err;
  EXPECT_THAT(r.err, HasSubstr("exit_group(42) = <native, rewritten> <trace>"));
  r = run_command(exec_probe({"probe.exit_from=42", "probe.exit_to=43"}, {kGuest + "/guest_probe", "exit", "41"}));
  EXPECT_EQ(r.status, 41);
}

TEST(LxExec, IoUringClosedWhenFsIsTranslated) {
  // The probe plugin routes openat through NOTIFY: io_uring could bypass it, so it is closed.
  auto r = run_command(exec_probe({"probe.magic_path=/lxhost/magic"}, {kGuest + "/guest_probe", "io_uring"}));
  EXPECT_EQ(r.out, "ENOSYS\n");
}

TEST(LxExec, BadAbiPluginIsRefusedWithOneLine) {
  auto r = run_command({kLx, "exec", "--set", fmt::format("plugins.search_path=[\"{}\"]", BROKEN_PLUGIN_DIR), "--set",
                        "families.other.plugin=badabi", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("lxhost-badabi.so' was built for plugin ABI 43"));
  expect_one_line(r);
}

TEST(LxExec, NotAPluginIsRefusedWithOneLine) {
  auto r = run_command({kLx, "exec", "--set", fmt::format("plugins.search_path=[\"{}\"]", BROKEN_PLUGIN_DIR), "--set",
                        "families.other.plugin=notaplugin", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("is not an lxhost plugin"));
  expect_one_line(r);
}

TEST(LxExec, MissingPluginIsRefusedWithOneLine) {
  auto r = run_command({kLx, "exec", "--set", "families.fs.plugin=doesnotexist", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("plugin 'doesnotexist' not found"));
  EXPECT_THAT(r.err, HasSubstr("--set families.fs.plugin=doesnotexist"));
  expect_one_line(r);
}

TEST(LxExec, PluginRefusingItsConfigIsReported) {
  auto r = run_command(exec_probe({"probe.getppid_route=sideways"}, {"/bin/true"}));
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("plugin 'probe'"));
  EXPECT_THAT(r.err, HasSubstr("getppid_route must be"));
  expect_one_line(r);
}

TEST(LxExec, UnknownPluginKeyIsRefusedWithPosition) {
  auto r = run_command(exec_probe({"probe.getppid_valeu=1"}, {"/bin/true"}));
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("getppid_valeu"));
  expect_one_line(r);
}

TEST(LxExec, ConfigTypoNamesFileLineColumn) {
  TempDir d;
  std::string f = d.write("bad.toml", "# a comment\n[families.net]\nenabeld = false\n");
  auto r = run_command({kLx, "exec", "--config", f, "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr(f + ":3:1"));
  EXPECT_THAT(r.err, HasSubstr("enabeld"));
  expect_one_line(r);
}

TEST(LxExec, SignalFromAnotherProcessIsForwardedToTheGuest) {
  int fd = -1;
  pid_t lx = lx::test::start_command({kLx, "exec", "--", "/bin/sh", "-c", "echo ready; exec sleep 100"}, &fd);
  ASSERT_GT(lx, 0);
  ASSERT_EQ(lx::test::read_line(fd), "ready");
  usleep(100000);  // let sh exec sleep
  kill(lx, SIGTERM);
  EXPECT_EQ(lx::test::wait_for(lx), 128 + SIGTERM);
  close(fd);
}

TEST(LxExec, ProcessesLeftBehindAreEndedWithTheGuest) {
  auto r = run_command({kLx, "exec", "--", "/bin/sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo $!"});
  ASSERT_EQ(r.status, 0) << r.err;
  pid_t daemon = static_cast<pid_t>(std::stol(r.out));
  ASSERT_GT(daemon, 0);
  EXPECT_FALSE(lx::test::process_alive(daemon)) << "pid " << daemon << " survived lx exec";
}

TEST(LxExec, DoubleForkedSetsidDaemonIsEndedToo) {
  auto r = run_command({kLx, "exec", "--", "/bin/sh", "-c", "(setsid sh -c 'sleep 1000' >/dev/null 2>&1 & echo $!)"});
  ASSERT_EQ(r.status, 0) << r.err;
  pid_t daemon = static_cast<pid_t>(std::stol(r.out));
  EXPECT_FALSE(lx::test::process_alive(daemon)) << "daemon " << daemon << " survived lx exec";
}

TEST(LxExec, UnprivilegedUserGetsTheSameBehaviour) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "setpriv missing";
  std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"};
  auto inner = exec_probe({"probe.getppid_value=4242"}, {kGuest + "/guest_probe", "getppid"});
  argv.insert(argv.end(), inner.begin(), inner.end());
  auto r = run_command(argv);
  EXPECT_EQ(r.out, "4242\n") << r.err;
  EXPECT_EQ(r.status, 0);
  auto id = run_command({"/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", kLx, "exec",
                         "--", "/usr/bin/id", "-u"});
  EXPECT_EQ(id.out, "65534\n") << id.err;
}

TEST(LxSyscalls, PrintsCompatibilityTable) {
  auto r = run_command({kLx, "syscalls", "--set", probe_path(), "--set", "families.other.plugin=probe", "--set",
                        "families.net.enabled=false"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("getppid"));
  EXPECT_THAT(r.out, HasSubstr("probe"));
  EXPECT_THAT(r.out, HasSubstr("family 'net' disabled"));
  EXPECT_THAT(r.out, HasSubstr("# family ipc     enabled, no plugin loaded: native passthrough"));
  EXPECT_THAT(r.out, HasSubstr("# family proc    enabled, plugin 'proc'"));
  EXPECT_THAT(r.out, HasSubstr("# family fs      enabled, plugin 'fs'"));
}

TEST(LxConfig, CheckPrintsMergedConfig) {
  TempDir d;
  std::string f = d.write("ok.toml", "[families.net]\nenabled = false\n");
  auto r = run_command({kLx, "config", "check", f, "--set", "driver.notify_workers=3"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("notify_workers = 3"));
  EXPECT_THAT(r.out, HasSubstr("enabled = false"));
  std::string bad = d.write("bad.toml", "[driver]\nnotify_workers = \"many\"\n");
  r = run_command({kLx, "config", "check", bad});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr(bad + ":2:"));
}

TEST(LxHelp, HelpAndVersion) {
  auto r = run_command({kLx, "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("exec [--trace] [--] CMD"));
  EXPECT_THAT(r.out, HasSubstr("run [-d DISTRO]"));
  r = run_command({kLx, "version"});
  EXPECT_THAT(r.out, HasSubstr("plugin ABI 2"));
  r = run_command({kLx, "frobnicate"});
  EXPECT_EQ(r.status, 2);
}

}  // namespace
