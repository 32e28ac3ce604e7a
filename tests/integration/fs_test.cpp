// End-to-end tests of the fs plugin: a busybox rootfs and a dynamic one in plain host
// directories, run through `lx exec`, as the user running the tests and as the unprivileged
// user (tests/support/unprivileged.h); escape attempts.
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"
#include "test_backend.h"
#include "unprivileged.h"

namespace {

using lx::test::as_unprivileged;
using lx::test::reachable;
using lx::test::run_command;
using lx::test::unprivileged_gid;
using lx::test::unprivileged_uid;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kLx = LX_BIN;
const std::string kMakeRootfs = std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh";

// A scratch directory with a rootfs in <dir>/root and a marker file beside it, outside the root.
class Rootfs {
 public:
  explicit Rootfs(const std::string& kind) : tmp_("lxhost-fs-test", 0755) {  // the unprivileged user reads it too
    dir_ = tmp_.path();
    auto r = run_command({kMakeRootfs, kind, root()});
    ok_ = r.status == 0;
    error_ = r.err;
    std::ofstream(dir_ + "/marker") << "outside the guest root\n";
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  std::string root() const { return dir_ + "/root"; }
  const std::string& dir() const { return dir_; }
  // Gives `path` to the unprivileged user (a no-op when the tests run as that user).
  bool give(const std::string& path) const {
    return geteuid() != 0 || chown(path.c_str(), unprivileged_uid(), unprivileged_gid()) == 0;
  }

 private:
  lx::test::TempDir tmp_;
  std::string dir_, error_;
  bool ok_ = false;
};

// `lx exec` of `sh -c script` in the rootfs (as the user running the tests).
std::vector<std::string> lx_in(const Rootfs& fs, const std::string& script, std::vector<std::string> sets = {}) {
  std::vector<std::string> argv = {kLx, "exec", "--set", "fs.root=" + fs.root()};
  for (auto& s : sets) argv.insert(argv.end(), {"--set", s});
  argv.insert(argv.end(), {"--", "/bin/sh", "-c", script});
  return argv;
}

// The same, as the unprivileged user.
std::vector<std::string> lx_unprivileged(const Rootfs& fs, const std::string& script, std::vector<std::string> sets = {}) {
  std::vector<std::string> argv = lx_in(fs, script, std::move(sets));
  argv[0] = reachable(kLx);
  return as_unprivileged(argv);
}

#define REQUIRE_ROOTFS(fs) \
  ASSERT_TRUE((fs).ok()) << "cannot build the rootfs: " << (fs).error()

// Puts the static race program (tests/guest/guest_race.c) in the rootfs as /bin/guest_race.
void add_guest_race(const Rootfs& fs) {
  std::filesystem::copy_file(std::string(GUEST_DIR) + "/guest_race", fs.root() + "/bin/guest_race");
}

TEST(FsPlugin, RootSlashInterceptsNothingWithTheHostsProc) {
  auto r = run_command({kLx, "syscalls", "--set", "fs.proc=host"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("openat")));
}

TEST(FsPlugin, DotDotAfterASymlinkGoesUpFromItsTarget) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  std::filesystem::create_directory(fs.dir() + "/m");
  ASSERT_TRUE(fs.give(fs.dir() + "/m"));
  // As Linux does: /w/lk/.. is /a/b (the target's parent), not /w; out of a mount, `..` goes to
  // the mount point's guest parent, never to the host directory's parent (which holds marker).
  auto r = run_command(lx_in(fs, "mkdir -p /a/b/c /a/etc /w && echo inner > /a/b/c/f && echo fake > /a/etc/passwd &&"
                                 "echo m > /tmp/m/f && ln -s /a/b/c /w/lk && ln -s ../a/b/c /w/rel && ln -s /tmp/m /w/tm &&"
                                 "cat /w/lk/../c/f /w/lk/../../etc/passwd /w/rel/../c/f; ls /w/lk/..;"
                                 "cat /w/lk/../../../../../../a/b/c/f /w/tm/../m/f; cat /w/tm/../../etc/passwd | head -1;"
                                 "cat /w/tm/../marker /w/tm/../../marker 2>&1 | grep -c outside",
                             {"fs.default_mounts=false", "fs.mount=[{host=\"" + fs.dir() + "/m\", guest=\"/tmp/m\"}]"}));
  EXPECT_EQ(r.out, "inner\nfake\ninner\nc\ninner\nm\nroot:x:0:0:root:/root:/bin/sh\n0\n") << r.err;
}

TEST(FsPlugin, BusyboxSeesTheRootfs) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  auto r = run_command(lx_in(fs, "ls /; cd /etc && cat passwd && pwd"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("bin\ndev\netc\nhome\nproc\nroot\nsys\ntmp\n"));
  EXPECT_THAT(r.out, HasSubstr("root:x:0:0:root:/root:/bin/sh\n"));
  EXPECT_THAT(r.out, HasSubstr("\n/etc\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("usr")));  // the host's /usr is not there
}

TEST(FsPlugin, ProcSelfShowsGuestPaths) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  auto r = run_command(lx_in(fs, "cd /home/user && readlink /proc/self/exe; readlink /proc/self/cwd; "
                                 "readlink /proc/self/root; pwd"));
  EXPECT_EQ(r.out, "/bin/busybox\n/home/user\n/\n/home/user\n") << r.err;
}

TEST(FsPlugin, EscapeAttemptsStayInside) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  // Without the default mounts, nothing but the root is visible.
  auto r = run_command(lx_in(fs,
                             "cd /../../..; pwd; ls | tr '\\n' ' '; echo;"
                             "cat /../marker /../../marker ../marker 2>&1;"
                             "ln -s / /tmp/toroot; ls /tmp/toroot/ | tr '\\n' ' '; echo;"
                             "ln -s ../../../../.. /tmp/up; cat /tmp/up/marker 2>&1;"
                             "cd /; cat ../marker ./../../marker 2>&1;"
                             "cat /proc/self/root/../marker 2>&1; ls /proc 2>&1 | head -1",
                             {"fs.default_mounts=false"}));
  EXPECT_THAT(r.out, Not(HasSubstr("outside the guest root"))) << r.out;
  EXPECT_THAT(r.out, HasSubstr("/\nbin dev etc home proc root sys tmp \n"));
  EXPECT_THAT(r.out, HasSubstr("cat: can't open '/../marker': No such file or directory"));
  // With /proc mounted: a process's root link is the guest root, never the host's.
  r = run_command(lx_in(fs, "cat /proc/self/root/../marker 2>&1; ls /proc/$$/root/ | tr '\\n' ' '; echo;"
                            "ls /proc/self/root/.. | tr '\\n' ' '"));
  EXPECT_THAT(r.out, Not(HasSubstr("outside the guest root"))) << r.out;
  EXPECT_THAT(r.out, HasSubstr("bin dev etc home proc root sys tmp \nbin dev etc home proc root sys tmp"));
  EXPECT_THAT(r.out, Not(HasSubstr("usr")));
}

TEST(FsPlugin, RenameRaceDoesNotLetDotDotClimbOut) {
  Rootfs fs("busybox");
  ASSERT_TRUE(fs.ok()) << fs.error();
  add_guest_race(fs);
  // "marker" exists only outside the root, beside it; /marker inside the root does not exist.
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + fs.root(), "--set", "fs.default_mounts=false", "--",
                        "/bin/guest_race", "1500"});
  EXPECT_EQ(r.out, "contained 3000\n") << r.err;
  EXPECT_EQ(r.status, 0);
}

