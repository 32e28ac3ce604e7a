// Tests of the Driver with in-process plugins against real guest processes: NOTIFY and TRACE
// routes, guest memory bounds, fd installation, process tracking, launch failures.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "driver/driver.h"
#include "driver/process_table.h"

namespace lx::driver {
namespace {

using sdk::Route;
using sdk::SyscallContext;
using sdk::SyscallResult;
using ::testing::HasSubstr;

const std::string kGuest = GUEST_DIR;

// A plugin whose handlers are lambdas, counting process events.
class TestPlugin final : public sdk::PluginBase {
 public:
  sdk::PluginInfo info() const noexcept override { return {"test", "0", "other", "", ""}; }
  std::vector<sdk::ConfigKey> config_keys() const noexcept override { return {}; }
  std::string configure(const sdk::PluginConfig&) noexcept override { return {}; }
  void on(int nr, Route route, Handler h) {
    sdk::SyscallSpec s;
    s.nr = nr;
    s.route = route;
    add(s, std::move(h));
  }
  void on_process_start(pid_t tid, pid_t) noexcept override {
    std::lock_guard l(mu);
    started.insert(tid);
  }
  void on_process_exit(pid_t tid) noexcept override {
    std::lock_guard l(mu);
    exited.insert(tid);
  }
  std::mutex mu;
  std::set<pid_t> started, exited;
};

// Runs argv under a driver built from `plugin`'s specs; stdout of the guest goes to a temp file.
struct Run {
  Result<ExitStatus> status = Error::msg("not run");
  std::string out;
  DriverStats stats;
};

Run run_guest(TestPlugin& plugin, std::vector<std::string> argv, bool sync_wakeup = true,
              std::function<void(Driver&)> during = {}) {
  FilterPolicy policy;
  DispatchTable table;
  for (const auto& s : plugin.syscalls()) {
    policy.syscalls[s.nr] = SyscallPolicy{s.arg_rules, Action{s.route, static_cast<std::uint16_t>(s.errno_value)}};
    if (s.route == Route::kNotify || s.route == Route::kTrace) table.set(s.nr, &plugin, s.route);
  }
  DriverOptions opts;
  opts.sync_wakeup = sync_wakeup;
  auto created = Driver::create(policy, table, {&plugin}, opts);
  EXPECT_TRUE(created.ok()) << created.error().message;
  Driver& d = **created;
  int fd = memfd_create("guest-stdout", MFD_CLOEXEC);  // no file anywhere
  int saved = dup(1);
  dup2(fd, 1);
  LaunchSpec spec;
  spec.argv = std::move(argv);
  spec.env = {"PATH=/usr/bin:/bin"};
  Run r;
  std::thread side;
  if (during) side = std::thread([&] { during(d); });
  r.status = d.run(spec);
  if (side.joinable()) side.join();
  dup2(saved, 1);
  close(saved);
  lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) r.out.append(buf, static_cast<std::size_t>(n));
  close(fd);
  r.stats = d.stats();
  return r;
}

TEST(Driver, NotifyHandlerReturnsValue) {
  TestPlugin p;
  std::atomic<int> calls{0};
  p.on(SYS_getppid, Route::kNotify, [&](SyscallContext& ctx) {
    ++calls;
    EXPECT_EQ(ctx.route(), Route::kNotify);
    EXPECT_FALSE(ctx.can_rewrite());
    EXPECT_GT(ctx.pid(), 0);
    return SyscallResult::value(31337);
  });
  auto r = run_guest(p, {kGuest + "/guest_probe", "getppid"});
  ASSERT_TRUE(r.status.ok()) << r.status.error().message;
  EXPECT_EQ(r.status->shell_status(), 0);
  EXPECT_EQ(r.out, "31337\n");
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(r.stats.notifications, 1u);
  EXPECT_TRUE(r.stats.sync_wakeup);  // this machine's kernel is >= 6.6
}

TEST(Driver, NotifyWorksWithoutSyncWakeup) {
  TestPlugin p;
  p.on(SYS_getppid, Route::kNotify, [](SyscallContext&) { return SyscallResult::error(EACCES); });
  auto r = run_guest(p, {kGuest + "/guest_probe", "getppid"}, /*sync_wakeup=*/false);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.out, "-13\n");  // the raw syscall result: -EACCES
  EXPECT_FALSE(r.stats.sync_wakeup);
}

