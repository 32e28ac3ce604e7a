// The fs family's directory calls: mkdir(2), chdir(2) (rewritten on the TRACE route: the guest
// itself must change directory), getcwd(2), getdents(2) (a procfs root lists the instance's pids
// only), inotify_add_watch(2) (the watch goes on the guest's own inotify instance) and chroot(2)
// (each process's own root, jails.h).
#include <dirent.h>
#include <linux/capability.h>
#include <linux/kcmp.h>
#include <linux/magic.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include <lxhost/syscall_table.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "handlers.h"

namespace lx::fs {
namespace {

// Implements mkdir(2), mkdirat(2): path argument `path_arg`, then the mode.
SyscallResult mkdir_path(FsState& s, SyscallContext& c, int dirfd, int path_arg) {
  mode_t mode = c.flags<mode_t>(path_arg + 1);
  return at_op(s, c, dirfd, path_arg, Follow::kNo, [&](const Resolved& r) {
    int rc = mkdirat(r.parent.get(), at_name(r), mode);
    if (rc == 0) {
      apply_umask(s, c, open_entry(r, O_PATH | O_NOFOLLOW).get(), mode);
      own_new_at(s, c, r);
    }
    return rc;
  });
}

// Whether the directory open as `fd` is the root of a procfs.
bool is_proc_root(int fd) {
  struct stat st;
  struct statfs sf;
  return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_ino == 1 && fstatfs(fd, &sf) == 0 &&
         sf.f_type == PROC_SUPER_MAGIC;
}

// Whether directory entry `name` (`len` bytes) is not a process outside the instance.
bool shown_in_proc(const FsState& s, const char* name, std::size_t len) {
  bool numeric = len > 0;
  for (std::size_t i = 0; i < len && numeric; ++i) numeric = name[i] >= '0' && name[i] <= '9';
  return !numeric || (len <= 10 && s.member(static_cast<pid_t>(std::atoll(std::string(name, len).c_str()))));
}

// Removes from the records data[0..n) of getdents64 (`is64`) or getdents the numeric names of
// processes outside the instance; returns the new length.
std::size_t drop_strangers(const FsState& s, char* data, std::size_t n, bool is64) {
  std::size_t name_at = is64 ? 19 : 18;
  std::size_t in = 0, out = 0;
  while (in + name_at < n) {
    unsigned short reclen;
    std::memcpy(&reclen, data + in + 16, sizeof reclen);
    if (reclen == 0 || in + reclen > n) break;
    const char* name = data + in + name_at;
    if (shown_in_proc(s, name, strnlen(name, reclen - name_at))) {
      if (out != in) std::memmove(data + out, data + in, reclen);
      out += reclen;
    }
    in += reclen;
  }
  return out;
}

// Implements getdents64(2) and getdents(2): read on behalf of the guest from its own open
// directory (so that no other file can take its place between a check and the read); in a
// procfs root only the instance's pids show. Never 0 while entries remain.
SyscallResult read_entries(FsState& s, SyscallContext& c, bool is64) {
  std::size_t count = std::min<std::size_t>(static_cast<unsigned>(c.uint_arg(2)), std::size_t{1} << 20);
  UniqueFd fd = take_fd(c, c.fd(0));
  if (!fd) return fail(EBADF);
  bool proc_root = is_proc_root(fd.get());
  std::vector<char> data(std::max<std::size_t>(count, 1));
  for (;;) {
    long n = syscall(is64 ? sdk::sys::getdents64 : sdk::sys::getdents, fd.get(), data.data(), count);
    if (n < 0) return fail(errno);
    if (n == 0) return SyscallResult::value(0);
    std::size_t len = static_cast<std::size_t>(n);
    if (proc_root) len = drop_strangers(s, data.data(), len, is64);
    if (len == 0) continue;  // only strangers in this batch: read on
    if (int e = c.write_memory(c.ptr(1), data.data(), len); e != 0) return fail(e);
    return SyscallResult::value(static_cast<std::int64_t>(len));
  }
}

}  // namespace

SyscallResult handle_mkdir(FsState& s, SyscallContext& c) { return mkdir_path(s, c, AT_FDCWD, 0); }

SyscallResult handle_mkdirat(FsState& s, SyscallContext& c) { return mkdir_path(s, c, c.fd(0), 1); }

namespace {

// Whether another process of the instance shares the cwd of `c.pid()` (clone with CLONE_FS and
// without CLONE_THREAD): a cwd that a checked chdir lets escape would stay with it.
// A thread of the caller's own process is not another process, also while it exits (its mm is
// gone before its fs: comparing the two processes' mm said "another process" then).
bool shares_cwd_with_another_process(const FsState& s, SyscallContext& c) {
  std::string own_tasks = "/proc/" + std::to_string(c.pid()) + "/task/";
  for (pid_t o : s.members()) {
    struct stat st;
    if (o == c.pid() || o == c.tid() || ::stat((own_tasks + std::to_string(o)).c_str(), &st) == 0) continue;
    if (syscall(sdk::sys::kcmp, c.pid(), o, KCMP_FS, 0, 0) == 0) return true;
  }
  return false;
}

// Whether the cwd of guest thread `tid` is in the guest's world: its guest path, walked as any
// guest path (a /proc of a process outside the instance is not there), leads to it.
bool cwd_in_world(const GuestRoot& root, pid_t tid) {
  // One look at it (its threads share it, and may change it meanwhile): its path and identity
  // both from one fd.
  UniqueFd at(::open(("/proc/" + std::to_string(tid) + "/cwd").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  std::string host;
  struct stat cwd, there;
  if (!at || fstat(at.get(), &cwd) != 0 || host_path_of_fd(at.get(), host) != 0) return false;
  std::string guest = root.to_guest(host);
  Resolved r;
  if (guest.empty() || root.resolve(0, AT_FDCWD, guest, Follow::kYes, r) != 0 || !r.exists) return false;
  UniqueFd fd = open_entry(r, O_PATH);
  return fd && fstat(fd.get(), &there) == 0 && there.st_dev == cwd.st_dev && there.st_ino == cwd.st_ino;
}

}  // namespace

SyscallResult handle_chdir(FsState& s, SyscallContext& c) {
  Resolved r;
  if (int e = resolve_arg(s, c, AT_FDCWD, 0, Follow::kYes, r); e != 0) return fail(e);
  if (!r.exists) return fail(ENOENT);
  std::string host;
  if (int e = host_path_of(r, O_DIRECTORY, host); e != 0) return fail(e);
  if (shares_cwd_with_another_process(s, c)) return fail(ENOSYS);
  std::uint64_t top = c.scratch_top();
  std::uint64_t p = c.push(&top, host);
  if (!p) return fail(EFAULT);
  // The kernel walks the pushed path again: a symlink the guest swapped into it since, or a
  // rewrite of the pushed path by another process, could leave the cwd outside the guest's world.
  // Then the process dies at the call's exit (with every thread that shares the cwd; another
  // process sharing it was refused above).
  c.check_return([&root = s.root](pid_t tid, long ret) { return ret < 0 || cwd_in_world(root, tid); });
  c.set_arg(0, p);
  return SyscallResult::rewritten();
}

SyscallResult handle_getcwd(FsState& s, SyscallContext& c) {
  std::string cwd;
  if (int e = s.root.guest_path_of_fd(c.tid(), AT_FDCWD, cwd); e != 0) return fail(e);
  // A cwd outside the caller's own root (chroot) is named as the kernel names it.
  bool reachable = true;
  cwd = s.root.view(c.tid(), cwd, &reachable);
  if (!reachable) cwd = "(unreachable)" + cwd;
  if (cwd.size() + 1 > c.uint_arg(1)) return fail(ERANGE);
  if (int e = c.write_memory(c.ptr(0), cwd.c_str(), cwd.size() + 1); e != 0) return fail(e);
  return SyscallResult::value(static_cast<std::int64_t>(cwd.size() + 1));
}

namespace {

// The threads of process `pid`, now.
std::vector<pid_t> threads_of(pid_t pid) {
  std::vector<pid_t> out;
  if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/task").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
    closedir(d);
  }
  if (out.empty()) out.push_back(pid);
  return out;
}

}  // namespace

// As the kernel's chroot: the path looked up (following), a directory, search permission on it,
// then CAP_SYS_CHROOT. The cwd stays where it is, as natively (even outside the new root).
SyscallResult handle_chroot(FsState& s, SyscallContext& c) {
  Resolved r;
  if (int e = resolve_arg(s, c, AT_FDCWD, 0, Follow::kYes, r); e != 0) return fail(e);
  if (!r.exists) return fail(ENOENT);
  auto jail = std::make_shared<Jail>();
  jail->fd = open_entry(r, O_PATH | O_DIRECTORY);
  if (!jail->fd) return fail(errno);
  if (syscall(sdk::sys::faccessat2, jail->fd.get(), "", X_OK, AT_EACCESS | AT_EMPTY_PATH) != 0) return fail(errno);
  if (!guest_capable(s, c.tid(), CAP_SYS_CHROOT)) return fail(EPERM);
  // Its guest path as the cwd's is named (from the host path of the directory it is), so that
  // the two compare; a directory reached through a magic link has no other name.
  std::string host;
  if (int e = host_path_of_fd(jail->fd.get(), host); e != 0) return fail(e);
  jail->guest = s.root.to_guest(host);
  if (jail->guest.empty()) return fail(EACCES);
  jail->read_only = r.read_only;
  if (!c.still_valid()) return fail(EINTR);
  s.root.jails().enter(threads_of(c.pid()), jail->guest == "/" ? nullptr : std::move(jail));
  return SyscallResult::value(0);
}

SyscallResult handle_getdents(FsState& s, SyscallContext& c) { return read_entries(s, c, false); }

SyscallResult handle_getdents64(FsState& s, SyscallContext& c) { return read_entries(s, c, true); }

SyscallResult handle_inotify_add_watch(FsState& s, SyscallContext& c) {
  auto mask = c.flags<std::uint32_t>(2);
  Resolved r;
  if (int e = resolve_arg(s, c, AT_FDCWD, 1, follow_unless(static_cast<int>(mask), IN_DONT_FOLLOW), r); e != 0)
    return fail(e);
  if (!r.exists) return fail(ENOENT);
  UniqueFd target = open_entry(r, O_PATH | O_NOFOLLOW);
  if (!target) return fail(errno);
  UniqueFd ino = take_fd(c, c.fd(0));
  if (!ino) return fail(errno);
  std::string path = "/proc/self/fd/" + std::to_string(target.get());
  int wd = inotify_add_watch(ino.get(), path.c_str(), mask);
  if (wd < 0) return fail(errno);
  return SyscallResult::value(wd);
}

// Implements fanotify_mark(2) on the guest's own fanotify group: an inode mark on the object
// the guest named (dirfd with a NULL path: dirfd itself). A mount or filesystem mark would watch
// the host's whole mount or filesystem beyond a guest root: only with the host's root.
SyscallResult handle_fanotify_mark(FsState& s, SyscallContext& c) {
  auto flags = c.flags<unsigned>(1);
  std::uint64_t mask = c.uint_arg(2);
  int dirfd = c.fd(3);
  constexpr unsigned kWhole = 0x00000010 /* FAN_MARK_MOUNT */ | 0x00000100 /* FAN_MARK_FILESYSTEM */;
  if ((flags & kWhole) && !s.host_root && s.translating) return fail(EPERM);
  UniqueFd fan = take_fd(c, c.fd(0));
  if (!fan) return fail(errno == EBADF ? EBADF : errno);
  UniqueFd target;
  if (c.ptr(4) == 0) {
    target = guest_fd(c, dirfd);
    if (!target) return fail(EBADF);
  } else {
    Resolved r;
    if (int e = resolve_arg(s, c, dirfd, 4, follow_unless(static_cast<int>(flags), 0x00000004 /* FAN_MARK_DONT_FOLLOW */), r);
        e != 0)
      return fail(e);
    if (!r.exists) return fail(ENOENT);
    target = open_entry(r, O_PATH | O_NOFOLLOW);
    if (!target) return fail(errno);
  }
  // By /proc/self/fd/N (the kernel takes no O_PATH dirfd here), followed to the very object the
  // guest named: FAN_MARK_DONT_FOLLOW has been applied by the resolution already.
  std::string at = "/proc/self/fd/" + std::to_string(target.get());
  if (fanotify_mark(fan.get(), flags & ~0x00000004u, mask, AT_FDCWD, at.c_str()) != 0) return fail(errno);
  return SyscallResult::value(0);
}

// The object a *at call names by argument 0 (a dirfd) and `path`: the fd itself with
// AT_EMPTY_PATH (`empty_path`) and an empty path, else the resolved entry, as an O_PATH fd in
// `out`; 0 or errno (EROFS for a `writing` call in a read-only mount).
static int named_object(FsState& s, SyscallContext& c, const std::string& path, bool empty_path, Follow follow,
                        bool writing, UniqueFd& out) {
  if (empty_path && path.empty()) {
    out = guest_fd(c, c.fd(0));
    return out ? 0 : EBADF;
  }
  Resolved r;
  if (int e = resolve(s, c, c.fd(0), path, follow, r); e != 0) return e;
  if (!r.exists) return ENOENT;
  if (writing && r.read_only) return EROFS;
  out = open_entry(r, O_PATH | O_NOFOLLOW);
  return out ? 0 : errno;
}

// Implements name_to_handle_at(2): the handle of the object the guest named, as the host's
// filesystem makes it (open_by_handle_at, which would open any file of the mount, stays refused).
SyscallResult handle_name_to_handle_at(FsState& s, SyscallContext& c) {
  int flags = c.flags(4);
  // AT_HANDLE_FID, AT_HANDLE_MNT_ID_UNIQUE and AT_HANDLE_CONNECTABLE go to the host's call.
  constexpr int kHandleFlags = 0x200 | 0x001 | 0x002;
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH | kHandleFlags)) return fail(EINVAL);
  std::uint32_t bytes = 0;
  std::uint64_t handle = c.ptr(2);
  if (int e = c.read_memory(handle, &bytes, sizeof bytes); e != 0) return fail(e);
  constexpr std::uint32_t kMax = 128;  // MAX_HANDLE_SZ
  if (bytes > kMax) return fail(EINVAL);
  std::string path;
  if (int e = c.path(1, path); e != 0) return fail(e);
  UniqueFd target;
  if (int e = named_object(s, c, path, flags & AT_EMPTY_PATH, (flags & AT_SYMLINK_FOLLOW) ? Follow::kYes : Follow::kNo,
                           false, target);
      e != 0)
    return fail(e);
  alignas(8) unsigned char buf[8 + kMax];
  auto* fh = reinterpret_cast<struct file_handle*>(buf);
  fh->handle_bytes = bytes;
  std::uint64_t mount_id = 0;  // 64 bits with AT_HANDLE_MNT_ID_UNIQUE
  int rc = name_to_handle_at(target.get(), "", fh, reinterpret_cast<int*>(&mount_id), AT_EMPTY_PATH | (flags & kHandleFlags));
  int err = rc == 0 ? 0 : errno;
  if (rc != 0 && err != EOVERFLOW) return fail(err);
  // As the kernel: the mount id is written even with EOVERFLOW (a bad pointer there is EFAULT
  // first), then the handle, or only the size it needs (EOVERFLOW).
  std::size_t id_size = (flags & 0x001) ? sizeof(std::uint64_t) : sizeof(int);
  if (int e = c.write_memory(c.ptr(3), &mount_id, id_size); e != 0) return fail(e);
  std::size_t out = err ? sizeof fh->handle_bytes : 8 + fh->handle_bytes;
  if (int e = c.write_memory(handle, buf, out); e != 0) return fail(e);
  if (err) return fail(err);
  return SyscallResult::value(0);
}