// An O_PATH open is made by the guest itself with the host path (the emulated backend): a symlink
// swapped into that path meanwhile must not give it a file outside the root.
TEST(FsPlugin, ASymlinkSwappedUnderAnOPathOpenNeverLeadsOutside) {
  Rootfs fs("busybox");
  ASSERT_TRUE(fs.ok()) << fs.error();
  add_guest_race(fs);
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + fs.root(), "--set", "fs.default_mounts=false", "--",
                        "/bin/guest_race", "opath", "20000"});
  EXPECT_EQ(r.out, "contained\n") << r.err;
  EXPECT_EQ(r.status, 0);
}

// A guest's mounts and chroot take the object the walk found, never a symlink swapped in for it
// since: a file bind mount whose source became a symlink to /proc/self once gave the host's
// /proc/<lx> (lx's memory, writable) to a second bind mount, and a chroot there (found by an
// attack on this work). Here the swap is made before, deterministically.
TEST(FsPlugin, MountsAndChrootNeverTakeASymlinkSwappedIntoTheirSource) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  if (geteuid() != 0) GTEST_SKIP() << "mount and chroot need the guest's CAP_SYS_ADMIN: lx as root";
  auto r = run_command(lx_in(fs,
                             "echo x > /f; echo y > /mp; mkdir /d /j; mount --bind /f /mp; rm /f; "
                             "ln -s /proc/self /f; mount --bind /mp /d 2>/dev/null; echo bind $?; "
                             "cat /d/status 2>/dev/null | head -1; cat /mp 2>/dev/null; echo read $?; "
                             "chmod 600 /mp 2>/dev/null; echo chmod $?; chroot /mp /bin/true 2>/dev/null; echo chroot $?",
                             {"instance.backend=emulated"}));
  EXPECT_EQ(r.out, "bind 255\nread 1\nchmod 1\nchroot 1\n") << r.err;  // busybox: 255, 1 on failure
  EXPECT_THAT(r.out, Not(HasSubstr("Name:")));
}

