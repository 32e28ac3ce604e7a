// End-to-end tests of the guest's /proc view: it shows the instance's processes only, under a
// busybox guest root and under the host's own root, for a guest run as the unprivileged user
// next to a host process of the same uid.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"
#include "test_backend.h"
#include "unprivileged.h"

namespace {

using lx::test::as_unprivileged;
using lx::test::reachable;
using lx::test::run_command;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kLx = LX_BIN;
const std::string kMakeRootfs = std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh";
const std::string kProbe = std::string(GUEST_DIR) + "/guest_procview";

// Where the guest runs: a busybox rootfs with the prober in /bin, or the host's own root.
class World {
 public:
  explicit World(bool rootfs) : rootfs_(rootfs), dir_("lxhost-procview", 0755) {
    if (rootfs_) {
      auto r = run_command({kMakeRootfs, "busybox", dir_ / "root"});
      ok_ = r.status == 0;
      error_ = r.err;
      if (!ok_) return;
      std::filesystem::copy_file(kProbe, dir_ / "root/bin/guest_procview");
      writable_host_ = dir_ / "root/home/user";
      writable_ = "/home/user";
    } else {
      writable_host_ = writable_ = dir_ / "w";
      std::filesystem::create_directory(writable_);
      ok_ = true;
    }
    if (geteuid() == 0 && chown(writable_host_.c_str(), lx::test::unprivileged_uid(), lx::test::unprivileged_gid()) != 0) {
      ok_ = false;
      error_ = "chown of the writable directory failed";
    }
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  // The guest directory the unprivileged user may write.
  const std::string& writable() const { return writable_; }
  // `lx exec` of `guest` (sh -c SCRIPT when `shell`) as the unprivileged user.
  std::vector<std::string> lx(std::vector<std::string> guest, std::vector<std::string> sets = {}) const {
    std::vector<std::string> argv = {reachable(kLx), "exec"};
    if (rootfs_) argv.insert(argv.end(), {"--set", "fs.root=" + dir_ / "root"});
    for (auto& s : sets) argv.insert(argv.end(), {"--set", s});
    argv.push_back("--");
    argv.insert(argv.end(), guest.begin(), guest.end());
    return as_unprivileged(argv);
  }
  std::vector<std::string> probe(std::vector<std::string> args, std::vector<std::string> sets = {}) const {
    args.insert(args.begin(), rootfs_ ? "/bin/guest_procview" : reachable(kProbe));
    return lx(std::move(args), std::move(sets));
  }
  std::vector<std::string> sh(const std::string& script) const { return lx({"/bin/sh", "-c", script}); }

 private:
  bool rootfs_;
  lx::test::TempDir dir_;
  bool ok_ = false;
  std::string error_, writable_, writable_host_;
};

// A host process of the unprivileged user, outside any instance.
class Bystander {
 public:
  Bystander() {
    pid_ = lx::test::start_command(as_unprivileged({"/bin/sh", "-c", "echo up; exec sleep 120"}), &out_);
    up_ = lx::test::read_line(out_) == "up";
  }
  ~Bystander() {
    kill(pid_, SIGKILL);
    lx::test::wait_for(pid_);
    close(out_);
  }
  pid_t pid() const { return pid_; }
  bool up() const { return up_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool up_ = false;
};

// The "form=RESULT" lines of a probe, as a map.
std::map<std::string, std::string> results(const std::string& out) {
  std::map<std::string, std::string> m;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (auto eq = line.find('='); eq != std::string::npos && line.find(' ') == std::string::npos)
      m[line.substr(0, eq)] = line.substr(eq + 1);
  return m;
}

// The numbers on a line "label: N N N others=..." of the prober's listing.
std::set<std::string> listed(const std::string& out, const std::string& label) {
  std::set<std::string> s;
  auto at = out.find(label + ":");
  if (at == std::string::npos) return {"(missing)"};
  std::istringstream in(out.substr(at + label.size() + 1, out.find('\n', at) - at - label.size() - 1));
  for (std::string w; in >> w;)
    if (w.rfind("others=", 0) != 0) s.insert(w);
  return s;
}

class ProcView : public ::testing::TestWithParam<bool> {};

#define REQUIRE_WORLD(w) ASSERT_TRUE((w).ok()) << "cannot set up the guest: " << (w).error()

TEST_P(ProcView, HostProcessOfTheSameUserDoesNotExist) {
  World w(GetParam());
  REQUIRE_WORLD(w);
  Bystander host;
  ASSERT_TRUE(host.up());
  auto r = run_command(w.probe({"probe", std::to_string(host.pid()), w.writable()}));
  ASSERT_EQ(r.status, 0) << r.err;
  auto m = results(r.out);
  ASSERT_GE(m.size(), 40u) << r.out;
  for (const char* form : {"open_mem_rw", "open_mem", "open_environ", "open_maps", "open_status"})
    EXPECT_EQ(m[form], "ENOENT") << form;
  for (const auto& [form, res] : m) {
    // With the host's root, execve stays native (the proc family resolves programs only in a
    // guest root): it may run the other process's program file, never reach the process.
    if (form == "execve" && !GetParam()) continue;
    EXPECT_EQ(res, "ENOENT") << form << "\n" << r.out;
  }
  EXPECT_TRUE(lx::test::process_alive(host.pid()));
}

TEST_P(ProcView, TheTracerDoesNotExist) {
  LX_EMULATED_BACKEND_ONLY("the emulated /proc view; under the kernel backend /proc is the PID namespace's own procfs (Backend and Confine tests)");
  World w(GetParam());
  REQUIRE_WORLD(w);
  // The guest's parent is the tracer (the lx exec process).
  auto r = run_command(w.probe({"probe", "ppid", w.writable()}));
  ASSERT_EQ(r.status, 0) << r.err;
  auto m = results(r.out);
  ASSERT_GE(m.size(), 40u) << r.out;
  for (const auto& [form, res] : m) {
    if (form == "execve" && !GetParam()) continue;  // as above
    EXPECT_EQ(res, "ENOENT") << form << "\n" << r.out;
  }
  // A thread flipping the path between /proc/self/status and the tracer's while it is opened.
  r = run_command(w.probe({"race", "ppid", "20000"}), {.timeout = std::chrono::seconds(120)});
  EXPECT_EQ(r.out, "leaked 0\n") << r.err;
}

TEST_P(ProcView, ListingShowsTheInstanceOnly) {
  LX_EMULATED_BACKEND_ONLY("the emulated /proc view; under the kernel backend /proc is the PID namespace's own procfs (Backend and Confine tests)");
  World w(GetParam());
  REQUIRE_WORLD(w);
  Bystander host;
  ASSERT_TRUE(host.up());
  auto r = run_command(w.probe({"list"}));
  ASSERT_EQ(r.status, 0) << r.err;
  std::string self = r.out.substr(5, r.out.find('\n') - 5);
  EXPECT_EQ(listed(r.out, "getdents64"), std::set<std::string>{self}) << r.out;
  EXPECT_EQ(listed(r.out, "getdents"), std::set<std::string>{self}) << r.out;
  EXPECT_THAT(r.out, HasSubstr("getdents64: " + self + " others=yes\n"));  // the rest of /proc is there
  // The shell's own glob and ls: the shell and its job, nothing of the host.
  r = run_command(w.sh("sleep 60 & echo \"$$ $!\"; for p in /proc/[0-9]*; do echo ${p#/proc/}; done; echo ls;"
                       "ls /proc; kill $!"));
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream in(r.out);
  std::string sh_pid, job, line;
  in >> sh_pid >> job;
  std::set<std::string> globbed, by_ls;
  bool after_ls = false;
  while (std::getline(in, line)) {
    if (line == "ls") after_ls = true;
    else if (!line.empty() && line.find_first_not_of("0123456789") == std::string::npos)
      (after_ls ? by_ls : globbed).insert(line);
  }
  EXPECT_EQ(globbed, (std::set<std::string>{sh_pid, job})) << r.out;
  EXPECT_TRUE(by_ls.count(sh_pid) && by_ls.count(job)) << r.out;
  EXPECT_LE(by_ls.size(), 3u) << r.out;  // the shell, its job and ls itself
  EXPECT_FALSE(by_ls.count(std::to_string(host.pid()))) << r.out;
  EXPECT_FALSE(by_ls.count("1")) << r.out;
}

TEST_P(ProcView, AProcessSeesItsChildren) {
  World w(GetParam());
  REQUIRE_WORLD(w);
  auto r = run_command(w.probe({"child", w.writable()}));
  ASSERT_EQ(r.status, 0) << r.err;
  std::string child = r.out.substr(6, r.out.find('\n') - 6);
  EXPECT_TRUE(listed(r.out, "getdents64").count(child)) << r.out;
  auto m = results(r.out);
  for (const char* form : {"open_environ", "open_maps", "open_status", "open_dot", "open_double_slash",
                           "open_self_dotdot", "open_self_root", "open_task", "open_path", "open_dir",
                           "openat_procfd", "openat_procpath", "openat2", "stat", "lstat", "statx", "access",
                           "readlink_exe", "readlink_cwd", "readlink_root", "symlink_abs", "symlink_self_dotdot",
                           "relative_from_proc_cwd", "relative_stat", "chdir", "chdir_then_open",
                           "fchdir_procfd_then_open", "open_thread_self_dotdot", "open_dotdot_out", "open_dev_fd", "open_dev_fd_dotdot",
                           "open_fd_dotdot", "fstatat", "faccessat2", "openat2_procfd", "inotify"})
    EXPECT_EQ(m[form], "ok") << form << "\n" << r.out;
}

TEST_P(ProcView, SelfAndTheRestOfProcKeepWorking) {
  World w(GetParam());
  REQUIRE_WORLD(w);
  auto r = run_command(w.sh("echo $$; grep '^Pid:' /proc/self/status; readlink /proc/self; "
                            "grep -c . /proc/self/task/*/stat; cat /proc/thread-self/comm; head -c 4 /proc/loadavg; echo;"
                            "ls /proc/self/fd | grep -c 0; grep -c lo /proc/net/dev; test -r /proc/meminfo && echo mem"));
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream in(r.out);
  std::string sh_pid;
  in >> sh_pid;
  EXPECT_THAT(r.out, HasSubstr("\nmem\n"));
  EXPECT_THAT(r.out, HasSubstr("\n1\n"));  // one thread, fd 0 listed, lo
  EXPECT_THAT(r.out, Not(HasSubstr("No such file")));
  // grep and readlink are the shell's children: /proc/self is each one's own pid.
  EXPECT_THAT(r.out, Not(HasSubstr("Pid:\t" + sh_pid + "\n")));
  EXPECT_THAT(r.out, HasSubstr("Pid:\t"));
}

INSTANTIATE_TEST_SUITE_P(RootfsAndHostRoot, ProcView, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Rootfs" : "HostRoot"; });

TEST(ProcViewOff, HostProcIsThereWhenAskedFor) {
  LX_EMULATED_BACKEND_ONLY("the emulated /proc view; under the kernel backend /proc is the PID namespace's own procfs (Backend and Confine tests)");
  World w(false);
  REQUIRE_WORLD(w);
  auto r = run_command({kLx, "syscalls", "--set", "fs.proc=host"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr(" openat ")));
  r = run_command({kLx, "syscalls"});
  EXPECT_THAT(r.out, HasSubstr(" openat "));
  EXPECT_THAT(r.out, HasSubstr(" getdents64 "));
  Bystander host;
  ASSERT_TRUE(host.up());
  r = run_command(w.probe({"probe", std::to_string(host.pid()), w.writable()}, {"fs.proc=host"}));
  auto m = results(r.out);
  EXPECT_EQ(m["open_status"], "ok") << r.out << r.err;
  r = run_command(w.lx({"/bin/true"}, {"fs.proc=hosts"}));
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.err, HasSubstr("proc must be instance or host"));
}

}  // namespace
