// End-to-end tests of the proc plugin: fake root identity, the process limit, uname, and a
// fork/exec loop in a rootfs.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "driver/ns_cgroup.h"
#include "run_command.h"
#include "test_backend.h"
#include "unprivileged.h"

namespace {

using lx::test::as_unprivileged;
using lx::test::reachable;
using lx::test::run_command;
using lx::test::TempDir;
using lx::test::unprivileged_gid;
using lx::test::unprivileged_uid;
using ::testing::HasSubstr;

const std::string kLx = LX_BIN;
const std::string kGuest = GUEST_DIR;

// `lx ARGS...` run as the unprivileged user (lx staged where that user can reach it).
std::vector<std::string> lx_unprivileged(std::vector<std::string> args) {
  args.insert(args.begin(), reachable(kLx));
  return as_unprivileged(std::move(args));
}

TEST(ProcPlugin, DefaultConfigAsksForNothing) {
  auto r = run_command({kLx, "syscalls"});
  EXPECT_THAT(r.out, HasSubstr("# family proc    enabled, plugin 'proc'"));
  for (const char* call : {" getuid ", " clone ", " uname "}) EXPECT_THAT(r.out, ::testing::Not(HasSubstr(call)));
}

TEST(ProcPlugin, OwnsExecveWhenTheFsPluginTranslates) {
  LX_EMULATED_BACKEND_ONLY("the emulated identity; under the kernel backend root and setuid are the user namespace's, for real");
  TempDir dir;
  auto r = run_command({kLx, "syscalls", "--set", "fs.root=" + dir.path()});
  auto line_of = [&](const std::string& name) {
    std::size_t at = r.out.find(" " + name + " ");
    if (at == std::string::npos) return std::string();
    std::size_t b = r.out.rfind('\n', at) + 1;
    return r.out.substr(b, r.out.find('\n', at) - b);
  };
  for (const char* call : {"execve", "execveat"}) {
    std::string line = line_of(call);
    EXPECT_THAT(line, HasSubstr(" proc ")) << r.out;
    EXPECT_THAT(line, HasSubstr(" trace ")) << r.out;
  }
}

TEST(ProcPlugin, FakeRootIsConsistent) {
  LX_EMULATED_BACKEND_ONLY("the emulated identity; under the kernel backend root and setuid are the user namespace's, for real");
  auto r = run_command(lx_unprivileged({"exec", "--set", "proc.fake_root=true", "--", "/bin/sh", "-c", "id -u; id -g; id -G"}));
  EXPECT_EQ(r.out, "0\n0\n0\n") << r.err;
  // Without it the unprivileged user stays itself.
  r = run_command(lx_unprivileged({"exec", "--", "/bin/sh", "-c", "id -u; id -g"}));
  EXPECT_EQ(r.out, std::to_string(unprivileged_uid()) + "\n" + std::to_string(unprivileged_gid()) + "\n") << r.err;
}

TEST(ProcPlugin, FakeRootIsConsistentWithTheFsMetadata) {
  LX_EMULATED_BACKEND_ONLY("the emulated identity; under the kernel backend root and setuid are the user namespace's, for real");
  TempDir dir("lxhost-proc-test", 0755);
  std::string root = dir / "root";
  auto made = run_command({std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh", "busybox", root});
  ASSERT_EQ(made.status, 0) << made.err;
  ASSERT_EQ(chown((root + "/home/user").c_str(), unprivileged_uid(), unprivileged_gid()), 0);
  // Under fake root the user's own files are root's; a chown to another owner (one that is not
  // the user itself, which fake root shows as 0) is kept as metadata.
  const std::string other = unprivileged_uid() == 4242 ? "4343" : "4242";
  auto r = run_command(lx_unprivileged({"exec", "--set", "fs.root=" + root, "--set", "proc.fake_root=true", "--",
                                        "/bin/sh", "-c",
                                        "cd /home/user && touch g h && chown " + other + ":" + other +
                                            " h && stat -c '%n %u:%g' g h"}));
  EXPECT_EQ(r.out, "g 0:0\nh " + other + ":" + other + "\n") << r.err;
  // Without fake root the user sees itself again, and the chown persists.
  r = run_command(lx_unprivileged({"exec", "--set", "fs.root=" + root, "--", "/bin/sh", "-c",
                                   "cd /home/user && stat -c '%n %u:%g' g h"}));
  EXPECT_EQ(r.out, "g " + std::to_string(unprivileged_uid()) + ":" + std::to_string(unprivileged_gid()) + "\nh " +
                       other + ":" + other + "\n")
      << r.err;
  // The host file is really the unprivileged user's, untouched by the emulated chown.
  struct stat st {};
  ASSERT_EQ(stat((root + "/home/user/h").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, unprivileged_uid());
}

TEST(ProcPlugin, SetuidFamilyChangesTheEmulatedIdentity) {
  LX_EMULATED_BACKEND_ONLY("the emulated identity; under the kernel backend root and setuid are the user namespace's, for real");
  if (access("/usr/bin/perl", X_OK) != 0) GTEST_SKIP() << "perl missing";
  // perl's $< and $> assignments call setresuid/setreuid; the emulated ids follow.
  auto r = run_command(lx_unprivileged({"exec", "--set", "proc.fake_root=true", "--", "/usr/bin/perl", "-e",
                                  "$) = \"100 100\"; $> = 1000; print \"$< $> \", $) + 0, \"\\n\"; "
                                  "$> = 0; print \"$>\\n\";"}));
  EXPECT_EQ(r.out, "0 1000 100\n0\n") << r.err;
}

TEST(ProcPlugin, ChildrenInheritTheEmulatedIdentity) {
  LX_EMULATED_BACKEND_ONLY("the emulated identity; under the kernel backend root and setuid are the user namespace's, for real");
  if (access("/usr/bin/perl", X_OK) != 0) GTEST_SKIP() << "perl missing";
  // After setuid, every child is the new user too, however its first ptrace stop and its
  // parent's fork event are ordered (su, login and daemons drop privileges, then fork or exec;
  // dash vforks, and a vfork child's first stop often comes before its parent's event).
  auto r = run_command(lx_unprivileged({"exec", "--set", "proc.fake_root=true", "--", "/usr/bin/perl", "-e",
                                  "$( = $) = 1000; $< = $> = 1000; "
                                  "for (1..20) { if (!fork) { exec '/usr/bin/id', '-u' } wait } "
                                  "exec '/bin/sh', '-c', 'for i in $(seq 20); do /usr/bin/id -u; done'"}));
  std::string want;
  for (int i = 0; i < 40; ++i) want += "1000\n";
  EXPECT_EQ(r.out, want) << r.err;
}

TEST(ProcPlugin, ChildrenOfASetuidProgramAreItsNewUser) {
  LX_EMULATED_BACKEND_ONLY("the emulated identity; under the kernel backend root and setuid are the user namespace's, for real");
  // A C program drops to 1000 with setgid/setuid, then execs dash, which vforks each command.
  auto r = run_command(lx_unprivileged({"exec", "--set", "proc.fake_root=true", "--", reachable(kGuest + "/guest_probe"),
                                  "setuid", "1000", "/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do /usr/bin/id -u; done"}));
  std::string want;
  for (int i = 0; i < 10; ++i) want += "1000\n";
  EXPECT_EQ(r.out, want) << r.err;
}

TEST(ProcPlugin, CapabilitiesFollowTheEmulatedIdentity) {
  LX_EMULATED_BACKEND_ONLY("the emulated identity; under the kernel backend root and setuid are the user namespace's, for real");
  // setpriv keeps its capabilities across setresuid (PR_SET_KEEPCAPS, capget/capset), then
  // changes groups: as natively for root.
  auto r = run_command(lx_unprivileged({"exec", "--set", "proc.fake_root=true", "--", "/usr/bin/setpriv", "--reuid",
                                  "1000", "--regid", "1000", "--clear-groups", "/bin/sh", "-c", "id -u; id -g"}));
  EXPECT_EQ(r.out, "1000\n1000\n") << r.err;
  if (access("/usr/bin/perl", X_OK) != 0) return;
  // Without keepcaps, dropping every root uid drops the capabilities: the gid stays.
  r = run_command(lx_unprivileged({"exec", "--set", "proc.fake_root=true", "--", "/usr/bin/perl", "-e",
                             "$< = $> = 1000; $( = 5; print $( + 0, \" \", ($! ? \"refused\" : \"allowed\"), \"\\n\";"}));
  EXPECT_EQ(r.out, "0 refused\n") << r.err;
}

// Issue 12: fake root reported every capability the kernel knows, also those the host's
// bounding set lacks (CAP_SYS_RESOURCE on this machine kind's root); it has root's set here.
TEST(ProcPlugin, FakeRootHasTheCapabilitiesRootHasHere) {
  LX_EMULATED_BACKEND_ONLY("fake root is the emulated identity (the kernel backend's root has its user namespace's set)");
  std::string bounding;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("CapBnd:", 0) == 0) bounding = line.substr(line.find_first_not_of(" \t", 7));
  ASSERT_FALSE(bounding.empty());
  unsigned long long bnd = std::stoull(bounding, nullptr, 16);
  auto r = run_command({kLx, "exec", "--set", "proc.fake_root=true", "--", kGuest + "/guest_probe", "caps"});
  char want[64];
  std::snprintf(want, sizeof want, "eff %llx prm %llx\n", bnd, bnd);
  EXPECT_EQ(r.out, want) << r.err;
}

TEST(ProcPlugin, ForkPastTheLimitFailsWithEagain) {
  // As root the kernel backend limits with a pids cgroup (RLIMIT_NPROC does not bind the host's
  // root, which root inside is); where none can be made the limit does not bind.
  if (lx::test::test_backend() == "kernel" && geteuid() == 0 && lx::driver::pids_cgroup_root().empty())
    GTEST_SKIP() << "as root the kernel backend needs a pids cgroup for max_processes, and this host has none writable";
  auto r = run_command({kLx, "exec", "--set", "proc.max_processes=3", "--", "/bin/sh", "-c",
                        "sleep 1 & sleep 1 & sleep 1 & echo three; wait"});
  EXPECT_THAT(r.err, HasSubstr("Cannot fork"));
  EXPECT_NE(r.status, 0);
  r = run_command({kLx, "exec", "--set", "proc.max_processes=10", "--", "/bin/sh", "-c",
                   "sleep 0.1 & sleep 0.1 & sleep 0.1 & wait; echo ok"});
  EXPECT_EQ(r.out, "ok\n") << r.err;
}

TEST(ProcPlugin, UnamePersonality) {
  auto r = run_command({kLx, "exec", "--set", "proc.hostname=lxbox", "--set", "proc.release=5.15.0-lxhost", "--",
                        "/bin/uname", "-nr"});
  EXPECT_EQ(r.out, "lxbox 5.15.0-lxhost\n") << r.err;
}

TEST(ProcPlugin, ForkExecLoopInARootfs) {
  TempDir dir;
  auto made = run_command({std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh", "busybox", dir / "root"});
  ASSERT_EQ(made.status, 0) << made.err;
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + dir / "root", "--", "/bin/sh", "-c",
                        "i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done; echo $i"});
  EXPECT_EQ(r.out, "200\n") << r.err;
  EXPECT_EQ(r.status, 0);
}

}  // namespace