// execve runs the host path lx resolved, which the kernel walks again: a symlink swapped in
// meanwhile once ran a program outside the root (found by an attack). The exec is now checked at
// its stop, before the new image runs: the file loaded must be the one resolved.
TEST(FsPlugin, ASymlinkSwappedUnderAnExecNeverRunsAProgramOutside) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  add_guest_race(fs);
  std::filesystem::copy_file(fs.root() + "/bin/busybox", fs.dir() + "/outside");
  auto r = run_command(lx_in(fs, "/bin/guest_race exec 10000", {"fs.default_mounts=false", "instance.backend=emulated"}));
  EXPECT_EQ(r.out, "contained\n") << r.err;
  EXPECT_EQ(r.status, 0);
}

// bind(2) of an AF_UNIX path gave the kernel the host path, which it walks again: a directory
// swapped for a symlink meanwhile bound a socket beside the root (found by an attack). The
// socket is now bound through lx's fd of the directory resolved (/proc/self/fd/K/NAME).
TEST(FsPlugin, ADirectorySwappedUnderABindNeverPutsASocketOutside) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  add_guest_race(fs);
  auto r = run_command(lx_in(fs, "/bin/guest_race bind 5000", {"fs.default_mounts=false", "instance.backend=emulated"}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "done\n");
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(fs.dir() + "/sock")))
      << "a socket was bound beside the root";
}

// A chdir is checked at its exit (its cwd must be in the guest's world); threads that share the
// cwd and change it meanwhile are no escape, and no reason to end the process.
TEST(FsPlugin, ThreadsChangingTheirSharedCwdAreNotEnded) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  add_guest_race(fs);
  for (int i = 0; i < 3; ++i) {
    auto r = run_command(lx_in(fs, "/bin/guest_race chdirs", {"instance.backend=emulated"}));
    EXPECT_EQ(r.out, "ok\n") << r.err;
    EXPECT_EQ(r.status, 0);
  }
}

// fexecve (execveat of an fd, AT_EMPTY_PATH) ran natively: the kernel took a script's "#!"
// interpreter or a program's ELF interpreter from the host's namespace (found by an attack). It
// is an exec of the fd's file like any other now: its interpreter is the guest root's.
TEST(FsPlugin, FexecveFindsTheInterpreterInTheGuestRoot) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  add_guest_race(fs);
  std::filesystem::copy_file(fs.root() + "/bin/busybox", fs.dir() + "/outside");
  std::ofstream(fs.root() + "/outside.sh") << "#!" << fs.dir() << "/outside echo\necho x\n";
  std::ofstream(fs.root() + "/inside.sh") << "#!/bin/sh\necho inside $0 $1\n";
  std::filesystem::permissions(fs.root() + "/outside.sh", std::filesystem::perms::all);
  std::filesystem::permissions(fs.root() + "/inside.sh", std::filesystem::perms::all);
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + fs.root(), "--set", "fs.default_mounts=false", "--set",
                        "instance.backend=emulated", "--", "/bin/sh", "-c",
                        "/bin/guest_race fexec /outside.sh; /bin/guest_race fexec /inside.sh; "
                        "/bin/guest_race fexec /bin/guest_race; echo $?"});
  EXPECT_THAT(r.out, Not(HasSubstr("outside.sh\n"))) << "the host's interpreter ran";
  EXPECT_THAT(r.out, HasSubstr("fexec /outside.sh: No such file or directory\ninside /inside.sh probe\n0\n"))
      << r.err;
}

