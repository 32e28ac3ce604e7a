// The fs family's link, rename and removal calls: symlink(2), link(2), rename(2), unlink(2),
// rmdir(2), their *at variants, and readlink(2), where /proc/<pid>/{cwd,exe,fd/N,root} show
// guest paths.
#include <sys/stat.h>
#include <sys/syscall.h>

#include <lxhost/syscall_table.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>

#include "handlers.h"

namespace lx::fs {
namespace {

// Implements symlink(2), symlinkat(2): the target (argument 0) is stored as the guest wrote it.
SyscallResult symlink_path(FsState& s, SyscallContext& c, int dirfd, int path_arg) {
  std::string target;
  if (int e = c.string_arg(0, target); e != 0) return fail(e);
  return at_op(s, c, dirfd, path_arg, Follow::kNo,
               [&](const Resolved& r) { return symlinkat(target.c_str(), r.parent.get(), at_name(r)); });
}

// Implements rename(2), renameat(2), renameat2(2): paths at arguments `oldp` and `newp`.
SyscallResult rename_paths(FsState& s, SyscallContext& c, int olddir, int oldp, int newdir, int newp, unsigned flags) {
  Resolved a, b;
  if (int e = resolve_arg(s, c, olddir, oldp, Follow::kNo, a); e != 0) return fail(e);
  if (int e = resolve_arg(s, c, newdir, newp, Follow::kNo, b); e != 0) return fail(e);
  if (a.mount_point || b.mount_point) return fail(EBUSY);  // as the kernel says of a mount point
  if (a.read_only || b.read_only) return fail(EROFS);
  if (!c.still_valid()) return fail(EINTR);
  if (syscall(sdk::sys::renameat2, a.parent.get(), at_name(a), b.parent.get(), at_name(b), flags) != 0) return fail(errno);
  return SyscallResult::value(0);
}

// Implements link(2), linkat(2): paths at arguments `oldp` and `newp`.
SyscallResult link_paths(FsState& s, SyscallContext& c, int olddir, int oldp, int newdir, int newp, int flags) {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return fail(EINVAL);  // as the kernel, first
  Resolved a, b;
  if (int e = resolve_arg(s, c, olddir, oldp, (flags & AT_SYMLINK_FOLLOW) ? Follow::kYes : Follow::kNo, a); e != 0)
    return fail(e);
  if (int e = resolve_arg(s, c, newdir, newp, Follow::kNo, b); e != 0) return fail(e);
  if (b.read_only) return fail(EROFS);
  // A magic link (/proc/self/fd/N of an O_TMPFILE file) followed: the kernel follows it to the
  // file itself, as it would for the guest; linking the link would cross into procfs (EXDEV).
  int how = a.magic && (flags & AT_SYMLINK_FOLLOW) ? AT_SYMLINK_FOLLOW : 0;
  if (linkat(a.parent.get(), at_name(a), b.parent.get(), at_name(b), how) != 0) return fail(errno);
  return SyscallResult::value(0);
}

// What the kernel says to unlink (`rmdir` false) or rmdir of a path whose last component is
// not a name: "/" (EBUSY), "." (EINVAL) or ".." (ENOTEMPTY) to rmdir, EISDIR to unlink; 0 for
// a name.
int last_component_errno(const std::string& path, bool rmdir) {
  std::size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) return path.empty() ? 0 : (rmdir ? EBUSY : EISDIR);
  std::size_t start = path.find_last_of('/', end);
  std::string last = path.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
  if (last == ".") return rmdir ? EINVAL : EISDIR;
  if (last == "..") return rmdir ? ENOTEMPTY : EISDIR;
  return 0;
}

// Implements unlink(2), unlinkat(2), rmdir(2).
SyscallResult unlink_path(FsState& s, SyscallContext& c, int dirfd, int path_arg, int flags) {
  std::string path;
  if (int e = c.path(path_arg, path); e != 0) return fail(e);
  if (int type = last_component_errno(path, flags & AT_REMOVEDIR); type != 0) {
    // Not a name: the directory it names must exist (the kernel looks it up first).
    Resolved r;
    if (int e = resolve(s, c, dirfd, path, Follow::kYes, r); e != 0) return fail(e);
    return fail(r.exists ? type : ENOENT);
  }
  return at_op(s, c, dirfd, path_arg, Follow::kNo, [&](const Resolved& r) {
    if (r.mount_point) {
      errno = EBUSY;
      return -1;
    }
    return unlinkat(r.parent.get(), at_name(r), flags & AT_REMOVEDIR);
  });
}

// What guest thread `tid` sees for link `r` whose host target is `t`: /proc/self as the guest's
// own, the program rather than its interpreter for /proc/<pid>/exe, guest paths for /proc links
// (below the reader's own root when it has one, as the kernel's d_path from the reader's root).
std::string guest_link_target(FsState& s, pid_t tid, const Resolved& r, std::string t) {
  if (!r.link.empty()) t = r.link;  // /proc/self, /proc/thread-self: the guest's own
  bool in_proc = r.guest_path.rfind("/proc/", 0) == 0;
  pid_t pid = in_proc ? static_cast<pid_t>(std::atoi(r.guest_path.c_str() + 6)) : 0;
  if (r.name == "exe" && in_proc && s.programs) {
    // A dynamic program runs through its interpreter: /proc/<pid>/exe names the program.
    if (std::string prog = s.programs->program_of(pid); !prog.empty()) t = prog;
  }
  if (in_proc && !t.empty() && t[0] == '/') {
    std::string g = s.root.to_guest(t);
    std::deque<std::string> parts = split_path(r.guest_path);  // proc PID [task TID] root
    if (r.name == "root" && (parts.size() == 3 || (parts.size() == 5 && parts[2] == "task"))) {
      std::shared_ptr<const Jail> theirs = s.root.jails().of(static_cast<pid_t>(std::atoi(parts[parts.size() - 2].c_str())));
      g = theirs ? theirs->guest : "/";
    }
    if (!g.empty()) t = s.root.view(tid, g);
  }
  return t;
}

// Implements readlink(2), readlinkat(2): path argument `path_arg`, then buffer and size.
SyscallResult readlink_path(FsState& s, SyscallContext& c, int dirfd, int path_arg) {
  std::uint64_t buf = c.ptr(path_arg + 1);
  std::uint64_t size = c.uint_arg(path_arg + 2);
  if (static_cast<std::int64_t>(size) <= 0) return fail(EINVAL);
  std::string path;
  if (int e = c.path(path_arg, path); e != 0) return fail(e);
  if (path.empty() && dirfd != AT_FDCWD) {
    // readlinkat(fd, "") reads the symlink an O_PATH|O_NOFOLLOW fd holds, as natively.
    UniqueFd fd = guest_fd(c, dirfd);
    if (!fd) return fail(EBADF);
    char target[PATH_MAX + 1];
    ssize_t n = readlinkat(fd.get(), "", target, PATH_MAX);
    if (n < 0) return fail(errno);
    std::string t(target, static_cast<std::size_t>(n));
    std::size_t len = std::min<std::size_t>(t.size(), size);
    if (int e = c.write_memory(buf, t.data(), len); e != 0) return fail(e);
    return SyscallResult::value(static_cast<std::int64_t>(len));
  }
  Resolved r;
  if (int e = resolve_arg(s, c, dirfd, path_arg, Follow::kNo, r); e != 0) return fail(e);
  if (!r.exists) return fail(ENOENT);
  if (r.name.empty()) return fail(EINVAL);  // a directory level itself ("/", a mount point): no symlink
  char target[PATH_MAX + 1];
  ssize_t n;
  {
    ActingAs::GuestPtrace exactly;  // the guest's own ptrace rights for /proc/<pid>/exe and friends
    n = readlinkat(r.parent.get(), r.name.c_str(), target, PATH_MAX);
  }
  if (n < 0) return fail(errno);
  std::string t = guest_link_target(s, c.tid(), r, std::string(target, static_cast<std::size_t>(n)));
  std::size_t len = std::min<std::size_t>(t.size(), size);
  if (int e = c.write_memory(buf, t.data(), len); e != 0) return fail(e);
  return SyscallResult::value(static_cast<std::int64_t>(len));
}

}  // namespace