// Implements file_getattr(2) and file_setattr(2) (`set`) on the object the guest names: the
// struct file_attr is passed through, at most a page of it, as the kernel takes it.
static SyscallResult file_attr(FsState& s, SyscallContext& c, bool set) {
  int flags = c.flags(4);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return fail(EINVAL);
  std::uint64_t size = c.uint_arg(3);
  if (size > 4096) return fail(E2BIG);
  std::string path;
  if (int e = c.path(1, path); e != 0) return fail(e);
  UniqueFd target;
  if (int e = named_object(s, c, path, flags & AT_EMPTY_PATH, follow_unless(flags), set, target); e != 0) return fail(e);
  std::vector<unsigned char> attr(static_cast<std::size_t>(size));
  if (set && size)
    if (int e = c.read_memory(c.ptr(2), attr.data(), attr.size()); e != 0) return fail(e);
  // By /proc/self/fd/N: the kernel takes no O_PATH fd with AT_EMPTY_PATH here (EBADF).
  std::string at = "/proc/self/fd/" + std::to_string(target.get());
  long rc = syscall(set ? sdk::sys::file_setattr : sdk::sys::file_getattr, AT_FDCWD, at.c_str(), attr.data(), size, 0);
  if (rc < 0) return fail(errno);
  if (!set && size)
    if (int e = c.write_memory(c.ptr(2), attr.data(), attr.size()); e != 0) return fail(e);
  return SyscallResult::value(rc);
}

SyscallResult handle_file_getattr(FsState& s, SyscallContext& c) { return file_attr(s, c, false); }

SyscallResult handle_file_setattr(FsState& s, SyscallContext& c) { return file_attr(s, c, true); }

}  // namespace lx::fs