TEST(FsPlugin, FilesCreatedLandInTheRoot) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  auto r = run_command(lx_in(fs,
                             "mkdir -p /home/user/d/e && echo data > /home/user/d/e/f && cd /home/user && "
                             "tar cf /home/user/t.tar d && mkdir x && cd x && tar xf ../t.tar && find . | sort && "
                             "cd .. && cp -a d d2 && mv d d3 && ln -s /etc/passwd link && cat link && "
                             "rm -r d2 && ls"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(".\n./d\n./d/e\n./d/e/f\n"));
  EXPECT_THAT(r.out, HasSubstr("root:x:0:0"));
  EXPECT_THAT(r.out, HasSubstr("d3\nlink\nt.tar\nx\n"));
  std::ifstream f(fs.root() + "/home/user/d3/e/f");
  std::string content;
  std::getline(f, content);
  EXPECT_EQ(content, "data");
  EXPECT_EQ(std::filesystem::read_symlink(fs.root() + "/home/user/link"), "/etc/passwd");
}

TEST(FsPlugin, CreatedFilesGetTheGuestsUmask) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  // Created on behalf of the guest, with the guest's umask (not the tracer's), with a guest root
  // and with the host's root.
  const char* script = "cd \"$0\" && umask 077 && touch f && mkdir d && stat -c %a f d && umask 002 && touch g && stat -c %a g";
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + fs.root(), "--", "/bin/sh", "-c", script, "/home/user"});
  EXPECT_EQ(r.out, "600\n700\n664\n") << r.err;
  std::filesystem::create_directory(fs.dir() + "/h");
  r = run_command({kLx, "exec", "--", "/bin/sh", "-c", script, fs.dir() + "/h"});
  EXPECT_EQ(r.out, "600\n700\n664\n") << r.err;
}

TEST(FsPlugin, DevTtyIsTheGuestsTerminal) {
  // Opened on the guest's behalf, /dev/tty is the guest's controlling terminal (here the pty of
  // script(1)), never the tracer's; without one, ENXIO as natively.
  if (access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "script(1) (util-linux) is missing";
  auto r = run_command({"/usr/bin/script", "-qec", kLx + " exec -- /bin/sh -c 'echo to-tty > /dev/tty && tty'", "/dev/null"});
  EXPECT_THAT(r.out, HasSubstr("to-tty")) << r.err;
  EXPECT_THAT(r.out, HasSubstr("/dev/pts/"));
  r = run_command({"/usr/bin/setsid", "-w", kLx, "exec", "--", "/bin/sh", "-c", "echo x > /dev/tty"});
  EXPECT_THAT(r.err, HasSubstr("No such device or address"));
}

TEST(FsPlugin, UnprivilegedUserWorksInItsOwnTree) {
  Rootfs fs("busybox");
  ASSERT_TRUE(fs.ok()) << fs.error();
  std::string home = fs.root() + "/home/user";
  ASSERT_TRUE(fs.give(home));
  auto r = run_command(lx_unprivileged(fs,
                                       "cd /home/user && mkdir -p d/e && echo data > d/e/f && tar cf t.tar d && mkdir x && "
                                       "cd x && tar xf ../t.tar && cd .. && cp -a d d2 && ln -s /etc/passwd p && cat p && "
                                       "find /home/user | sort && ls -l / | head -3 && echo x > /etc/passwd"));
  EXPECT_THAT(r.out, HasSubstr("root:x:0:0"));
  EXPECT_THAT(r.out, HasSubstr("/home/user/d2/e/f\n/home/user/p\n/home/user/t.tar\n/home/user/x\n"));
  if (geteuid() == 0) {
    EXPECT_THAT(r.err, HasSubstr("Permission denied"));  // /etc/passwd belongs to root on the host
  }
  EXPECT_TRUE(std::filesystem::exists(home + "/x/d/e/f"));
}

TEST(FsPlugin, ReadOnlyMountRefusesWrites) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  std::string data = fs.dir() + "/data";
  std::filesystem::create_directories(data);
  std::ofstream(data + "/f") << "mounted\n";
  chmod(data.c_str(), 0755);
  auto r = run_command(lx_in(fs, "cat /data/f; echo x > /data/f; echo y > /data/g; mkdir /data/h; ls /data",
                             {fmt::format("fs.mount=[{{host=\"{}\", guest=\"/data\", read_only=true}}]", data)}));
  EXPECT_THAT(r.out, HasSubstr("mounted\n"));
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
  EXPECT_THAT(r.out, HasSubstr("f\n"));
  EXPECT_FALSE(std::filesystem::exists(data + "/g"));
  EXPECT_FALSE(std::filesystem::exists(data + "/h"));
}

