// The net family under the kernel backend: an AF_UNIX path in a call done on behalf of the guest
// is the guest's, in its own mount namespace. The guest is a child of this test in a user and
// mount namespace of its own, with a tmpfs that only it sees; the handlers run here, outside, as
// the instance's supervisor runs them.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include <gtest/gtest.h>
#include <lxhost/testing/fake_syscall_context.h>

#include "base/unique_fd.h"
#include "handlers.h"
#include "net_state.h"
#include "net_table.h"
#include "unprivileged.h"

namespace lx::net {
namespace {

namespace sys = sdk::sys;
using sdk::testing::FakeSyscallContext;

constexpr int kSockets = 6;

// Writes `text` to `file`; false when it cannot.
bool write_file(const char* file, const std::string& text) {
  int fd = ::open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// Makes host directory `root` the root of this process's mount namespace (as the kernel backend
// does): bound onto itself, pivot_root, the old root detached.
bool pivot_into(const std::string& root) {
  return mount(root.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0 && chdir(root.c_str()) == 0 &&
         syscall(SYS_pivot_root, ".", ".") == 0 && umount2(".", MNT_DETACH) == 0 && chdir("/") == 0;
}

// The guest side (in the child): its namespaces (its root `root` pivoted into when not ""), a
// tmpfs on `hidden` (a guest path) that only it sees (its cwd), a listener at hidden/srv.sock, a
// symlink hidden/abs → hidden (absolute), and kSockets unbound stream sockets whose numbers it
// writes to `out`; then it waits for `quit` to close.
[[noreturn]] void guest(const std::string& root, const std::string& hidden, int out, int quit) {
  uid_t uid = getuid();
  gid_t gid = getgid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) _exit(10);
  if (!write_file("/proc/self/setgroups", "deny") || !write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
      !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))
    _exit(11);
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(12);
  if (!root.empty() && !pivot_into(root)) _exit(17);
  if (mount("tmpfs", hidden.c_str(), "tmpfs", 0, "mode=0755") != 0) _exit(13);
  if (chdir(hidden.c_str()) != 0 || symlink(hidden.c_str(), "abs") != 0) _exit(14);
  int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, "srv.sock");
  if (::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener, 8) != 0) _exit(15);
  int fds[kSockets];
  for (int& fd : fds) fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (::write(out, fds, sizeof fds) != static_cast<ssize_t>(sizeof fds)) _exit(16);
  char c;
  while (::read(quit, &c, 1) > 0) {
  }
  _exit(0);
}

class NetGuestView : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string root;
    if (pivot_) {
      root = tmp_ / "root";
      ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
      ASSERT_EQ(::mkdir((root + "/hidden").c_str(), 0755), 0);
      hidden_ = "/hidden";
    } else {
      hidden_ = tmp_ / "hidden";
      ASSERT_EQ(::mkdir(hidden_.c_str(), 0755), 0);
    }
    int out[2], quit[2];
    ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(quit, O_CLOEXEC), 0);
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      ::close(out[0]);
      ::close(quit[1]);
      guest(root, hidden_, out[1], quit[0]);
    }
    ::close(out[1]);
    ::close(quit[0]);
    quit_ = UniqueFd(quit[1]);
    ssize_t n = ::read(out[0], fds_, sizeof fds_);
    ::close(out[0]);
    if (n != static_cast<ssize_t>(sizeof fds_)) {
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
      GTEST_SKIP() << "no user and mount namespace here (the guest exited with " << WEXITSTATUS(status) << ")";
    }
    state_.kernel = true;
    state_.loopback_only = true;  // any address policy takes bind and connect on
  }
  void TearDown() override {
    quit_.reset();
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }

  // The guest's `nr` (bind or connect) of its socket `i` to AF_UNIX path `path`, on its behalf.
  SyscallResult call(int nr, int i, const std::string& path) {
    FakeSyscallContext c(nr, pid_);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    auto len = static_cast<std::uint64_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    c.set_args({static_cast<std::uint64_t>(fds_[i]), c.put(&a, sizeof a), len});
    for (const NetRow& r : net_table(state_))
      if (r.row.nr == nr) return r.row.handler(state_, c);
    ADD_FAILURE() << "no row";
    return sdk::fail(ENOSYS);
  }
  // Whether guest path `path` is a socket in the guest's own view.
  bool guest_socket_at(const std::string& path) const {
    struct stat st {};
    return ::stat(("/proc/" + std::to_string(pid_) + "/root" + path).c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  }
  // The name of the guest's socket `i` (or of its peer).
  std::string name_of(int i, bool peer = false) const {
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid_, 0)));
    UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), fds_[i], 0)));
    sockaddr_un a{};
    socklen_t l = sizeof a;
    if ((peer ? getpeername(fd.get(), reinterpret_cast<sockaddr*>(&a), &l)
              : getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &l)) != 0)
      return "error: " + std::string(std::strerror(errno));
    return l > offsetof(sockaddr_un, sun_path) ? a.sun_path : "";
  }

  bool pivot_ = false;  // the guest's root is a directory of tmp_, pivoted into
  test::TempDir tmp_;
  std::string hidden_;
  pid_t pid_ = -1;
  int fds_[kSockets] = {};
  UniqueFd quit_;
  NetState state_;
};

