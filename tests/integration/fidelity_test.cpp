// What lx does on a guest's behalf, the kernel would have done the same way (issue 12): each
// test runs one sequence of calls natively and under lx with every path translated
// (`lx exec --set fs.root=/.`, the host's root seen through the fs plugin) and wants the same
// answers, call for call.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"
#include "test_backend.h"
#include "unprivileged.h"

namespace {

using lx::test::run_command;
using lx::test::TempDir;

const std::string kLx = LX_BIN;
const std::string kCreds = std::string(GUEST_DIR) + "/guest_creds";
const std::string kChroot = std::string(GUEST_DIR) + "/guest_chroot";

// A directory with files of other owners: root's secret (0600), nobody's secret (0600), a file
// of group 12345 (0640), a directory only root may write (0755) and one anyone may (01777).
class Files {
 public:
  Files() : dir_("lxhost-fidelity", 0755) { make(); }
  // Back to the files made first, whatever a run made of them.
  void reset() {
    for (const auto& e : std::filesystem::directory_iterator(dir_.path()))
      if (e.path().filename() != "mytrue" && e.path().filename() != "link" && e.path().filename() != "sym" &&
          e.path().filename() != "mysleep" && e.path().filename() != "jail")
        std::filesystem::remove_all(e.path());
    make();
  }
  std::string operator/(const std::string& name) const { return dir_ / name; }
  const std::string& path() const { return dir_.path(); }