SyscallResult handle_symlink(FsState& s, SyscallContext& c) { return symlink_path(s, c, AT_FDCWD, 1); }

SyscallResult handle_symlinkat(FsState& s, SyscallContext& c) { return symlink_path(s, c, c.fd(1), 2); }

SyscallResult handle_link(FsState& s, SyscallContext& c) { return link_paths(s, c, AT_FDCWD, 0, AT_FDCWD, 1, 0); }

SyscallResult handle_linkat(FsState& s, SyscallContext& c) {
  return link_paths(s, c, c.fd(0), 1, c.fd(2), 3, c.flags(4));
}

SyscallResult handle_rename(FsState& s, SyscallContext& c) { return rename_paths(s, c, AT_FDCWD, 0, AT_FDCWD, 1, 0); }

SyscallResult handle_renameat(FsState& s, SyscallContext& c) { return rename_paths(s, c, c.fd(0), 1, c.fd(2), 3, 0); }

SyscallResult handle_renameat2(FsState& s, SyscallContext& c) {
  return rename_paths(s, c, c.fd(0), 1, c.fd(2), 3, c.flags<unsigned>(4));
}

SyscallResult handle_unlink(FsState& s, SyscallContext& c) { return unlink_path(s, c, AT_FDCWD, 0, 0); }

SyscallResult handle_unlinkat(FsState& s, SyscallContext& c) {
  int flags = c.flags(2);
  if (flags & ~AT_REMOVEDIR) return fail(EINVAL);  // as the kernel, first
  return unlink_path(s, c, c.fd(0), 1, flags);
}

SyscallResult handle_rmdir(FsState& s, SyscallContext& c) { return unlink_path(s, c, AT_FDCWD, 0, AT_REMOVEDIR); }

SyscallResult handle_readlink(FsState& s, SyscallContext& c) { return readlink_path(s, c, AT_FDCWD, 0); }

SyscallResult handle_readlinkat(FsState& s, SyscallContext& c) { return readlink_path(s, c, c.fd(0), 1); }

}  // namespace lx::fs