TEST(Driver, TraceHandlerRewritesSyscallNumber) {
  TestPlugin p;
  // getppid becomes getpid: the guest prints its own pid.
  p.on(SYS_getppid, Route::kTrace, [](SyscallContext& ctx) {
    EXPECT_TRUE(ctx.can_rewrite());
    ctx.set_nr(SYS_getpid);
    return SyscallResult::rewritten();
  });
  auto r = run_guest(p, {kGuest + "/guest_probe", "getppid"});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.stats.trace_stops, 1u);
  EXPECT_NE(r.out, std::to_string(getpid()) + "\n");  // not our pid (we are the parent)
}

TEST(Driver, GuestMemoryReadsAreBounded) {
  TestPlugin p;
  std::mutex mu;
  std::vector<std::string> seen;
  p.on(SYS_openat, Route::kNotify, [&](SyscallContext& ctx) {
    std::string path;
    if (int e = ctx.read_string(ctx.arg(1), path); e != 0) return SyscallResult::error(e);
    std::lock_guard l(mu);
    seen.push_back(path);
    return SyscallResult::continue_native();
  });
  auto r = run_guest(p, {kGuest + "/guest_probe", "badptr"});
  EXPECT_EQ(r.out, "EFAULT\n");
  r = run_guest(p, {kGuest + "/guest_probe", "pageedge"});
  EXPECT_EQ(r.out, "ok\n");
  EXPECT_THAT(seen, ::testing::Contains("/dev/null"));
}

TEST(Driver, InstallFdPutsHostFileInGuest) {
  TestPlugin p;
  p.on(SYS_openat, Route::kNotify, [](SyscallContext& ctx) {
    std::string path;
    if (ctx.read_string(ctx.arg(1), path) != 0 || path != "/lxhost-test/magic") return SyscallResult::continue_native();
    int fd = open("/proc/version", O_RDONLY | O_CLOEXEC);
    SyscallResult r = ctx.install_fd(fd, O_CLOEXEC);
    close(fd);
    return r;
  });
  auto r = run_guest(p, {kGuest + "/guest_probe", "cat", "/lxhost-test/magic"});
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(r.out, HasSubstr("Linux version"));
}

TEST(Driver, TracksEveryForkedProcess) {
  TestPlugin p;
  p.on(SYS_getppid, Route::kNotify, [](SyscallContext&) { return SyscallResult::continue_native(); });
  auto r = run_guest(p, {kGuest + "/guest_forks", "40"});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.out, "forks ok 40\n");
  std::lock_guard l(p.mu);
  EXPECT_GE(p.started.size(), 41u);
  EXPECT_EQ(p.started, p.exited);  // every process that started was seen gone
}

TEST(Driver, ThreadsAreServedConcurrently) {
  TestPlugin p;
  std::atomic<int> calls{0};
  p.on(SYS_getppid, Route::kNotify, [&](SyscallContext&) {
    ++calls;
    return SyscallResult::continue_native();
  });
  auto r = run_guest(p, {kGuest + "/guest_threads", "6", "100"});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.out, "threads ok 600\n");
  EXPECT_EQ(calls.load(), 600);
}

TEST(Driver, ExitStatusAndSignalsAreExact) {
  TestPlugin p;
  auto r = run_guest(p, {kGuest + "/guest_probe", "exit", "7"});
  ASSERT_TRUE(r.status.ok());
  EXPECT_FALSE(r.status->signaled);
  EXPECT_EQ(r.status->code, 7);
  r = run_guest(p, {"/bin/sh", "-c", "kill -TERM $$"});
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.status->signaled);
  EXPECT_EQ(r.status->signal, SIGTERM);
  EXPECT_EQ(r.status->shell_status(), 143);
}