TEST_F(NetGuestView, AnAbsolutePathIsBoundInTheGuestsMountNamespace) {
  ASSERT_EQ(call(sys::bind, 0, hidden_ + "/a.sock").kind(), SyscallResult::Kind::kValue);
  EXPECT_TRUE(guest_socket_at(hidden_ + "/a.sock"));
  EXPECT_NE(::access((hidden_ + "/a.sock").c_str(), F_OK), 0) << "bound in the host's view";
  EXPECT_EQ(name_of(0), "a.sock");  // bound from its directory: the last component
}

TEST_F(NetGuestView, ARelativePathIsBoundFromTheGuestsCwd) {
  ASSERT_EQ(call(sys::bind, 1, "rel.sock").kind(), SyscallResult::Kind::kValue);
  EXPECT_TRUE(guest_socket_at(hidden_ + "/rel.sock"));
  EXPECT_EQ(name_of(1), "rel.sock");  // as natively
  EXPECT_EQ(call(sys::bind, 2, "missing/x.sock").error(), ENOENT);
  EXPECT_EQ(call(sys::bind, 2, "dir/").error(), ENOENT);
}

TEST_F(NetGuestView, ADestinationIsTheGuestsOwnSocket) {
  // Resolved by this process as the host sees it, the path names nothing.
  state_.kernel = false;
  EXPECT_EQ(call(sys::connect, 2, hidden_ + "/srv.sock").error(), ENOENT);
  state_.kernel = true;
  ASSERT_EQ(call(sys::connect, 2, hidden_ + "/srv.sock").kind(), SyscallResult::Kind::kValue);
  EXPECT_EQ(name_of(2, true), "srv.sock");  // the listener's name, as the guest bound it
}

TEST_F(NetGuestView, ARelativeDestinationClimbingOrThroughAnAbsoluteSymlinkIsResolvedFromTheRoot) {
  std::string up = "../" + hidden_.substr(hidden_.rfind('/') + 1) + "/srv.sock";
  ASSERT_EQ(call(sys::connect, 3, up).kind(), SyscallResult::Kind::kValue) << up;
  ASSERT_EQ(call(sys::connect, 4, "abs/srv.sock").kind(), SyscallResult::Kind::kValue);
  EXPECT_EQ(call(sys::connect, 5, "abs/none.sock").error(), ENOENT);
}

// The same with a root of its own, as the kernel backend makes it (pivot_root): the guest's paths
// are no host paths at all.
class NetGuestViewPivoted : public NetGuestView {
 protected:
  NetGuestViewPivoted() { pivot_ = true; }
};

TEST_F(NetGuestViewPivoted, PathsAreResolvedFromTheGuestsRoot) {
  ASSERT_EQ(call(sys::bind, 0, "/hidden/a.sock").kind(), SyscallResult::Kind::kValue);
  EXPECT_TRUE(guest_socket_at("/hidden/a.sock"));
  ASSERT_EQ(call(sys::connect, 2, "/hidden/srv.sock").kind(), SyscallResult::Kind::kValue);
  ASSERT_EQ(call(sys::connect, 3, "../hidden/srv.sock").kind(), SyscallResult::Kind::kValue);
  ASSERT_EQ(call(sys::connect, 4, "abs/srv.sock").kind(), SyscallResult::Kind::kValue);
  EXPECT_EQ(call(sys::connect, 5, "../../../../hidden/none.sock").error(), ENOENT);
}

TEST(NetKernelTable, NotesSayWhatTheKernelBackendDoes) {
  NetState emulated, kernel;
  emulated.loopback_only = kernel.loopback_only = true;
  kernel.kernel = true;
  auto note = [](const NetState& s, int nr) {
    for (const NetRow& r : net_table(s))
      if (r.row.nr == nr) return std::string(r.row.note);
    return std::string();
  };
  EXPECT_NE(note(emulated, sys::bind).find("translated host path"), std::string::npos);
  EXPECT_EQ(note(kernel, sys::bind).find("translated"), std::string::npos);
  EXPECT_NE(note(kernel, sys::bind).find("as the guest sees it"), std::string::npos);
  EXPECT_NE(note(kernel, sys::recvmsg).find("AF_UNIX socket's call native"), std::string::npos);
}

}  // namespace
}  // namespace lx::net
