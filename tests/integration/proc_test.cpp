// End-to-end tests of the proc plugin: fake root identity, the process limit, uname, and a
// fork/exec loop in a rootfs.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"

namespace {

using lx::test::run_command;
using ::testing::HasSubstr;

const std::string kLx = LX_BIN;

std::vector<std::string> as_nobody(std::vector<std::string> argv) {
  if (geteuid() != 0) return argv;
  std::vector<std::string> out = {"/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

TEST(ProcPlugin, DefaultConfigAsksForNothing) {
  auto r = run_command({kLx, "syscalls"});
  EXPECT_THAT(r.out, HasSubstr("# family proc    enabled, plugin 'proc'"));
  for (const char* call : {" getuid ", " clone ", " uname "}) EXPECT_THAT(r.out, ::testing::Not(HasSubstr(call)));
}

TEST(ProcPlugin, OwnsExecveWhenTheFsPluginTranslates) {
  char tmpl[] = "/tmp/lxhost-proc-test-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto r = run_command({kLx, "syscalls", "--set", "fs.root=" + dir});
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
  std::filesystem::remove_all(dir);
}

TEST(ProcPlugin, FakeRootIsConsistent) {
  auto r = run_command(as_nobody({kLx, "exec", "--set", "proc.fake_root=true", "--", "/bin/sh", "-c", "id -u; id -g; id -G"}));
  EXPECT_EQ(r.out, "0\n0\n0\n") << r.err;
  // Without it the unprivileged user stays itself.
  r = run_command(as_nobody({kLx, "exec", "--", "/usr/bin/id", "-u"}));
  EXPECT_EQ(r.out, geteuid() == 0 ? "65534\n" : std::to_string(geteuid()) + "\n");
}

TEST(ProcPlugin, FakeRootIsConsistentWithTheFsMetadata) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  char tmpl[] = "/tmp/lxhost-proc-test-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  chmod(dir.c_str(), 0755);
  std::string root = dir + "/root";
  ASSERT_EQ(run_command({std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh", "busybox", root}).status, 0);
  ASSERT_EQ(chown((root + "/home/user").c_str(), 65534, 65534), 0);
  // Under fake root the user's own files are root's; a chown to another owner is kept as metadata.
  auto r = run_command(as_nobody({kLx, "exec", "--set", "fs.root=" + root, "--set", "proc.fake_root=true", "--",
                                  "/bin/sh", "-c", "cd /home/user && touch g h && chown 1000:1000 h && ls -ln g h"}));
  EXPECT_THAT(r.out, HasSubstr("1 0        0                0 ")) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 1000     1000             0 "));
  // Without fake root the user sees itself again, and the chown persists.
  r = run_command(as_nobody({kLx, "exec", "--set", "fs.root=" + root, "--", "/bin/sh", "-c",
                             "ls -ln /home/user/g /home/user/h"}));
  EXPECT_THAT(r.out, HasSubstr("1 65534    65534            0 ")) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 1000     1000             0 "));
  std::filesystem::remove_all(dir);
}

TEST(ProcPlugin, SetuidFamilyChangesTheEmulatedIdentity) {
  if (access("/usr/bin/perl", X_OK) != 0) GTEST_SKIP() << "perl missing";
  // perl's $< and $> assignments call setresuid/setreuid; the emulated ids follow.
  auto r = run_command(as_nobody({kLx, "exec", "--set", "proc.fake_root=true", "--", "/usr/bin/perl", "-e",
                                  "$) = \"100 100\"; $> = 1000; print \"$< $> \", $) + 0, \"\\n\"; "
                                  "$> = 0; print \"$>\\n\";"}));
  EXPECT_EQ(r.out, "0 1000 100\n0\n") << r.err;
}

TEST(ProcPlugin, ChildrenInheritTheEmulatedIdentity) {
  if (access("/usr/bin/perl", X_OK) != 0) GTEST_SKIP() << "perl missing";
  // After setuid, every child is the new user too, however its first ptrace stop and its
  // parent's fork event are ordered (su, login and daemons drop privileges, then fork or exec;
  // dash vforks, and a vfork child's first stop often comes before its parent's event).
  auto r = run_command(as_nobody({kLx, "exec", "--set", "proc.fake_root=true", "--", "/usr/bin/perl", "-e",
                                  "$( = $) = 1000; $< = $> = 1000; "
                                  "for (1..20) { if (!fork) { exec '/usr/bin/id', '-u' } wait } "
                                  "exec '/bin/sh', '-c', 'for i in $(seq 20); do /usr/bin/id -u; done'"}));
  std::string want;
  for (int i = 0; i < 40; ++i) want += "1000\n";
  EXPECT_EQ(r.out, want) << r.err;
}

TEST(ProcPlugin, ChildrenOfASetuidProgramAreItsNewUser) {
  // A C program drops to 1000 with setgid/setuid, then execs dash, which vforks each command.
  auto r = run_command(as_nobody({kLx, "exec", "--set", "proc.fake_root=true", "--", std::string(GUEST_DIR) + "/guest_probe",
                                  "setuid", "1000", "/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do /usr/bin/id -u; done"}));
  std::string want;
  for (int i = 0; i < 10; ++i) want += "1000\n";
  EXPECT_EQ(r.out, want) << r.err;
}

TEST(ProcPlugin, CapabilitiesFollowTheEmulatedIdentity) {
  // setpriv keeps its capabilities across setresuid (PR_SET_KEEPCAPS, capget/capset), then
  // changes groups: as natively for root.
  auto r = run_command(as_nobody({kLx, "exec", "--set", "proc.fake_root=true", "--", "/usr/bin/setpriv", "--reuid",
                                  "1000", "--regid", "1000", "--clear-groups", "/bin/sh", "-c", "id -u; id -g"}));
  EXPECT_EQ(r.out, "1000\n1000\n") << r.err;
  if (access("/usr/bin/perl", X_OK) != 0) return;
  // Without keepcaps, dropping every root uid drops the capabilities: the gid stays.
  r = run_command(as_nobody({kLx, "exec", "--set", "proc.fake_root=true", "--", "/usr/bin/perl", "-e",
                             "$< = $> = 1000; $( = 5; print $( + 0, \" \", ($! ? \"refused\" : \"allowed\"), \"\\n\";"}));
  EXPECT_EQ(r.out, "0 refused\n") << r.err;
}

TEST(ProcPlugin, ForkPastTheLimitFailsWithEagain) {
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
  char tmpl[] = "/tmp/lxhost-proc-test-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  ASSERT_EQ(run_command({std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh", "busybox", dir + "/root"}).status, 0);
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + dir + "/root", "--", "/bin/sh", "-c",
                        "i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done; echo $i"});
  EXPECT_EQ(r.out, "200\n") << r.err;
  EXPECT_EQ(r.status, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