TEST(FsPlugin, DynamicBinariesUseTheRootsInterpreter) {
  Rootfs fs("dynamic");
  REQUIRE_ROOTFS(fs);
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + fs.root(), "--", "/bin/sh", "-c",
                        "ls /; /usr/bin/env -i A=1 /usr/bin/env; cat /etc/passwd | /bin/cat"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("bin\ndev\netc\nhome\nlib"));
  EXPECT_THAT(r.out, HasSubstr("A=1\n"));
  EXPECT_THAT(r.out, HasSubstr("user:x:1000"));
}

// Issue 12: a dynamic program that re-executes itself through /proc/self/exe ran its ELF
// interpreter (which /proc/self/exe is on the host) with the program's own arguments.
TEST(FsPlugin, ADynamicProgramReexecutesItselfThroughProcSelfExe) {
  Rootfs fs("dynamic");
  REQUIRE_ROOTFS(fs);
  std::filesystem::copy_file(std::string(GUEST_DIR) + "/guest_forks", fs.root() + "/bin/guest_forks");
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + fs.root(), "--", "/bin/guest_forks", "2", "reexec"});
  EXPECT_EQ(r.out, "forks ok 0\nforks ok 0\nforks ok 2\n") << r.err;
  EXPECT_EQ(r.status, 0);
}

TEST(FsPlugin, ScriptsRunTheirInterpreterFromTheRoot) {
  for (const char* kind : {"busybox", "dynamic"}) {
    Rootfs fs(kind);
    ASSERT_TRUE(fs.ok()) << fs.error();
    std::ofstream(fs.root() + "/bin/s.sh") << "#!/bin/sh -e\necho \"script $0 $1 $2\"\n";
    chmod((fs.root() + "/bin/s.sh").c_str(), 0755);
    auto r = run_command({kLx, "exec", "--set", "fs.root=" + fs.root(), "--", "/bin/s.sh", "a", "b"});
    EXPECT_EQ(r.out.substr(0, r.out.find('\n') + 1), "script /bin/s.sh a b\n") << kind << ": " << r.err;
    EXPECT_EQ(r.status, 0) << kind;
  }
}

TEST(FsPlugin, DynamicProgramsKeepArgv0AndExe) {
  Rootfs fs("dynamic");
  ASSERT_TRUE(fs.ok()) << fs.error();
  std::filesystem::copy_file(std::string(GUEST_DIR) + "/guest_probe", fs.root() + "/bin/guest_probe");
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + fs.root(), "--", "/bin/guest_probe", "execas", "/bin/sh",
                        "myname", "-c", "echo $0; /bin/ls -l /proc/self/exe"});
  EXPECT_THAT(r.out, HasSubstr("myname\n")) << r.err;
  EXPECT_THAT(r.out, HasSubstr("/proc/self/exe -> /bin/ls\n"));
  // AT_EXECFN is the file name the guest passed, not the host path the call became.
  r = run_command({kLx, "exec", "--set", "fs.root=" + fs.root(), "--", "/bin/sh", "-c",
                   "/bin/guest_probe execfn; cd /bin && ./guest_probe execfn"});
  EXPECT_EQ(r.out, "/bin/guest_probe\n./guest_probe\n") << r.err;
}

