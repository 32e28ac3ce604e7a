// End-to-end tests of confinement: a guest under `lx exec --set fs.root=ROOTFS`, run as the
// unprivileged user, aims every call that names a process at a host process of the same uid,
// at its own tracer, at lxhostd and at an instance process: each call fails (ESRCH, or EPERM
// for ptrace) and the target is untouched. The same calls work within the instance, and the
// service's processes are non-dumpable.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include "run_command.h"
#include "test_backend.h"
#include "unprivileged.h"

namespace {

namespace fs = std::filesystem;
using lx::test::as_unprivileged;
using lx::test::CommandOptions;
using lx::test::reachable;
using lx::test::read_line;
using lx::test::run_command;
using lx::test::start_command;
using lx::test::TempDir;
using lx::test::unprivileged_gid;
using lx::test::unprivileged_uid;
using lx::test::wait_for;
using ::testing::HasSubstr;

const std::string kLx = LX_BIN;
const std::string kAttack = std::string(GUEST_DIR) + "/guest_attack";
constexpr auto kLineTimeout = std::chrono::seconds(90);

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// What a target looks like from outside: what each attack would change.
struct Snapshot {
  char state = '?';
  std::string nice, policy, affinity, nofile, tracer;
  bool operator==(const Snapshot&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Snapshot& s) {
  return os << "state=" << s.state << " nice=" << s.nice << " policy=" << s.policy << " affinity=" << s.affinity
            << " nofile=[" << s.nofile << "] tracer=" << s.tracer;
}

// The value after "Key:" in /proc/<pid>/status.
std::string status_field(pid_t pid, const std::string& key) {
  std::istringstream in(slurp(fmt::format("/proc/{}/status", pid)));
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) {
      auto v = line.substr(key.size() + 1);
      return v.substr(v.find_first_not_of(" \t"));
    }
  return "";
}

Snapshot snapshot(pid_t pid) {
  Snapshot s;
  std::string stat = slurp(fmt::format("/proc/{}/stat", pid));
  auto close = stat.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream in(stat.substr(close + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string w; in >> w;) f.push_back(w);
  if (f.size() < 39) return s;
  s.state = f[0][0];
  s.nice = f[16];    // field 19
  s.policy = f[38];  // field 41
  s.affinity = status_field(pid, "Cpus_allowed_list");
  s.tracer = status_field(pid, "TracerPid");
  std::istringstream limits(slurp(fmt::format("/proc/{}/limits", pid)));
  for (std::string line; std::getline(limits, line);)
    if (line.rfind("Max open files", 0) == 0) s.nofile = line;
  return s;
}

// Whether the process's /proc files belong to root although it runs as the unprivileged user:
// what the kernel does for a non-dumpable process.
bool non_dumpable(pid_t pid) {
  struct stat st {};
  if (stat(fmt::format("/proc/{}/environ", pid).c_str(), &st) != 0) return false;
  return st.st_uid == 0 && unprivileged_uid() != 0;
}

// The answer every attack must get on a process outside the instance. Under the kernel backend
// the PID namespace answers: F_SETOWN to the caller's own group is its own group there, and
// perf_event_open is refused before the pid is looked at (no CAP_PERFMON in the host's namespace).
const std::map<std::string, std::string>& expected_outside_emulated();
const std::map<std::string, std::string>& expected_outside() {
  static const std::map<std::string, std::string> kernel = [] {
    auto m = expected_outside_emulated();
    m["fsetown_mygroup"] = "ok";
    m["perf_event_open"] = "EACCES";
    for (const char* p : {"ptrace_attach", "ptrace_seize", "ptrace_peekdata"}) m[p] = "ESRCH";
    return m;
  }();
  return lx::test::test_backend() == "kernel" ? kernel : expected_outside_emulated();
}
const std::map<std::string, std::string>& expected_outside_emulated() {
  static const std::map<std::string, std::string> m = {
      {"ptrace_attach", "EPERM"},     {"ptrace_seize", "EPERM"},      {"ptrace_peekdata", "EPERM"},
      {"process_vm_readv", "ESRCH"},  {"process_vm_writev", "ESRCH"}, {"pidfd_open", "ESRCH"},
      {"kcmp", "ESRCH"},              {"prlimit_get", "ESRCH"},       {"prlimit_set", "ESRCH"},
      {"setpriority", "ESRCH"},       {"getpriority", "ESRCH"},       {"sched_setaffinity", "ESRCH"},
      {"sched_getaffinity", "ESRCH"}, {"sched_setscheduler", "ESRCH"}, {"sched_getparam", "ESRCH"},
      {"ioprio_set", "ESRCH"},        {"ioprio_get", "ESRCH"},        {"getpgid", "ESRCH"},
      {"getsid", "ESRCH"},            {"get_robust_list", "ESRCH"},   {"move_pages", "ESRCH"},
      {"capget", "ESRCH"},            {"perf_event_open", "ESRCH"},   {"perf_event_open_cpu", "EACCES"},
      {"kill", "ESRCH"},              {"fsetown", "ESRCH"},           {"fsetown_ex", "ESRCH"},
      {"fsetown_ex_tid", "ESRCH"},    {"fiosetown", "ESRCH"},         {"siocspgrp", "ESRCH"},
      {"fsetown_mygroup", "ESRCH"},   {"prio_user", "ok"},            {"ioprio_user", "ok"},
  };
  return m;
}

// Parses "NAME RESULT" lines.
std::map<std::string, std::string> results(const std::vector<std::string>& lines) {
  std::map<std::string, std::string> out;
  for (const auto& l : lines) {
    auto sp = l.find(' ');
    if (sp != std::string::npos) out[l.substr(0, sp)] = l.substr(sp + 1);
  }
  return out;
}

class Confine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>("lxhost-confine-test", 0755);
    root_ = *dir_ / "root";
    auto made = run_command({std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh", "busybox", root_});
    ASSERT_EQ(made.status, 0) << made.err;
    fs::copy_file(kAttack, root_ + "/guest_attack");
    fs::permissions(root_ + "/guest_attack", fs::perms(0755));
  }
  static void TearDownTestSuite() { dir_.reset(); }

  // `lx exec` of /guest_attack ARGS in the rootfs, as the unprivileged user, `env` first.
  static std::vector<std::string> guest(const std::vector<std::string>& args,
                                        const std::vector<std::string>& sets = {},
                                        const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv;
    if (!env.empty()) {
      argv.push_back("/usr/bin/env");
      argv.insert(argv.end(), env.begin(), env.end());
    }
    argv.insert(argv.end(), {reachable(kLx), "exec", "--set", "fs.root=" + root_});
    for (const auto& s : sets) argv.insert(argv.end(), {"--set", s});
    argv.insert(argv.end(), {"--", "/guest_attack"});
    argv.insert(argv.end(), args.begin(), args.end());
    return as_unprivileged(argv);
  }

  // Runs every attack on `target` ("parent": the guest's tracer) from a guest, with a look at
  // `watch` (the target's pid, or 0 for the tracer) before the attacks and after them; checks the
  // answers and that the target is untouched, then ends the guest.
  void attack(const std::string& target, pid_t watch, const std::string& addr = "",
              const std::vector<std::string>& sets = {}) {
    std::vector<std::string> args = {"attack", target};
    if (!addr.empty()) args.push_back(addr);
    int out = -1;
    pid_t lx = start_command(guest(args, sets), &out);
    ASSERT_GT(lx, 0);
    ASSERT_EQ(read_line(out, kLineTimeout), "ready");
    if (watch == 0) {
      watch = lx;
      EXPECT_TRUE(non_dumpable(lx)) << "the tracer of lx exec is dumpable";
    }
    Snapshot before = snapshot(watch);
    ASSERT_NE(before.state, '?');
    ASSERT_EQ(kill(lx, SIGUSR1), 0);  // lx exec forwards it: go
    std::vector<std::string> lines;
    for (std::string l; (l = read_line(out, kLineTimeout)) != "done";) {
      ASSERT_FALSE(l.empty()) << "the guest stopped answering after: " << testing::PrintToString(lines);
      lines.push_back(l);
    }
    auto got = results(lines);
    for (const auto& [name, want] : expected_outside()) EXPECT_EQ(got[name], want) << name << " on " << target;
    Snapshot after = snapshot(watch);
    EXPECT_EQ(before, after) << "the target changed";
    EXPECT_NE(after.state, 'T');
    EXPECT_NE(after.state, 't');
    EXPECT_EQ(after.tracer, "0");
    EXPECT_TRUE(lx::test::process_alive(watch));
    // The tracer still serves its guest: SIGTERM is forwarded, and the status comes back.
    ASSERT_EQ(kill(lx, SIGTERM), 0);
    EXPECT_EQ(wait_for(lx, std::chrono::seconds(60)), 128 + SIGTERM);
    close(out);
  }

  static std::unique_ptr<TempDir> dir_;
  static std::string root_;
};

std::unique_ptr<TempDir> Confine::dir_;
std::string Confine::root_;

// A process of the same uid outside the service (it counts every signal it gets).
struct Bystander {
  Bystander() {
    pid = start_command(as_unprivileged({reachable(kAttack), "bystander"}), &out);
    std::string up = read_line(out, kLineTimeout);
    if (up.rfind("up ", 0) == 0) addr = up.substr(3);
  }
  // Ends it and returns what it reports ("signals=N canary=TEXT").
  std::string finish() {
    kill(pid, SIGUSR1);
    std::string r = read_line(out, kLineTimeout);
    wait_for(pid);
    pid = 0;
    return r;
  }
  ~Bystander() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      wait_for(pid);
    }
    if (out >= 0) close(out);
  }
  pid_t pid = 0;
  int out = -1;
  std::string addr;
};