TEST(Driver, EndTermsThenKillsEveryProcessDaemonsIncluded) {
  TestPlugin p;
  // The main shell leaves on SIGTERM; one daemon (double fork + setsid) dies of SIGTERM, the
  // other ignores it and must be killed when the grace period is over.
  std::string script =
      "trap 'echo main got TERM; exit 7' TERM;"
      "(setsid sh -c 'sleep 1000' & echo d1 $! ) ;"
      "(setsid sh -c 'trap \"\" TERM; while :; do sleep 0.05; done' & echo d2 $! );"
      "echo ready; while :; do sleep 0.05; done";
  auto start = std::chrono::steady_clock::now();
  auto r = run_guest(p, {"/bin/sh", "-c", script}, true, [](Driver& d) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    d.end(std::chrono::milliseconds(600));
  });
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.status.ok()) << r.status.error().message;
  EXPECT_EQ(r.status->shell_status(), 7);
  EXPECT_THAT(r.out, HasSubstr("main got TERM"));
  EXPECT_GE(took, std::chrono::milliseconds(900));  // waited for the TERM-ignoring daemon
  for (const char* tag : {"d1 ", "d2 "}) {
    auto at = r.out.find(tag);
    ASSERT_NE(at, std::string::npos) << r.out;
    pid_t daemon = static_cast<pid_t>(std::stol(r.out.substr(at + 3)));
    std::ifstream stat("/proc/" + std::to_string(daemon) + "/stat");
    std::string line;
    std::getline(stat, line);
    EXPECT_TRUE(line.empty() || line.find(") Z") != std::string::npos) << tag << "still running: " << line;
  }
  std::lock_guard l(p.mu);
  EXPECT_EQ(p.started, p.exited);
}

// A pid the table holds but this process does not trace (a tracee that ended before its
// creator's fork event came, its number taken by another process) is neither added back nor
// killed: under a fork storm (LTP fork13) lx once SIGKILLed host processes that way.
TEST(Driver, ProcessTableNeverReachesAProcessItDoesNotTrace) {
  pid_t other = fork();
  if (other == 0) {
    pause();
    _exit(0);
  }
  ProcessTable table({}, nullptr);
  table.set_parent(other, getpid());
  EXPECT_THAT(table.tids(), ::testing::Not(::testing::Contains(other)));
  table.add(other, 0);  // as if it had been added while it was a tracee
  table.kill_all();
  usleep(100 * 1000);
  int status = 0;
  EXPECT_EQ(waitpid(other, &status, WNOHANG), 0) << "the process that is not traced was killed";
  EXPECT_FALSE(traced_by_this_process(other));
  kill(other, SIGKILL);
  waitpid(other, &status, 0);
}

TEST(Driver, ProcessTableListsTheTree) {
  TestPlugin p;
  std::vector<ProcessInfo> table;
  auto r = run_guest(p, {"/bin/sh", "-c", "sleep 1000 & (setsid sleep 999 &); sleep 0.5; kill $!"}, true,
                     [&](Driver& d) {
                       std::this_thread::sleep_for(std::chrono::milliseconds(250));
                       table = d.processes();
                     });
  ASSERT_TRUE(r.status.ok());
  std::vector<std::string> commands;
  pid_t shell = 0;
  for (const auto& pi : table) {
    commands.push_back(pi.command);
    if (pi.command.rfind("/bin/sh -c", 0) == 0) shell = pi.pid;
  }
  EXPECT_THAT(commands, ::testing::Contains("sleep 1000"));
  EXPECT_THAT(commands, ::testing::Contains("sleep 999"));  // the setsid'd daemon is in the table
  EXPECT_THAT(commands, ::testing::Contains("sleep 0.5"));
  ASSERT_NE(shell, 0);
  for (const auto& pi : table)
    if (pi.command == "sleep 1000") {
      EXPECT_EQ(pi.parent, shell);
      EXPECT_EQ(pi.state, 'S');
    }
}

TEST(Driver, LaunchFailureIsReportedWithItsCause) {
  TestPlugin p;
  auto r = run_guest(p, {"/nonexistent/program"});
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.error().code, ENOENT);
  EXPECT_THAT(r.status.error().message, HasSubstr("cannot run '/nonexistent/program': execve"));
}

}  // namespace
}  // namespace lx::driver