 private:
  void make() {
    for (const char* f : {"root_secret", "nobody_secret", "group_file"}) std::ofstream(dir_ / f) << "x\n";
    chmod((dir_ / "root_secret").c_str(), 0600);
    chmod((dir_ / "nobody_secret").c_str(), 0600);
    chown((dir_ / "nobody_secret").c_str(), 65534, 65534);
    chmod((dir_ / "group_file").c_str(), 0640);
    chown((dir_ / "group_file").c_str(), 0, 12345);
    mkdir((dir_ / "root_dir").c_str(), 0755);
    mkdir((dir_ / "open_dir").c_str(), 01777);
    mkdir((dir_ / "sgid_dir").c_str(), 0777);
    chown((dir_ / "sgid_dir").c_str(), 0, 12345);
    chmod((dir_ / "sgid_dir").c_str(), 02777);
    chmod((dir_ / "open_dir").c_str(), 01777);
  }
  TempDir dir_;
};

// Runs guest_creds with `ops` natively and under lx, each on fresh `files`; expects the same
// output, and returns it. With `sets` (KEY=VALUE) added to lx's config.
std::string same_natively_and_under_lx(Files& files, const std::vector<std::string>& ops,
                                       const std::vector<std::string>& sets = {},
                                       const std::string& program = kCreds) {
  std::vector<std::string> native{program};
  native.insert(native.end(), ops.begin(), ops.end());
  // fs.root=/. translates every path; "fs.root=/" in `sets` asks for the default config (the
  // host's root, the instance's /proc).
  bool host_root = std::find(sets.begin(), sets.end(), "fs.root=/") != sets.end();
  std::vector<std::string> lx{kLx, "exec", "--set", host_root ? "fs.root=/" : "fs.root=/."};
  for (const auto& s : sets) lx.insert(lx.end(), {"--set", s});
  lx.insert(lx.end(), {"--", program});
  lx.insert(lx.end(), ops.begin(), ops.end());
  auto n = run_command(native);
  files.reset();
  auto l = run_command(lx);
  EXPECT_EQ(n.status, 0) << n.err;
  EXPECT_EQ(l.out, n.out) << "native:\n" << n.out << "under lx:\n" << l.out << l.err;
  EXPECT_EQ(l.status, n.status) << l.err;
  return n.out;
}

#define REQUIRE_ROOT() \
  if (geteuid() != 0) GTEST_SKIP() << "a guest can take other credentials only where lx runs as root"

TEST(Fidelity, ADroppedCapabilityIsDroppedForCallsDoneOnTheGuestsBehalf) {
  REQUIRE_ROOT();
  Files f;
  // CAP_DAC_OVERRIDE (1) and CAP_DAC_READ_SEARCH (2) dropped: nobody's 0600 file is closed to
  // root; root's own file still opens (owner); CAP_CHOWN (0) dropped: chown fails.
  std::string out = same_natively_and_under_lx(f, {"dropcap", "1", "dropcap", "2", "open", f / "nobody_secret", "r",
                                                "open", f / "root_secret", "r", "dropcap", "0", "chown",
                                                f / "root_secret", "65534", "65534"});
  EXPECT_THAT(out, ::testing::HasSubstr("nobody_secret: EACCES"));
  EXPECT_THAT(out, ::testing::HasSubstr("chown " + (f / "root_secret") + ": EPERM"));
}

TEST(Fidelity, AnotherFsuidCreatesAsItselfAndIsRefusedAsItself) {
  REQUIRE_ROOT();
  Files f;
  std::string out = same_natively_and_under_lx(f,
      {"groups", "-", "fsgid", "65534", "fsuid", "65534", "open", f / "root_secret", "r", "creat",
       f / "open_dir/mine", "stat", f / "open_dir/mine", "mkdir", f / "root_dir/sub", "chmod", f / "root_secret",
       "0644", "unlink", f / "open_dir/mine", "link", f / "nobody_secret", f / "root_dir/l"});
  EXPECT_THAT(out, ::testing::HasSubstr("stat " + (f / "open_dir/mine") + ": 65534:65534:644"));
  EXPECT_THAT(out, ::testing::HasSubstr("mkdir " + (f / "root_dir/sub") + ": EACCES"));
}

TEST(Fidelity, SupplementaryGroupsAreTheGuests) {
  REQUIRE_ROOT();
  Files f;
  std::string out = same_natively_and_under_lx(f, {"groups", "12345", "fsuid", "65534", "open", f / "group_file", "r",
                                                "groups", "-", "open", f / "group_file", "r"});
  EXPECT_EQ(out, "groups 12345: OK\nfsuid 65534: 65534\nopen " + (f / "group_file") + ": OK\ngroups -: OK\nopen " +
                     (f / "group_file") + ": EACCES\n");
}

TEST(Fidelity, AccessChecksWithTheRealIdsAndFaccessatEaccessWithTheEffectiveOnes) {
  REQUIRE_ROOT();
  Files f;
  std::string out = same_natively_and_under_lx(f, {"ruid", "65534", "access", f / "root_secret", "r", "accesse",
                                                f / "root_secret", "r", "open", f / "root_secret", "r"});
  EXPECT_THAT(out, ::testing::HasSubstr("access " + (f / "root_secret") + ": EACCES"));
  EXPECT_THAT(out, ::testing::HasSubstr("accesse " + (f / "root_secret") + ": OK"));
}

TEST(Fidelity, AGuestThatBecameAnotherUserStillRunsPrograms) {
  REQUIRE_ROOT();
  Files f;
  // Dynamic programs run through their interpreter, by a link lx makes: nobody must reach it.
  std::string out = same_natively_and_under_lx(f, {"setuid", "65534", "run", "/bin/true"});
  EXPECT_EQ(out, "setuid 65534: OK\nrun /bin/true: 0\n");
}

TEST(Fidelity, CallsOnTheFdsOfAGuestThatChangedItsEffectiveUidAreItsOwn) {
  REQUIRE_ROOT();
  Files f;
  // After seteuid the process is no longer dumpable: its /proc/<pid>/fd is closed to its new
  // euid, which lx must still read (as itself) to find the file, then act as the guest on it.
  std::string out = same_natively_and_under_lx(
      f, {"keep", f / "root_secret", "seteuid", "65534", "fchown", "65534", "0", "fchmod", "0644"});
  EXPECT_EQ(out, "keep " + (f / "root_secret") + ": OK\nseteuid 65534: OK\nfchown 65534: EPERM\nfchmod 0644: EPERM\n");
}

TEST(Fidelity, ExecIsRefusedWhatTheGuestMayNotRunAndFindsBareNamesInTheCwd) {
  REQUIRE_ROOT();
  Files f;
  std::filesystem::copy_file("/bin/true", f / "mytrue");
  chmod((f / "mytrue").c_str(), 0700);
  symlink("mytrue", (f / "link").c_str());
  // A bare name is the file in the cwd (ld.so alone would look for a library); 0700 root's is
  // EACCES for nobody (not the ELF interpreter's failure, 127); execveat's own checks.
  std::string out = same_natively_and_under_lx(
      f, {"chdir", f.path(), "run", "mytrue", "execveat", f / "link", "nofollow", "execveat", f / "mytrue", "bad",
          "seteuid", "65534", "run", f / "mytrue"});
  EXPECT_EQ(out, "chdir " + f.path() + ": OK\nrun mytrue: 0\nexecveat nofollow: ELOOP\nexecveat bad: EINVAL\n"
                 "seteuid 65534: OK\nrun " + (f / "mytrue") + ": 13\n");
}

TEST(Fidelity, ModeAndOwnerCallsCheckTheirFlagsAndLeaveSymlinkTargetsAlone) {
  Files f;
  symlink("root_secret", (f / "sym").c_str());
  std::string out = same_natively_and_under_lx(
      f, {"lchmod", f / "sym", "0644", "mode", f / "root_secret", "fchownat_bad", f / "root_secret", "fstatat_bad", f / "root_secret", "unlinkat_bad",
          f / "root_secret", "notdir_at", f / "root_secret", "fileattr", f / "root_secret"});
  EXPECT_THAT(out, ::testing::HasSubstr("lchmod " + (f / "sym") + ": EOPNOTSUPP"));
  EXPECT_THAT(out, ::testing::HasSubstr("fchownat_bad " + (f / "root_secret") + ": EINVAL"));
  EXPECT_THAT(out, ::testing::HasSubstr("fstatat_bad " + (f / "root_secret") + ": EINVAL"));
  EXPECT_THAT(out, ::testing::HasSubstr("unlinkat_bad " + (f / "root_secret") + ": EINVAL"));
  EXPECT_THAT(out, ::testing::HasSubstr("notdir_at " + (f / "root_secret") + ": ENOTDIR"));
}

TEST(Fidelity, ADirectoryMadeInASetgidDirectoryKeepsItsGroupAndSetgidBit) {
  REQUIRE_ROOT();
  Files f;
  std::string out = same_natively_and_under_lx(f, {"umask", "0", "groups", "-", "fsgid", "65534", "fsuid", "65534",
                                                   "mkdir", f / "sgid_dir/sub", "stat", f / "sgid_dir/sub",
                                                   "openat2_bad", f / "root_secret"});
  EXPECT_THAT(out, ::testing::HasSubstr("stat " + (f / "sgid_dir/sub") + ": 65534:12345:2777"));
  EXPECT_THAT(out, ::testing::HasSubstr("openat2_bad " + (f / "root_secret") + ": EINVAL"));
}

TEST(Fidelity, AnUnreapedChildIsStillInProc) {
  Files f;
  EXPECT_EQ(same_natively_and_under_lx(f, {"zombie"}), "zombie: Z\n");
}

// Landlock would bind the guest thread and not lx acting for it: the emulated backend says it is
// disabled rather than sandbox nothing (a deliberate difference from native).
TEST(Fidelity, LandlockIsDisabledWhereLxActsForTheGuest) {
  LX_EMULATED_BACKEND_ONLY("under the kernel backend the guest's own calls are the kernel's: Landlock binds them");
  auto r = run_command({kLx, "exec", "--set", "fs.root=/.", "--", kCreds, "landlock"});
  EXPECT_EQ(r.out, "landlock : EOPNOTSUPP\n") << r.err;
}

TEST(Fidelity, AnOTmpfileFileIsLinkedThroughProcSelfFd) {
  Files f;
  std::string out = same_natively_and_under_lx(f, {"tmpfile", f / "open_dir", "named", "mode", f / "open_dir/named"});
  EXPECT_THAT(out, ::testing::HasSubstr("tmpfile named: OK"));
}

TEST(Fidelity, ProtectedSymlinksAreNotFollowedInStickyDirectories) {
  REQUIRE_ROOT();
  Files f;
  // fs.protected_symlinks on for the test (put back after): nobody's link in root's sticky
  // world-writable directory is not followed by root. The setting is the host's: the test's
  // variants (one per backend, run side by side) take turns, with a lock on the file itself.
  int lock = open("/proc/sys/fs/protected_symlinks", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(flock(lock, LOCK_EX), 0);
  std::string old = "0";
  std::ifstream("/proc/sys/fs/protected_symlinks") >> old;
  std::ofstream("/proc/sys/fs/protected_symlinks") << "1\n";
  auto make_link = [&] {
    symlink((f / "root_secret").c_str(), (f / "open_dir/link").c_str());
    lchown((f / "open_dir/link").c_str(), 65534, 65534);
  };
  make_link();
  std::vector<std::string> ops{"open", f / "open_dir/link", "r"};
  std::vector<std::string> native{kCreds};
  native.insert(native.end(), ops.begin(), ops.end());
  std::vector<std::string> lx{kLx, "exec", "--set", "fs.root=/.", "--", kCreds};
  lx.insert(lx.end(), ops.begin(), ops.end());
  auto n = run_command(native);
  auto l = run_command(lx);
  std::ofstream("/proc/sys/fs/protected_symlinks") << old << "\n";
  close(lock);
  EXPECT_EQ(n.out, "open " + (f / "open_dir/link") + ": EACCES\n");
  EXPECT_EQ(l.out, n.out) << l.err;
}

TEST(Fidelity, FileHandlesAndFanotifyMarksOfWhatTheGuestNames) {
  REQUIRE_ROOT();  // a handle of a file of another user's
  LX_EMULATED_BACKEND_ONLY("name_to_handle_at needs the host's user namespace");
  Files f;
  std::string out = same_natively_and_under_lx(f, {"handle", f / "root_secret", "fanmark", f / "root_secret"});
  EXPECT_EQ(out, "handle " + (f / "root_secret") + ": OK\nfanmark " + (f / "root_secret") + ": OK\n");
}

// A deliberate difference: a handle opens any file of its filesystem (the "shocker" escape).
TEST(Fidelity, OpenByHandleIsRefusedInAGuestRoot) {
  LX_EMULATED_BACKEND_ONLY("the kernel backend's guest has no CAP_DAC_READ_SEARCH of the host's user namespace");
  TempDir root("lxhost-fidelity-root", 0755);
  auto r = run_command({kLx, "syscalls", "--all", "--set", "fs.root=" + root.path()});
  std::size_t at = r.out.find(" open_by_handle_at ");
  ASSERT_NE(at, std::string::npos) << r.out << r.err;
  EXPECT_THAT(r.out.substr(at, r.out.find('\n', at) - at), ::testing::HasSubstr("errno(EPERM)"));
}

TEST(Fidelity, TruncateObeysTheFileSizeLimitOfAGuestThatChangedItsUid) {
  REQUIRE_ROOT();
  Files f;
  std::string out = same_natively_and_under_lx(f, {"umask", "0", "creat", f / "open_dir/big", "fsize", "16777216", "seteuid", "65534",
                                                   "truncate_to", f / "open_dir/big", "33554432"});
  EXPECT_THAT(out, ::testing::HasSubstr("truncate_to " + (f / "open_dir/big") + ": EFBIG"));
}

// The "calls that act on the wrong file": /proc/self/fd/N is the very object the fd holds
// (a symlink held with O_PATH|O_NOFOLLOW is not followed to its target). With the host's root,
// where the O_PATH open itself runs natively.
TEST(Fidelity, ProcSelfFdNamesTheObjectTheFdHolds) {
  Files f;
  symlink("root_secret", (f / "sym").c_str());
  std::string out = same_natively_and_under_lx(
      f, {"opath_chmod", f / "sym", "0000", "mode", f / "root_secret", "opath_readlink", f / "sym"}, {"fs.root=/"});
  EXPECT_EQ(out, "opath_chmod " + (f / "sym") + ": EOPNOTSUPP\nmode " + (f / "root_secret") +
                     ": 600\nopath_readlink " + (f / "sym") + ": root_secret\n");
}

// An O_PATH fd is one wherever paths are translated: of a symlink too, read, fchown and fgetxattr
// refused (EBADF), its flags as natively; the emulated backend lets the guest open it itself (open_calls.cpp).
TEST(Fidelity, AnOPathFdIsAnOPathFdOfWhatTheGuestNamed) {
  Files f;
  symlink("root_secret", (f / "sym").c_str());
  for (const char* root : {"fs.root=/.", "fs.root=/"}) {
    SCOPED_TRACE(root);
    std::string out = same_natively_and_under_lx(
        f, {"opath_chmod", f / "sym", "0000", "mode", f / "root_secret", "opath_readlink", f / "sym", "opath_info",
            f / "sym", "opath_info", f / "root_secret", "opath_info", f / "root_dir"},
        {root});
    EXPECT_THAT(out, ::testing::HasSubstr("opath_readlink " + (f / "sym") + ": root_secret\n"));
    EXPECT_THAT(out, ::testing::HasSubstr("opath_info " + (f / "sym") + ": read EBADF flags 10400000 type 120000"));
    EXPECT_THAT(out, ::testing::HasSubstr("opath_info " + (f / "root_dir") +
                                          ": read EBADF flags 10400000 type 40000 openat OK fchown EBADF fgetxattr EBADF"));
  }
}

// setpgid's checks of the process come before the group's: a child that exec'd is EACCES even for
// a group that is not there (outside the instance, for lx: setpgid03).
TEST(Fidelity, SetpgidChecksTheProcessBeforeTheGroup) {
  Files f;
  EXPECT_EQ(same_natively_and_under_lx(f, {"setpgid_child", "exec", "setpgid_child", "fork"}),
            "setpgid_child exec: EACCES\nsetpgid_child fork: EPERM\n");
}

// A running program's file is write-denied and a file open for writing cannot be run (ETXTBSY),
// though the emulated backend runs programs through their ELF interpreter (creat07, execve04).
TEST(Fidelity, ARunningProgramIsTextBusy) {
  Files f;
  std::filesystem::copy_file("/bin/sleep", f / "mysleep");
  EXPECT_EQ(same_natively_and_under_lx(f, {"busy", f / "mysleep", "exec_writing", f / "mysleep"}),
            "busy_open " + (f / "mysleep") + ": ETXTBSY\nbusy_truncate " + (f / "mysleep") +
                ": ETXTBSY\nexec_writing " + (f / "mysleep") + ": ETXTBSY\n");
}

// openat2's RESOLVE_* flags are applied as the kernel applies them, on top of the guest root's own
// rules (openat202): symlinks, magic links, mounts crossed, leaving the starting directory.
TEST(Fidelity, Openat2ResolveFlagsAreApplied) {
  Files f;
  symlink("/root_secret", (f / "sym").c_str());
  symlink("group_file", (f / "link").c_str());
  const std::string d = f.path();
  std::string out = same_natively_and_under_lx(
      f, {"resolve", d, "root_dir/../group_file", "beneath", "resolve", d, "../x", "beneath", "resolve", d,
          "/proc/version", "beneath", "resolve", d, "/group_file", "inroot", "resolve", d, "sym", "inroot",
          "resolve", d, "../../..", "inroot", "resolve", d, "sym", "beneath", "resolve", "/", "proc/version", "xdev",
          "resolve", "/", "proc/self/exe", "magic", "resolve", "/", "proc/self/exe", "none", "resolve", d, "link",
          "sym", "resolve", d, "link", "none", "resolve", "/", "proc/self/status", "sym", "resolve", d, "group_file",
          "xdev,magic,sym,beneath", "resolve", d + "/root_dir", "../group_file", "xdev,inroot"});
  EXPECT_EQ(out,
            "resolve root_dir/../group_file beneath: OK\nresolve ../x beneath: EXDEV\nresolve /proc/version "
            "beneath: EXDEV\nresolve /group_file inroot: OK\nresolve sym inroot: OK\nresolve ../../.. inroot: "
            "OK\nresolve sym beneath: EXDEV\nresolve proc/version xdev: EXDEV\nresolve proc/self/exe magic: "
            "ELOOP\nresolve proc/self/exe none: OK\nresolve link sym: ELOOP\nresolve link none: OK\nresolve "
            "proc/self/status sym: ELOOP\nresolve group_file xdev,magic,sym,beneath: OK\nresolve ../group_file "
            "xdev,inroot: ENOENT\n");
}

TEST(Fidelity, APortBelow1024NeedsTheGuestsCapability) {
  REQUIRE_ROOT();
  Files f;
  // Port 1 (tcpmux) is free on any machine that runs these tests; CAP_NET_BIND_SERVICE is 10.
  std::string out = same_natively_and_under_lx(f, {"dropcap", "10", "bindport", "1"});
  EXPECT_EQ(out, "dropcap 10: OK\nbindport 1: EACCES\n");
}

// Under fake root, with lx itself root: the emulated identity is what is checked.
TEST(Fidelity, UnderFakeRootADroppedIdentityIsDroppedForFilesSignalsAndTheHostname) {
  REQUIRE_ROOT();
  LX_EMULATED_BACKEND_ONLY("fake root is the emulated backend's; the kernel backend's root is the user namespace's");
  Files f;
  std::string out = same_natively_and_under_lx(f, {"dropcap", "21", "sethostname", "killparent", "65534", "setuid",
                                                "65534", "open", f / "root_secret", "r", "creat",
                                                f / "root_dir/x", "creat", f / "open_dir/y", "stat",
                                                f / "open_dir/y"},
                                               {"proc.fake_root=true"});
  EXPECT_EQ(out, "dropcap 21: OK\nsethostname : EPERM\nkillparent 65534: EPERM\nsetuid 65534: OK\nopen " +
                     (f / "root_secret") + ": EACCES\ncreat " + (f / "root_dir/x") + ": EACCES\ncreat " +
                     (f / "open_dir/y") + ": OK\nstat " + (f / "open_dir/y") + ": 65534:0:644\n");
}

// The "interrupted calls": a child's exit (SIGCHLD, ignored by default) or a signal set to
// SIG_IGN, even one every 30 ms for longer than the wait's timeout, wakes no sigtimedwait or
// epoll_wait that natively goes on waiting (the emulated backend traces its guests,
// and the kernel queues what a traced task ignores: ignored_signals.h); a SIGCHLD handler
// interrupts each of them natively and under lx.
TEST(Fidelity, ASignalTheGuestIgnoresInterruptsNoWait) {
  Files f;
  const std::string waits = std::string(GUEST_DIR) + "/guest_waits";
  for (const char* root : {"fs.root=/.", "fs.root=/"}) {
    SCOPED_TRACE(root);
    EXPECT_EQ(same_natively_and_under_lx(f,
                                         {"sigtimedwait", "epoll", "ignore", "sigtimedwait", "usr2", "epoll",
                                          "sigtimedwait", "stream", "sigtimedwait", "epoll"},
                                         {root}, waits),
              "sigtimedwait: EAGAIN\nepoll: 0\nsigtimedwait: EAGAIN\nepoll: 0\nsigtimedwait: EAGAIN\n"
              "sigtimedwait: EAGAIN\nepoll: 0\n");
    EXPECT_EQ(same_natively_and_under_lx(f, {"handler", "sigtimedwait", "epoll", "recv"}, {root}, waits),
              "sigtimedwait: EINTR\nepoll: EINTR\nrecv: EINTR\n");
  }
}


// A directory to chroot into: a few files and symlinks, and guest_chroot with the libraries it
// needs (as ldd names them), at the same paths as on the host.
void make_jail(const std::string& j) {
  namespace fs = std::filesystem;
  fs::create_directories(j + "/sub");
  std::ofstream(j + "/inside") << "x\n";
  fs::create_symlink("../inside", j + "/sub/rel");
  fs::create_symlink("/inside", j + "/abs");
  fs::copy_file(kChroot, j + "/guest_chroot");
  auto ldd = run_command({"ldd", kChroot});
  std::istringstream lines(ldd.out);
  for (std::string line; std::getline(lines, line);) {
    std::size_t at = line.find('/');
    if (at == std::string::npos) continue;
    std::string lib = line.substr(at, line.find(' ', at) - at);
    fs::create_directories(j + fs::path(lib).parent_path().string());
    fs::copy_file(lib, j + lib, fs::copy_options::overwrite_existing);
  }
}

// chroot is emulated on the emulated backend (the host's needs CAP_SYS_CHROOT and acts on the
// host): absolute paths, `..`, absolute and relative symlinks, getcwd of a cwd left outside
// (realpath01), /proc/<pid>/root, fork and exec (the program and its ELF interpreter found in the
// jail), a second, relative chroot (chroot02).
TEST(Fidelity, ChrootGivesAProcessItsOwnRoot) {
  REQUIRE_ROOT();
  Files f;
  make_jail(f / "jail");
  EXPECT_EQ(same_natively_and_under_lx(f, {"jail", f / "jail"}, {}, kChroot),
            "child chroot: y\nits root link is the jail: yes\nstat /proc/<child>/root/inside: 0\nchild sees /inside: "
            "yes\nchroot: 0\ncwd after chroot: ENOENT\nrealpath .: ENOENT\nstat /inside: 0\nstat /../inside: 0\nstat "
            "/abs: 0\nstat /sub/../../inside: 0\nstat /sub/rel: 0\nstat inside: ENOENT\nstat /lib: 0\nchdir /: 0\ncwd "
            "at /: /\nchdir sub: 0\ncwd in sub: /sub\nchdir ../..: 0\ncwd after ../..: /\nforked child sees /inside: "
            "yes\ninner runs\ncwd inner: /\nstat /inside: 0\nstat /lib: 0\nchroot sub: 0\nstat /rel: ENOENT\nstat "
            "/inside: ENOENT\nchdir /: 0\ncwd in the new root: /\n");
}

// chroot's errors, in the kernel's order: the lookup's, then search permission, then the
// capability (chroot01, chroot03, chroot04).
TEST(Fidelity, ChrootRefusesAsTheKernelDoes) {
  if (geteuid() != 0)
    LX_EMULATED_BACKEND_ONLY("an ordinary user's guest is root of its user namespace on the kernel backend");
  Files f;
  make_jail(f / "jail");
  EXPECT_EQ(same_natively_and_under_lx(f, {"refused", f / "jail"}, {}, kChroot),
            "chroot missing: ENOENT\nchroot file: ENOTDIR\nchroot loop: ELOOP\nchroot too long: ENAMETOOLONG\nchroot "
            "bad address: EFAULT\nchroot without search permission: EACCES\nchroot without CAP_SYS_CHROOT: EPERM\n");
}

// A directory is no symlink: readlink says EINVAL, mount points ("/tmp", a default bind mount of
// the emulated backend) and "/" too; realpath(3) walks each component so (it failed with ENOENT).
TEST(Fidelity, ReadlinkOfAMountPointIsEinval) {
  Files f;
  std::string out = same_natively_and_under_lx(f, {f.path(), "/tmp", "/", "/proc"}, {}, "/usr/bin/realpath");
  EXPECT_EQ(out, f.path() + "\n/tmp\n/\n/proc\n");
}

// SO_PEERCRED names the process that connected, though lx connects an AF_UNIX socket on the
// guest's behalf (getsockopt02); a short buffer, a listening socket and a bad fd as natively.
TEST(Fidelity, SoPeercredNamesTheGuestThatConnected) {
  Files f;
  EXPECT_EQ(same_natively_and_under_lx(f, {f / "sock"}, {}, std::string(GUEST_DIR) + "/guest_peercred"),
            "bound as asked: yes\ninet socket, this address: EAFNOSUPPORT\nserver: OK, peer is the child: yes, uid: ours, len 12\nshort buffer: OK, pid the child's, len 4\n"
            "listening socket: OK\nbad fd: EBADF\nclient: peer is the server: yes\n");
}

// mount(2) and umount2(2) on the emulated backend's own mount table, as natively in a mount
// namespace: bind mounts of directories and files, read-only remounts, moves, stacked tmpfs
// mounts, proc (the instance's), a chroot with /proc mounted in it; errors as the kernel's.
TEST(Fidelity, MountsAreTheInstancesOwn) {
  REQUIRE_ROOT();
  Files f;
  const std::string d = f / "jail";
  namespace fs = std::filesystem;
  for (const char* sub : {"src", "dst", "tfs", "p", "mv", "jail/proc"}) fs::create_directories(d + "/" + sub);
  std::ofstream(d + "/src/f") << "f\n";
  std::ofstream(d + "/file") << "1234567\n";
  std::ofstream(d + "/empty");
  const std::string prog = std::string(GUEST_DIR) + "/guest_mount";
  auto n = run_command({"unshare", "-m", "--propagation", "private", prog, d});
  auto l = run_command({kLx, "exec", "--set", "fs.root=/.", "--", prog, d});
  EXPECT_EQ(l.out, n.out) << l.err;
  EXPECT_EQ(n.out,
            "bind dir: 0\nfile through the bind: there\nremount read-only: 0\ncreate in it: EROFS\nremount writable: "
            "0\npropagation: 0\nmove: 0\nfile at the new place: there\nfile at the old place: ENOENT\numount moved: "
            "0\numount again: EINVAL\numount not a mount point: EINVAL\numount bad flags: EINVAL\numount missing: "
            "ENOENT\nbind file: 0\nbound file size: 8\numount file: 0\nbind dir on file: ENOTDIR\nbind on a magic link: ENOENT\nbind missing: "
            "ENOENT\ntarget missing: ENOENT\ntmpfs: 0\ntmpfs mode: 710\nfile in tmpfs: 0\ntmpfs file: there\numount "
            "tmpfs: 0\ntmpfs file after: ENOENT\nstacked 1: 0\nstacked 2: 0\nlower under the upper: ENOENT\numount "
            "upper: 0\nlower again: there\numount lower: 0\nproc: 0\nown pid in it: there\numount proc: 0\nproc in a "
            "chroot: 0\n");
}

// A filesystem on a device is the kernel's to mount: refused (EPERM), and nothing is left of the
// instance's tmpfs directories when it ends.
TEST(Fidelity, ADevicesFilesystemIsRefusedAndTmpfsLeavesNothing) {
  REQUIRE_ROOT();
  LX_EMULATED_BACKEND_ONLY("the kernel backend mounts in its own mount namespace");
  Files f;
  TempDir tmp("lxhost-mount-tmp", 0755);
  std::filesystem::create_directories(f / "t");
  auto l = run_command({"env", "TMPDIR=" + tmp.path(), kLx, "exec", "--set", "fs.root=/.", "--", "/bin/sh", "-c",
                        "mount -t ext2 /dev/null " + (f / "t") + " 2>/dev/null; echo $?; mount -t tmpfs x " + (f / "t") +
                            " && touch " + (f / "t") + "/x && ls " + tmp.path() + " | grep -c lxhost-tmpfs"});
  EXPECT_EQ(l.out, "32\n1\n") << l.err;
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path()));
}

}  // namespace