TEST_F(Confine, AHostProcessOfTheSameUidIsOutOfReach) {
  Bystander by;
  ASSERT_FALSE(by.addr.empty());
  attack(std::to_string(by.pid), by.pid, by.addr);
  EXPECT_EQ(by.finish(), "signals=0 canary=canary-untouched");
}

TEST_F(Confine, CapgetUnderFakeRootIsConfinedToo) {
  Bystander by;
  ASSERT_FALSE(by.addr.empty());
  attack(std::to_string(by.pid), by.pid, by.addr, {"proc.fake_root=true"});
  EXPECT_EQ(by.finish(), "signals=0 canary=canary-untouched");
}

TEST_F(Confine, TheTracerIsOutOfReach) {
  LX_EMULATED_BACKEND_ONLY("no tracer under the kernel backend (the guest's parent outside its PID namespace is pid 0 to it)");
  attack("parent", 0);
}

TEST_F(Confine, LxhostdAndTheInstanceProcessAreOutOfReach) {
  // A private daemon of the unprivileged user, in its own directories.
  TempDir home("lxhost-confine-svc", 0700);
  for (const char* d : {"run", "data", "config"}) fs::create_directory(home / d);
  if (geteuid() == 0) {
    for (const char* d : {"", "/run", "/data", "/config"})
      ASSERT_EQ(chown((home.path() + d).c_str(), unprivileged_uid(), unprivileged_gid()), 0);
  }
  std::vector<std::string> env = {"XDG_RUNTIME_DIR=" + home / "run", "XDG_DATA_HOME=" + home / "data",
                                  "XDG_CONFIG_HOME=" + home / "config"};
  auto lx = [&](std::vector<std::string> args) {
    args.insert(args.begin(), reachable(kLx));
    CommandOptions o;
    o.env_add = env;
    return run_command(as_unprivileged(args), o);
  };
  auto started = lx({"service", "start"});
  ASSERT_EQ(started.status, 0) << started.err;
  struct Stop {
    std::function<void()> f;
    ~Stop() { f(); }
  } stop{[&] { lx({"service", "stop"}); }};
  auto status = lx({"service", "status"});
  auto pos = status.out.find("(pid ");
  ASSERT_NE(pos, std::string::npos) << status.out;
  pid_t daemon = std::atoi(status.out.c_str() + pos + 5);
  ASSERT_GT(daemon, 0);
  EXPECT_TRUE(non_dumpable(daemon)) << "lxhostd is dumpable";

  // An instance with a launch in it: the launch's parent is the instance process.
  std::vector<std::string> run = {"/usr/bin/env"};
  run.insert(run.end(), env.begin(), env.end());
  // (--cd /: the test's own cwd, in the build tree, may be out of the unprivileged user's reach)
  run.insert(run.end(), {reachable(kLx), "run", "--cd", "/", "--", "/bin/sh", "-c", "echo $PPID; exec sleep 600"});
  int out = -1;
  pid_t client = start_command(as_unprivileged(run), &out);
  pid_t instance = std::atoi(read_line(out, kLineTimeout).c_str());
  if (lx::test::test_backend() == "kernel") {  // the parent is the instance's init (pid 1 inside)
    auto js = nlohmann::json::parse(lx({"status", "--json"}).out, nullptr, false);
    instance = js.is_array() && js.size() == 1 ? js[0].value("pid", 0) : 0;
  }
  ASSERT_GT(instance, 0);
  EXPECT_TRUE(non_dumpable(instance)) << "the instance process is dumpable";

  attack(std::to_string(daemon), daemon);
  attack(std::to_string(instance), instance);

  // Both still serve: the launch ends with the status of its signal, and a new one runs.
  kill(client, SIGTERM);
  EXPECT_EQ(wait_for(client, std::chrono::seconds(60)), 128 + SIGTERM);
  close(out);
  auto again = lx({"run", "--cd", "/", "--", "/bin/sh", "-c", "echo still serving"});
  EXPECT_EQ(again.out, "still serving\n") << again.err;
  EXPECT_EQ(lx({"service", "stop"}).status, 0);
}