TEST(FsPlugin, DynamicProgramsHaveTheirOwnNameAndCommandLineInProc) {
  Rootfs fs("dynamic");
  ASSERT_TRUE(fs.ok()) << fs.error();
  // What ps, pidof and pgrep read: comm (also in stat) and cmdline, as for a native process.
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + fs.root(), "--", "/bin/sh", "-c",
                        "cat /proc/$$/comm; cat /proc/self/comm; cat /proc/$$/cmdline; echo; cat /proc/self/cmdline; "
                        "echo; cat /proc/self/stat"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 7), "sh\ncat\n") << r.out;
  EXPECT_THAT(r.out, HasSubstr(std::string("\n/bin/sh\0-c\0cat /proc/$$/comm;", 30)));
  EXPECT_THAT(r.out, HasSubstr(std::string("\ncat\0/proc/self/cmdline\0\n", 25)));
  EXPECT_THAT(r.out, HasSubstr(" (cat) "));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("ld-linux")));
}

TEST(FsPlugin, StaticProgramsSeeTheirFileNameInAtExecfn) {
  Rootfs fs("busybox");
  ASSERT_TRUE(fs.ok()) << fs.error();
  std::filesystem::copy_file(std::string(GUEST_DIR) + "/guest_probe_static", fs.root() + "/bin/guest_probe");
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + fs.root(), "--", "/bin/sh", "-c",
                        "/bin/guest_probe execfn; cd /bin && ./guest_probe execfn"});
  EXPECT_EQ(r.out, "/bin/guest_probe\n./guest_probe\n") << r.err;
}

TEST(FsPlugin, UnprivilegedUserRunsTheRootfs) {
  LX_EMULATED_BACKEND_ONLY("owners of ids the user namespace does not map are kept as fs metadata only by the emulated backend so far (issue 11 note)");
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  ASSERT_TRUE(fs.give(fs.root() + "/home/user"));
  auto r = run_command(lx_unprivileged(fs, "id -u; cd /etc && cat passwd | head -1; ls / | head -2; "
                                           "echo hi > /home/user/was-here"));
  EXPECT_EQ(r.out.substr(0, r.out.find('\n') + 1), std::to_string(unprivileged_uid()) + "\n") << r.err;
  EXPECT_THAT(r.out, HasSubstr("root:x:0:0"));
  EXPECT_THAT(r.out, HasSubstr("bin\ndev\n"));
  EXPECT_TRUE(std::filesystem::exists(fs.root() + "/home/user/was-here"));
}

TEST(FsPlugin, OwnersOfFilesWithoutOwnerPermissionsPersist) {
  LX_EMULATED_BACKEND_ONLY("owners of ids the user namespace does not map are kept as fs metadata only by the emulated backend so far (issue 11 note)");
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  // dpkg creates files with mode 0 and chowns them before chmod: the metadata is written (and
  // read) although the host user has no permission on the file itself.
  auto r = run_command(lx_unprivileged(fs, "cd /tmp && touch f && chmod 000 f && chown 5:6 f && stat -c '%u %g %a' f && "
                                           "mkdir d && chmod 000 d && chown 7:8 d && stat -c '%u %g %a' d && chmod 755 d f && "
                                           "stat -c '%u %g %a' d f",
                                       {"fs.default_mounts=false"}));
  EXPECT_EQ(r.out, "5 6 0\n7 8 0\n7 8 755\n5 6 755\n") << r.err;
}

TEST(FsPlugin, BlockingOpensDoNotStallTheGuest) {
  Rootfs fs("busybox");
  REQUIRE_ROOTFS(fs);
  // Each reader's open of a FIFO blocks (on the guest's behalf) until its writer comes: more of
  // them than NOTIFY workers must not keep the writers' opens from being served.
  // (A writer retries: busybox sh's SIGCHLD handler has no SA_RESTART, so an exiting cat can
  // interrupt an open still queued for a worker on a loaded machine, as it could natively.)
  auto r = run_command(lx_in(fs, "for i in 1 2 3 4 5 6; do mkfifo /f$i; cat /f$i & done; sleep 0.2; "
                                 "for i in 1 2 3 4 5 6; do until echo $i 2>/dev/null > /f$i; do :; done; done; wait"),
                       {.timeout = std::chrono::seconds(30)});
  EXPECT_FALSE(r.timed_out);
  std::string out = r.out;
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, "\n\n\n\n\n\n123456") << r.out << r.err;
}

