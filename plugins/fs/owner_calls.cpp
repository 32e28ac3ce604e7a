// The fs family's ownership and mode calls: chown(2) and its variants, chmod(2) and its variants,
// mknod(2). What the host refuses an unprivileged user (another owner, a device node) is kept as
// metadata (fsmeta), which stat shows.
#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "base/proc_status.h"
#include "handlers.h"

namespace lx::fs {
namespace {

// chmod of the resolved entry: native, and in the metadata too when it holds a mode. Through its
// fd: fchmodat() by name would follow a symlink swapped in since the resolution, on the host.
int chmod_entry(FsState& s, const Resolved& r, mode_t mode) {
  UniqueFd fd = open_entry(r, O_PATH);
  if (!fd) return -1;
  fsmeta::Metadata m;
  if (!s.host_root && s.store.read(fd.get(), m) == 0 && m.mode) {
    m.mode = (*m.mode & S_IFMT) | (mode & 07777);
    if (int e = s.store.write(fd.get(), m); e != 0) return errno = e, -1;
    return 0;
  }
  // A symlink here (swapped in) gives EOPNOTSUPP, as chmod of a symlink itself does.
  return ::chmod(("/proc/self/fd/" + std::to_string(fd.get())).c_str(), mode);
}

// Stores the owner change in the metadata of `fd` (-1 leaves a field as it is).
int store_owner(FsState& s, int fd, std::uint32_t uid, std::uint32_t gid) {
  fsmeta::Metadata m;
  if (int e = s.store.read(fd, m); e != 0 && e != ENODATA) return e;
  if (uid != static_cast<std::uint32_t>(-1)) m.uid = static_cast<uid_t>(uid);
  if (gid != static_cast<std::uint32_t>(-1)) m.gid = static_cast<gid_t>(gid);
  return s.store.write(fd, m);
}

// Changes ownership of `fd` natively when the host allows it; otherwise keeps it as metadata.
SyscallResult chown_fd(FsState& s, int fd, std::uint32_t uid, std::uint32_t gid) {
  if (fchownat(fd, "", static_cast<uid_t>(uid), static_cast<gid_t>(gid), AT_EMPTY_PATH) == 0) {
    fsmeta::Metadata m;
    if (s.store.read(fd, m) == 0 && (m.uid || m.gid)) {
      m.uid.reset();
      m.gid.reset();
      s.store.write(fd, m);
    }
    return SyscallResult::value(0);
  }
  // A host that refuses lx itself is emulated; a refusal of what a guest is not allowed (lx has
  // the capability, the guest thread it acts as has not) is the guest's answer.
  if (errno != EPERM || s.host_root || s.own_creds.has(CAP_CHOWN)) return fail(errno);
  int e = store_owner(s, fd, uid, gid);
  if (e == EPERM || e == ENOTSUP) return SyscallResult::value(0);  // symlinks carry no user xattrs
  return e ? fail(e) : SyscallResult::value(0);
}

// Implements chown(2), lchown(2), fchownat(2) of path `path` relative to `dirfd`.
SyscallResult chown_path(FsState& s, SyscallContext& c, int dirfd, const std::string& path, std::uint32_t uid,
                         std::uint32_t gid, Follow follow) {
  Resolved r;
  if (int e = resolve(s, c, dirfd, path, follow, r); e != 0) return fail(e);
  if (!r.exists) return fail(ENOENT);
  if (r.read_only) return fail(EROFS);
  UniqueFd fd = open_entry(r, O_PATH | O_NOFOLLOW);
  if (!fd) return fail(errno);
  return chown_fd(s, fd.get(), uid, gid);
}

// Implements chown(2), lchown(2): path argument 0, owner and group arguments 1 and 2.
SyscallResult chown_arg(FsState& s, SyscallContext& c, Follow follow) {
  std::string path;
  if (int e = c.path(0, path); e != 0) return fail(e);
  return chown_path(s, c, AT_FDCWD, path, static_cast<std::uint32_t>(c.uint_arg(1)),
                    static_cast<std::uint32_t>(c.uint_arg(2)), follow);
}

// fchown of guest fd `gfd`.
SyscallResult chown_guest_fd(FsState& s, SyscallContext& c, int gfd, std::uint32_t uid, std::uint32_t gid) {
  UniqueFd fd = guest_fd(c, gfd);
  if (!fd) return fail(EBADF);
  return chown_fd(s, fd.get(), uid, gid);
}

// Whether guest thread `tid` lacks CAP_MKNOD only because lx withheld it
// (sdk::kWithheldCapabilities): it is not in its bounding set, and the thread holds every
// capability left there (CAP_SYS_ADMIN, emulated, then counts as held).
bool mknod_withheld(const FsState& s, pid_t tid) {
  auto status = ProcStatus::read(tid);
  auto bnd = status ? status->cap_bounding() : std::nullopt;
  return bnd && !((*bnd >> CAP_MKNOD) & 1) && guest_capable(s, tid, CAP_SYS_ADMIN);
}

// mknod of the resolved entry: a device node the host refuses becomes an empty file whose
// metadata says what it is, where lx could not make it (an ordinary user's lx) or must not (a
// guest of a root lx, which holds every capability left to it but CAP_MKNOD, withheld: a real
// node in its world would open a host device to whoever can reach the file). -1 with errno.
int mknod_entry(FsState& s, const Resolved& r, mode_t mode, dev_t dev, mode_t umask, bool withheld) {
  if (mknodat(r.parent.get(), at_name(r), mode, dev) == 0) return 0;  // the kernel applies the umask
  mode = (mode & S_IFMT) | (mode & 07777 & ~umask);
  if (errno != EPERM || s.host_root || (s.own_creds.has(CAP_MKNOD) && !withheld) || !(S_ISCHR(mode) || S_ISBLK(mode)))
    return -1;
  UniqueFd fd(openat(r.parent.get(), at_name(r), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
  if (!fd) return -1;
  fsmeta::Metadata m;
  m.mode = mode;
  m.rdev = dev;
  if (int e = s.store.write(fd.get(), m); e != 0) {
    unlinkat(r.parent.get(), at_name(r), 0);
    errno = e;
    return -1;
  }
  return 0;
}

// Implements mknod(2), mknodat(2): path argument `path_arg`, then mode and device.
SyscallResult mknod_path(FsState& s, SyscallContext& c, int dirfd, int path_arg) {
  mode_t mode = c.flags<mode_t>(path_arg + 1);
  dev_t dev = static_cast<dev_t>(c.uint_arg(path_arg + 2));
  return at_op(s, c, dirfd, path_arg, Follow::kNo, [&](const Resolved& r) {
    bool withheld = mknod_withheld(s, c.tid());
    int rc = mknod_entry(s, r, mode, dev, guest_umask(c.tid()), withheld);
    if (rc == 0) own_new_at(s, c, r);
    return rc;
  });
}

}  // namespace

SyscallResult handle_chown(FsState& s, SyscallContext& c) { return chown_arg(s, c, Follow::kYes); }

SyscallResult handle_lchown(FsState& s, SyscallContext& c) { return chown_arg(s, c, Follow::kNo); }

SyscallResult handle_fchownat(FsState& s, SyscallContext& c) {
  int flags = c.flags(4);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return fail(EINVAL);  // as the kernel, first
  auto uid = static_cast<std::uint32_t>(c.uint_arg(2));
  auto gid = static_cast<std::uint32_t>(c.uint_arg(3));
  std::string path;
  if (int e = c.path(1, path); e != 0) return fail(e);
  if ((flags & AT_EMPTY_PATH) && path.empty()) return chown_guest_fd(s, c, c.fd(0), uid, gid);
  return chown_path(s, c, c.fd(0), path, uid, gid, follow_unless(flags));
}

SyscallResult handle_fchown(FsState& s, SyscallContext& c) {
  if (is_path_fd(c, c.fd(0))) return fail(EBADF);  // fchownat(AT_EMPTY_PATH) takes one; fchown not
  return chown_guest_fd(s, c, c.fd(0), static_cast<std::uint32_t>(c.uint_arg(1)),
                        static_cast<std::uint32_t>(c.uint_arg(2)));
}

SyscallResult handle_chmod(FsState& s, SyscallContext& c) {
  mode_t mode = c.flags<mode_t>(1);
  return at_op(s, c, AT_FDCWD, 0, Follow::kYes, [&](const Resolved& r) { return chmod_entry(s, r, mode); });
}

SyscallResult handle_fchmodat(FsState& s, SyscallContext& c) {
  mode_t mode = c.flags<mode_t>(2);
  return at_op(s, c, c.fd(0), 1, Follow::kYes, [&](const Resolved& r) { return chmod_entry(s, r, mode); });
}

SyscallResult handle_fchmodat2(FsState& s, SyscallContext& c) {
  mode_t mode = c.flags<mode_t>(2);
  int flags = c.flags(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return fail(EINVAL);  // as the kernel, first
  std::string path;
  if (int e = c.path(1, path); e != 0) return fail(e);
  if ((flags & AT_EMPTY_PATH) && path.empty()) {
    UniqueFd fd = guest_fd(c, c.fd(0));
    if (!fd) return fail(EBADF);
    if (fchmodat(fd.get(), "", mode, AT_EMPTY_PATH) != 0 &&
        chmod(("/proc/self/fd/" + std::to_string(fd.get())).c_str(), mode) != 0)
      return fail(errno);
    return SyscallResult::value(0);
  }
  return at_op(s, c, c.fd(0), 1, follow_unless(flags), [&](const Resolved& r) {
    struct stat st;
    // A symlink itself has no mode of its own to change: EOPNOTSUPP, as Linux.
    if ((flags & AT_SYMLINK_NOFOLLOW) && fstatat(r.parent.get(), at_name(r), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
      return errno = EOPNOTSUPP, -1;
    return chmod_entry(s, r, mode);
  });
}

SyscallResult handle_mknod(FsState& s, SyscallContext& c) { return mknod_path(s, c, AT_FDCWD, 0); }

SyscallResult handle_mknodat(FsState& s, SyscallContext& c) { return mknod_path(s, c, c.fd(0), 1); }

}  // namespace lx::fs