TEST_F(Confine, TheSameCallsWorkWithinTheInstance) {
  auto r = run_command(guest({"inside"}), {.timeout = std::chrono::seconds(120)});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "done") << r.out << r.err;
  auto got = results(lines);
  for (const char* name : {"process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_send_signal", "kcmp",
                           "prlimit", "setpriority", "setpriority_pgrp", "sched_setaffinity", "ioprio_set",
                           "getpgid", "getsid", "capget", "fsetown", "fsetown_ex_tid", "fiosetown",
                           "fsetown_group", "kill_group"})
    EXPECT_EQ(got[name], "ok") << name;
  // ptrace is the driver's: EPERM for every request, and nothing hangs.
  // Under the kernel backend nothing traces the guest: it traces its own processes.
  const char* ptrace_answer = lx::test::test_backend() == "kernel" ? "ok" : "EPERM";
  EXPECT_EQ(got["ptrace_attach"], ptrace_answer);
  EXPECT_EQ(got["ptrace_traceme"], ptrace_answer);
}

// Every syscall of the x86-64 table that takes a pid, and those taking a pidfd, have a row in
// `lx syscalls` that says what they get.
TEST_F(Confine, LxSyscallsListsEveryCallNamingAProcess) {
  LX_EMULATED_BACKEND_ONLY("the kernel backend has no rows for calls naming a process: its PID namespace confines them (backend_routes_test checks the rows)");
  std::set<std::string> names = {"pidfd_send_signal", "pidfd_getfd", "process_madvise", "process_mrelease",
                                 "setns",             "fcntl",       "ioctl",           "capget"};
  std::istringstream def(slurp(std::string(SOURCE_DIR) + "/sdk/include/lxhost/syscalls_x86_64.def"));
  for (std::string line; std::getline(def, line);) {
    if (line.rfind("LX_SYSCALL(", 0) != 0 || line.find("kPid") == std::string::npos) continue;
    auto a = line.find(", ") + 2;
    names.insert(line.substr(a, line.find(',', a) - a));
  }
  ASSERT_GT(names.size(), 30u);
  auto r = run_command({kLx, "syscalls"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::map<std::string, std::string> rows;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream w(line);
    std::string nr, name;
    if (w >> nr >> name) rows[name] = line;
  }
  for (const auto& n : names) {
    ASSERT_TRUE(rows.count(n)) << n << " has no row in lx syscalls:\n" << r.out;
    EXPECT_THAT(rows[n], HasSubstr("signal")) << n;
  }
  EXPECT_THAT(rows["ptrace"], HasSubstr("EPERM"));
  // With fake root, capget is the proc family's, which confines it itself.
  r = run_command({kLx, "syscalls", "--set", "proc.fake_root=true"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pids outside the instance: ESRCH"));
}

// A guest of an lx that runs as root was root of the host on the emulated backend: it could set
// the host's clock and name, reboot it, sniff its network, make device nodes of its disks. The
// capabilities that act on the host as a whole are withheld from every guest of a confined
// instance now (the kernel refuses what they guard), and the host's devices open as in a
// container. mount and mknod, emulated within the instance, still work for a guest that holds
// every capability it has left (a device node is the fs family's metadata on an empty file), and
// mount not for one that dropped them. A second attack round found the rest: the kernel's
// settings in /proc/sys (core_pattern runs a program as the host's root), the emulated
// CAP_SYS_ADMIN put onto lx's worker (a cgroup's release_agent, trusted.* xattrs), a thread in a
// user namespace of its own taken for the host's root, another session's pty.
TEST(ConfineCapabilities, WhatActsOnTheHostAsAWholeIsRefusedToARootGuest) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: a guest of an lx that runs as root";
  LX_EMULATED_BACKEND_ONLY("the kernel backend's guest is root of its own user namespace only");
  TempDir dir("lxhost-caps", 0755);
  TempDir devices("lxhost-caps-dev", 0755);
  // A character device of the host's that root opens here, and that no container has.
  struct stat host_dev {};
  for (const char* d : {"/dev/fuse", "/dev/net/tun", "/dev/loop-control", "/dev/tty1"})
    if (int fd = open(d, O_RDONLY | O_NOCTTY); fd >= 0 && fstat(fd, &host_dev) == 0 && close(fd) == 0) break;
  if (!S_ISCHR(host_dev.st_mode)) GTEST_SKIP() << "no host device of those tried opens here";
  ASSERT_EQ(mknod((devices.path() + "/dev").c_str(), S_IFCHR | 0600, host_dev.st_rdev), 0);
  ASSERT_EQ(mknod((devices.path() + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(mknod((devices.path() + "/secret").c_str(), S_IFREG, 0), 0);  // mode 0, root's
  // Another session's terminal (its other side not passed to the guest).
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  const std::string pty = ptsname(master);
  const std::string prog = std::string(GUEST_DIR) + "/guest_caps";
  // Natively (in a new UTS namespace, so that nothing of the host changes), root can. Where
  // no user namespace can be made (a chroot), neither run makes one.
  auto n = run_command({"unshare", "-m", "-u", "--propagation", "private", prog, dir.path(), devices.path(), pty});
  fs::remove(dir.path() + "/blk");
  const std::string userns = n.out.find("user namespace: unavailable\n") != std::string::npos
                                 ? "user namespace: unavailable\n"
                                 : "a mode-0000 file, in a user namespace: EACCES\n";
  auto r = run_command({kLx, "exec", "--set", "fs.root=/.", "--", prog, dir.path(), devices.path(), pty});
  EXPECT_EQ(r.out,
            "reboot: EPERM\nsethostname: EPERM\nraw socket: EPERM\nunshare uts: EPERM\nfanotify group: EPERM\n"
            "open a host device: EPERM\nopen a null device: 0\nmknod block: 0\nit is: block 8:0\n"
            "core_pattern written back: EROFS\nchmod of a kernel setting: EROFS\ntrusted xattr: EPERM\n" + userns +
            "another session's pty: EPERM\na pty of its own: 0\nTIOCSTI: EIO\n"
            "mount tmpfs: 0\nmount without capabilities: EPERM\nmount with them back: 0\n")
      << r.err;
  EXPECT_EQ(r.status, 0);
  // The device node is the guest's only: on the host, an empty file that opens nothing.
  struct stat blk {};
  EXPECT_EQ(lstat((dir.path() + "/blk").c_str(), &blk), 0);
  EXPECT_TRUE(S_ISREG(blk.st_mode)) << std::oct << blk.st_mode;
  EXPECT_EQ(blk.st_size, 0);
  fs::remove(dir.path() + "/blk");
  EXPECT_EQ(n.out,
            "reboot: EINVAL\nsethostname: 0\nraw socket: 0\nunshare uts: 0\nfanotify group: 0\n"
            "open a host device: 0\nopen a null device: 0\nmknod block: 0\nit is: block 8:0\n"
            "core_pattern written back: 0\nchmod of a kernel setting: EPERM\ntrusted xattr: 0\n" + userns +
            "another session's pty: 0\na pty of its own: 0\nTIOCSTI: 0\n"
            "mount tmpfs: 0\nmount without capabilities: EPERM\nmount with them back: 0\n");
  fs::remove(dir.path() + "/blk");
  close(master);
  EXPECT_TRUE(fs::is_empty(dir.path()));
  // lx syscalls says which.
  auto s = run_command({kLx, "syscalls", "--set", "fs.root=/."});
  EXPECT_THAT(s.out, HasSubstr("# capabilities no guest holds (they act on the host as a whole): CAP_NET_ADMIN"));
}

}  // namespace