TEST(FsPlugin, BadRootIsRefused) {
  auto r = run_command({kLx, "exec", "--set", "fs.root=/nonexistent/rootfs", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("plugin 'fs'"));
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/rootfs"));
  r = run_command({kLx, "exec", "--set", "fs.root=relative/dir", "--", "/bin/true"});
  EXPECT_THAT(r.err, HasSubstr("root must be an absolute path"));
}

}  // namespace

namespace {

TEST(FsMetadata, ChownAndMknodPersistForAnUnprivilegedUser) {
  LX_EMULATED_BACKEND_ONLY("owners of ids the user namespace does not map are kept as fs metadata only by the emulated backend so far (issue 11 note)");
  Rootfs fs("busybox");
  ASSERT_TRUE(fs.ok()) << fs.error();
  // The unprivileged user owns a directory inside the root, as after an install of its own.
  std::string home = fs.root() + "/home/user";
  ASSERT_TRUE(fs.give(home));
  auto as_nobody = [&](const std::string& script) { return run_command(lx_unprivileged(fs, script)); };
  std::string uid = std::to_string(unprivileged_uid()), gid = std::to_string(unprivileged_gid());
  auto r = as_nobody("cd /home/user && touch f && chown 0:0 f && ls -ln f && mknod null c 1 3 && ls -ln null && "
                     "chmod 640 null && ls -ln null");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("-rw-r--r--    1 0        0 "));
  EXPECT_THAT(r.out, HasSubstr(fmt::format("crw-r--r--    1 {:<8} {:<8}    1,   3", uid, gid)));
  EXPECT_THAT(r.out, HasSubstr(fmt::format("crw-r-----    1 {:<8} {:<8}    1,   3", uid, gid)));
  // A new lx exec sees the same.
  r = as_nobody("ls -ln /home/user/f; stat -c '%u %g %F' /home/user/f /home/user/null");
  EXPECT_THAT(r.out, HasSubstr("-rw-r--r--    1 0        0 ")) << r.err;
  EXPECT_THAT(r.out, HasSubstr(fmt::format("0 0 regular empty file\n{} {} character special file\n", uid, gid)));
  // On the host the files still belong to the user.
  struct stat st;
  ASSERT_EQ(stat((home + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, unprivileged_uid());
  ASSERT_EQ(stat((home + "/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(FsMetadata, SidecarStoreWhenXattrsAreNotWanted) {
  LX_EMULATED_BACKEND_ONLY("owners of ids the user namespace does not map are kept as fs metadata only by the emulated backend so far (issue 11 note)");
  Rootfs fs("busybox");
  ASSERT_TRUE(fs.ok()) << fs.error();
  std::string home = fs.root() + "/home/user";
  std::string sidecar = fs.dir() + "/sidecar";
  ASSERT_TRUE(fs.give(home));
  ASSERT_TRUE(fs.give(fs.dir()));
  auto as_nobody = [&](const std::string& script) {
    return run_command(lx_unprivileged(fs, script, {"fs.metadata=sidecar", "fs.metadata_dir=" + sidecar}));
  };
  auto r = as_nobody("cd /home/user && touch f && chown 0:0 f && ls -ln f");
  EXPECT_THAT(r.out, HasSubstr("-rw-r--r--    1 0        0 ")) << r.err;
  r = as_nobody("stat -c '%u %g' /home/user/f");
  EXPECT_EQ(r.out, "0 0\n") << r.err;
  char buf[64];
  EXPECT_LT(getxattr((home + "/f").c_str(), "user.lxhost.meta", buf, sizeof buf), 0);  // not in an xattr
  EXPECT_FALSE(std::filesystem::is_empty(sidecar));
}

TEST(FsMetadata, RootChownsNatively) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  Rootfs fs("busybox");
  ASSERT_TRUE(fs.ok()) << fs.error();
  auto r = run_command(lx_in(fs, "touch /home/user/f && chown 1000:1000 /home/user/f && ls -ln /home/user/f"));
  EXPECT_THAT(r.out, HasSubstr(" 1000     1000 ")) << r.err;
  struct stat st;
  ASSERT_EQ(stat((fs.root() + "/home/user/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
}

}  // namespace
