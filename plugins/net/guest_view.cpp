// AF_UNIX paths as a guest of the kernel backend sees them (see guest_view.h).
#include "guest_view.h"
#include "base/acting_as.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <thread>

#include <lxhost/syscall_table.h>

#include "base/proc_status.h"

namespace lx::net {
namespace {

// openat2(dirfd, path, flags | O_CLOEXEC) with `resolve`, retried while a rename elsewhere makes
// the kernel ask (EAGAIN): the fd or -errno.
int open2(int dirfd, const std::string& path, int flags, std::uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = resolve | RESOLVE_NO_MAGICLINKS;
  for (int tries = 0; tries < 16; ++tries) {
    long fd = syscall(sdk::sys::openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno != EAGAIN) return -errno;
  }
  return -EAGAIN;
}

// Whether fds `a` and `b` are the same directory.
bool same_file(int a, int b) {
  struct stat sa {}, sb {};
  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// The guest path of the cwd `cwd` of the thread whose /proc directory is `proc`, checked to be that
// directory from the guest's root `root`; "" when it is not.
std::string guest_cwd(const std::string& proc, int root, int cwd) {
  char buf[PATH_MAX];
  ssize_t n = readlink((proc + "/cwd").c_str(), buf, sizeof buf - 1);
  if (n <= 0 || buf[0] != '/') return {};
  std::string path(buf, static_cast<std::size_t>(n));
  int fd = open2(root, path, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT);
  if (fd < 0) return {};
  bool same = same_file(fd, cwd);
  close(fd);
  return same ? path : std::string();
}

}  // namespace

int open_in_guest_view(pid_t tid, const std::string& path, int flags) {
  if (path.empty()) return -ENOENT;
  std::string proc = "/proc/" + std::to_string(tid);
  UniqueFd root, cwd;
  {
    ActingAs::AsLx lx;  // lx's look at the guest's root and cwd, whoever the guest is now
    root = UniqueFd(::open((proc + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root && path[0] != '/') cwd = UniqueFd(::open((proc + "/cwd").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  if (!root) return errno == ENOENT ? -ESRCH : -errno;
  if (path[0] == '/') return open2(root.get(), path, flags, RESOLVE_IN_ROOT);
  if (!cwd) return errno == ENOENT ? -ESRCH : -errno;
  // Beneath the cwd, with no absolute symlink: exactly what the guest reaches from it.
  int fd = open2(cwd.get(), path, flags, RESOLVE_BENEATH);
  if (fd != -EXDEV) return fd;
  std::string from = guest_cwd(proc, root.get(), cwd.get());
  if (from.empty()) return -ENOENT;
  return open2(root.get(), from + "/" + path, flags, RESOLVE_IN_ROOT);
}

int bind_in_dir(int sock, pid_t tid, Address& a) {
  mode_t mask = 022;
  if (auto st = ProcStatus::read(tid))
    if (auto m = st->umask()) mask = *m;
  int err = 0;
  // A thread of its own: its cwd and umask are not the process's once it unshares CLONE_FS.
  std::thread t([&] {
    if (unshare(CLONE_FS) != 0 || fchdir(a.dir.get()) != 0) {
      err = errno;
      return;
    }
    umask(mask);
    if (::bind(sock, a.sa(), a.len) != 0) err = errno;
  });
  t.join();
  return err;
}

}  // namespace lx::net
