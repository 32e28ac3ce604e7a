// End-to-end tests of `lx exec`: exit statuses, signals, threads, forks, disabled families,
// the probe plugin's NOTIFY/TRACE/ADDFD routes, refusals of bad plugins and bad config.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <lxhost/plugin.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"
#include "test_backend.h"
#include "unprivileged.h"

namespace {

using lx::test::as_unprivileged;
using lx::test::CommandOptions;
using lx::test::CommandResult;
using lx::test::reachable;
using lx::test::run_command;
using lx::test::TempDir;
using lx::test::unprivileged_uid;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kLx = LX_BIN;
const std::string kGuest = GUEST_DIR;

std::string probe_path(const std::string& dir = TEST_PLUGIN_DIR) {
  return fmt::format("plugins.search_path=[\"{}\"]", dir);
}

// lx exec with the probe plugin loaded for the "other" family, plus extra --set options.
std::vector<std::string> exec_probe(std::vector<std::string> sets, std::vector<std::string> cmd, bool trace = false,
                                    const std::string& lx = kLx, const std::string& plugin_dir = TEST_PLUGIN_DIR) {
  std::vector<std::string> argv = {lx, "exec", "--set", probe_path(plugin_dir), "--set", "families.other.plugin=probe"};
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

// Writes `content` to `dir`/`name` and returns its path.
std::string write(const TempDir& dir, const std::string& name, const std::string& content) {
  std::string p = dir / name;
  std::ofstream(p) << content;
  return p;
}

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
  // Without the fs plugin (which notifies every path call), nothing at all is intercepted.
  auto r = run_command({kLx, "exec", "--set", "families.net.enabled=false", "--set", "families.fs.plugin=\"\"",
                        "--trace", "--", kGuest + "/guest_probe", "socket"});
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
  LX_EMULATED_BACKEND_ONLY("a TRACE row, which the kernel backend refuses by design (no ptrace)");
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

// With probe.magic_path the probe claims open/openat, which the fs plugin claims too: it takes
// the fs plugin's place.
const std::string kNoFsPlugin = "families.fs.plugin=\"\"";

TEST(LxExec, ProbeInstallsFdWithAddfd) {
  auto r = run_command(exec_probe({kNoFsPlugin, "probe.magic_path=/lxhost/magic", "probe.magic_content=from the plugin"},
                                  {kGuest + "/guest_probe", "cat", "/lxhost/magic"}, true));
  EXPECT_EQ(r.out, "from the plugin") << r.err;
  EXPECT_THAT(r.err, HasSubstr("openat(AT_FDCWD, \"/lxhost/magic\""));
  // Other paths still open natively.
  r = run_command(exec_probe({kNoFsPlugin, "probe.magic_path=/lxhost/magic"},
                             {kGuest + "/guest_probe", "cat", "/proc/self/comm"}));
  EXPECT_EQ(r.out, "guest_probe\n") << r.err;
}

TEST(LxExec, ProbeTraceRouteRewritesRegisters) {
  LX_EMULATED_BACKEND_ONLY("a TRACE row, which the kernel backend refuses by design (no ptrace)");
  auto r = run_command(exec_probe({"probe.exit_from=42", "probe.exit_to=43", "probe.getppid_route=none"},
                                  {kGuest + "/guest_probe", "exit", "42"}, true));
  EXPECT_EQ(r.status, 43) << r.err;
  EXPECT_THAT(r.err, HasSubstr("exit_group(42) = <native, rewritten> <trace>"));
  r = run_command(exec_probe({"probe.exit_from=42", "probe.exit_to=43"}, {kGuest + "/guest_probe", "exit", "41"}));
  EXPECT_EQ(r.status, 41);
}

TEST(LxExec, IoUringClosedWhenFsIsTranslated) {
  LX_EMULATED_BACKEND_ONLY("io_uring is closed only where the fs family translates paths; the kernel backend resolves them in the mount namespace");
  // The probe plugin routes openat through NOTIFY: io_uring could bypass it, so it is closed.
  auto r = run_command(exec_probe({kNoFsPlugin, "probe.magic_path=/lxhost/magic"}, {kGuest + "/guest_probe", "io_uring"}));
  EXPECT_EQ(r.out, "ENOSYS\n") << r.err;
  // The fs plugin translates every path call, with the host's root too.
  r = run_command({kLx, "exec", "--", kGuest + "/guest_probe", "io_uring"});
  EXPECT_EQ(r.out, "ENOSYS\n") << r.err;
}

TEST(LxExec, BadAbiPluginIsRefusedWithOneLine) {
  auto r = run_command({kLx, "exec", "--set", fmt::format("plugins.search_path=[\"{}\"]", BROKEN_PLUGIN_DIR), "--set",
                        "families.other.plugin=badabi", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr(fmt::format("lxhost-badabi.so' was built for plugin ABI {}", lx::sdk::kAbiVersion + 41)));
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
  std::string f = write(d, "bad.toml", "# a comment\n[families.net]\nenabeld = false\n");
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

// Whether a process whose command line is `command` (arguments joined by spaces) runs, seen from
// the host (a guest's own pid names nothing here under the kernel backend).
bool command_running(const std::string& command) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    while (!text.empty() && text.back() == '\0') text.pop_back();
    for (auto& c : text)
      if (c == '\0') c = ' ';
    if (text == command) return true;
  }
  return false;
}

TEST(LxExec, ProcessesLeftBehindAreEndedWithTheGuest) {
  // A duration of its own names the process from the host, whatever its pid inside.
  std::string marker = "1000." + std::to_string(getpid());
  auto r = run_command({kLx, "exec", "--", "/bin/sh", "-c", "sleep " + marker + " >/dev/null 2>&1 & echo $!"});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_GT(std::stol(r.out), 0);
  EXPECT_FALSE(command_running("sleep " + marker)) << "sleep " << marker << " survived lx exec";
}

TEST(LxExec, DoubleForkedSetsidDaemonIsEndedToo) {
  std::string marker = "1001." + std::to_string(getpid());
  auto r = run_command({kLx, "exec", "--", "/bin/sh", "-c", "(setsid sh -c 'sleep " + marker + "' >/dev/null 2>&1 & echo $!)"});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_GT(std::stol(r.out), 0);
  EXPECT_FALSE(command_running("sleep " + marker)) << "the daemon (sleep " << marker << ") survived lx exec";
}

TEST(LxExec, UnprivilegedUserGetsTheSameBehaviour) {
  auto r = run_command(as_unprivileged(exec_probe({"probe.getppid_value=4242"},
                                                  {reachable(kGuest + "/guest_probe"), "getppid"}, false,
                                                  reachable(kLx), reachable(TEST_PLUGIN_DIR))));
  EXPECT_EQ(r.out, "4242\n") << r.err;
  EXPECT_EQ(r.status, 0);
  auto id = run_command(as_unprivileged({reachable(kLx), "exec", "--", "/usr/bin/id", "-u"}));
  // Under the kernel backend the user's own id is root in its user namespace.
  EXPECT_EQ(id.out, (lx::test::test_backend() == "kernel" ? "0" : std::to_string(unprivileged_uid())) + "\n") << id.err;
}

TEST(LxExec, UnreachablePluginDirIsPermissionDeniedNotNotFound) {
  if (unprivileged_uid() == 0) GTEST_SKIP() << "root without setpriv: no unprivileged user to check permissions";
  namespace fs = std::filesystem;
  if (fs::exists(std::string(LXHOST_INSTALL_PLUGIN_DIR) + "/lxhost-fs.so"))
    GTEST_SKIP() << "lxhost is installed in " << LXHOST_INSTALL_PLUGIN_DIR << ": the loader would take its plugins";
  // An lx with its plugins next to it, as installed, in a directory the user may enter...
  TempDir d("lxhost-exec-test", 0755);
  fs::create_directories(d / "bin");
  fs::create_directories(d / "lib");
  fs::copy(kLx, d / "bin/lx");
  fs::copy(fs::path(kLx).parent_path().parent_path() / "lib/lxhost", d / "lib/lxhost", fs::copy_options::recursive);
  for (const char* p : {"bin", "lib", "lib/lxhost", "lib/lxhost/plugins"}) fs::permissions(d / p, fs::perms(0755));
  std::vector<std::string> argv = as_unprivileged({d / "bin/lx", "exec", "--", "/bin/sh", "-c", "echo ran"});
  auto r = run_command(argv);
  ASSERT_EQ(r.out, "ran\n") << r.err;
  // ...then with lib/ closed to it: the message says why and lists every place looked.
  fs::permissions(d / "lib", fs::perms(geteuid() == 0 ? 0700 : 0000));
  r = run_command(argv);
  fs::permissions(d / "lib", fs::perms(0755));
  EXPECT_EQ(r.status, 125);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("' cannot be loaded: permission denied for uid " +
                               std::to_string(unprivileged_uid())));
  EXPECT_THAT(r.err, HasSubstr(d / "lib/lxhost/plugins (permission denied: cannot search " + d / "lib" + ")"));
  EXPECT_THAT(r.err, HasSubstr(std::string(LXHOST_INSTALL_PLUGIN_DIR) + " ("));
  EXPECT_THAT(r.err, Not(HasSubstr("not found")));
  expect_one_line(r);
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
  std::string f = write(d, "ok.toml", "[families.net]\nenabled = false\n");
  auto r = run_command({kLx, "config", "check", f, "--set", "driver.notify_workers=3"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("notify_workers = 3"));
  EXPECT_THAT(r.out, HasSubstr("enabled = false"));
  std::string bad = write(d, "bad.toml", "[driver]\nnotify_workers = \"many\"\n");
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
  EXPECT_THAT(r.out, HasSubstr(fmt::format("plugin ABI {}", lx::sdk::kAbiVersion)));
  r = run_command({kLx, "frobnicate"});
  EXPECT_EQ(r.status, 2);
}

}  // namespace
