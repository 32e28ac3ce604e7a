// The fs family's mount(2) and umount2(2) on the emulated backend. Its mount table is the fs
// family's own (GuestRoot's mounts), one for the whole instance: a guest's mount changes what the
// instance's paths resolve to, never the host's. What a guest with CAP_SYS_ADMIN can mount:
//   - a bind mount (MS_BIND) of a directory or file of its world (MS_REC as given: a bind shows
//     what lies below its source on the host; the instance's own mounts below it are not copied);
//   - tmpfs: a new empty directory lx makes ("mode=" applied; no size or inode limit);
//   - proc, sysfs, devpts, mqueue, cgroup2, devtmpfs: what the instance shows at /proc, /sys,
//     /dev/pts, /dev/mqueue, /sys/fs/cgroup, /dev, bound there (a procfs shows the instance);
//   - MS_REMOUNT with or without MS_RDONLY (EROFS below a read-only mount), MS_MOVE, and the
//     propagation flags (one table: nothing to propagate to).
// Any other filesystem (a device's) is EPERM: only the kernel mounts it.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/capability.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "handlers.h"

namespace lx::fs {
namespace {

constexpr unsigned long kPropagation = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;
// The most mounts a guest makes (each mount copies the list: a guest must not make its instance
// crawl); the kernel's fs.mount-max is 100000, with ENOSPC past it too.
constexpr std::size_t kMaxMounts = 10000;

// The guest path of resolved entry `r`: the walk's own, or its host path's for a /proc magic link.
int guest_path_of(const FsState& s, const Resolved& r, std::string& out) {
  if (!r.magic) {
    out = r.guest_path;
    return 0;
  }
  std::string host;
  if (int e = host_path_of(r, 0, host); e != 0) return e;
  out = s.root.to_guest(host);
  return out.empty() ? EACCES : 0;
}

// Fills the host side of `m` with the object `r` names: a directory as its fd, a file as its
// directory and name (checked to be that very file).
int host_side(const FsState& s, const Resolved& r, Mount& m, bool& dir) {
  UniqueFd fd = open_entry(r, O_PATH);
  if (!fd) return errno;
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return errno;
  if (S_ISLNK(st.st_mode)) return ELOOP;  // swapped in since the resolution
  if (int e = host_path_of_fd(fd.get(), m.host); e != 0) return e;
  if (s.root.to_guest(m.host).empty()) return EACCES;  // outside the guest's world (an fd passed in)
  m.read_only = r.read_only;
  dir = S_ISDIR(st.st_mode);
  if (dir) {
    m.fd = std::move(fd);
    return 0;
  }
  std::size_t slash = m.host.rfind('/');
  m.file = true;
  m.file_name = m.host.substr(slash + 1);
  m.fd.reset(::open(slash == 0 ? "/" : m.host.substr(0, slash).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  struct stat again;
  if (!m.fd || fstatat(m.fd.get(), m.file_name.c_str(), &again, AT_SYMLINK_NOFOLLOW) != 0 || again.st_dev != st.st_dev ||
      again.st_ino != st.st_ino)
    return ENOENT;  // it moved meanwhile
  return 0;
}

// What the instance shows at the path a virtual filesystem of type `type` stands for; "" for
// tmpfs and for what cannot be mounted here.
std::string instance_path_of(const std::string& type) {
  if (type == "proc") return "/proc";
  if (type == "sysfs") return "/sys";
  if (type == "devpts") return "/dev/pts";
  if (type == "mqueue") return "/dev/mqueue";
  if (type == "cgroup2") return "/sys/fs/cgroup";
  if (type == "devtmpfs") return "/dev";
  return {};
}

// The mode a tmpfs's "mode=" option asks for (01777 by default, as tmpfs).
mode_t tmpfs_mode(const std::string& data) {
  std::size_t at = data.find("mode=");
  if (at == std::string::npos || (at > 0 && data[at - 1] != ',')) return 01777;
  return static_cast<mode_t>(std::strtoul(data.c_str() + at + 5, nullptr, 8) & 07777);
}

// A new mount of filesystem type `type` (with `data`, its options) at guest path `target`.
int new_mount(FsState& s, SyscallContext& c, const std::string& type, bool read_only, Mount& m, bool& dir) {
  dir = true;
  if (type == "tmpfs") {
    std::string data;
    if (c.ptr(4) != 0)
      if (int e = c.read_string(c.ptr(4), data, 4096); e != 0) return e;
    m.read_only = read_only;
    ActingAs::AsLx lx;  // lx's own scratch directory
    return s.tmpfs.make(tmpfs_mode(data), m.fd, m.host);
  }
  std::string shown = instance_path_of(type);
  if (shown.empty()) return EPERM;  // a device's filesystem: only the kernel mounts it
  Resolved r;
  if (int e = s.root.resolve(0, AT_FDCWD, shown, Follow::kYes, r); e != 0 || !r.exists) return ENODEV;
  if (int e = host_side(s, r, m, dir); e != 0) return e;
  m.read_only = m.read_only || read_only;
  return 0;
}

// MS_REMOUNT (with MS_BIND or not) of the mount at `guest`: only its read-only flag changes.
int remount(FsState& s, const std::string& guest, unsigned long flags) {
  if (s.root.set_read_only(guest, flags & MS_RDONLY)) return 0;
  if (guest == "/") return (flags & MS_RDONLY) ? EPERM : 0;  // the guest root: writable it is
  return EINVAL;                                             // not a mount point
}

// MS_MOVE of the mount at guest path `from` to guest path `to`.
int move(FsState& s, const std::string& from, const std::string& to) {
  std::shared_ptr<const MountList> list = s.root.mounts();
  const Mount* m = GuestRoot::mount_at(*list, from);
  if (!m) return EINVAL;
  Mount moved{to, m->host, m->read_only, UniqueFd(fcntl(m->fd.get(), F_DUPFD_CLOEXEC, 0)), m->file, m->file_name};
  if (!moved.fd) return errno;
  if (!s.root.remove_mount(from)) return EINVAL;
  s.root.add_mount(std::move(moved));
  return 0;
}

}  // namespace

// As the kernel's do_mount: the strings read, the target looked up, CAP_SYS_ADMIN, then the kind
// of mount the flags ask for.
SyscallResult handle_mount(FsState& s, SyscallContext& c) {
  unsigned long flags = c.uint_arg(3);
  if ((flags & 0xffff0000ul) == 0xc0ed0000ul) flags &= 0xfffful;  // MS_MGC_VAL, of old programs
  std::string source, type;
  if (c.arg(0) != 0)
    if (int e = c.path(0, source); e != 0) return fail(e);
  if (c.arg(2) != 0)
    if (int e = c.string_arg(2, type, 4096); e != 0) return fail(e);
  Resolved t;
  if (int e = resolve_arg(s, c, AT_FDCWD, 1, Follow::kYes, t); e != 0) return fail(e);
  if (!t.exists) return fail(ENOENT);
  if (!guest_capable(s, c.tid(), CAP_SYS_ADMIN)) return fail(EPERM);
  Mount m;
  if (int e = guest_path_of(s, t, m.guest); e != 0) return fail(e);
  if (flags & MS_REMOUNT) {
    int e = remount(s, m.guest, flags);
    return e ? fail(e) : SyscallResult::value(0);
  }
  if (!(flags & (MS_BIND | MS_MOVE)) && (flags & kPropagation)) return SyscallResult::value(0);
  bool dir = true;
  if (flags & MS_MOVE) {
    Resolved from;
    if (int e = resolve_arg(s, c, AT_FDCWD, 0, Follow::kYes, from); e != 0) return fail(e);
    std::string from_guest;
    if (int e = guest_path_of(s, from, from_guest); e != 0) return fail(e);
    int e = move(s, from_guest, m.guest);
    return e ? fail(e) : SyscallResult::value(0);
  }
  if (flags & MS_BIND) {
    Resolved from;
    if (int e = resolve_arg(s, c, AT_FDCWD, 0, Follow::kYes, from); e != 0) return fail(e);
    if (!from.exists) return fail(ENOENT);
    if (int e = host_side(s, from, m, dir); e != 0) return fail(e);
  } else if (int e = new_mount(s, c, type, flags & MS_RDONLY, m, dir); e != 0) {
    return fail(e);
  }
  struct stat st;
  UniqueFd target = open_entry(t, O_PATH);
  if (!target || fstat(target.get(), &st) != 0) return fail(ENOENT);
  if (S_ISLNK(st.st_mode)) return fail(ENOENT);  // a /proc magic link's own symlink (mount08)
  if (S_ISDIR(st.st_mode) != dir) return fail(ENOTDIR);
  if (s.root.mounts()->size() >= kMaxMounts) return fail(ENOSPC);  // as fs.mount-max
  if (!c.still_valid()) return fail(EINTR);
  s.root.add_mount(std::move(m));
  return SyscallResult::value(0);
}

// As the kernel's umount2: the flags, the target looked up, CAP_SYS_ADMIN, a mount point.
SyscallResult handle_umount2(FsState& s, SyscallContext& c) {
  int flags = c.flags(1);
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return fail(EINVAL);
  if ((flags & MNT_EXPIRE) && (flags & (MNT_FORCE | MNT_DETACH))) return fail(EINVAL);
  Resolved t;
  if (int e = resolve_arg(s, c, AT_FDCWD, 0, follow_unless(flags, UMOUNT_NOFOLLOW), t); e != 0) return fail(e);
  if (!t.exists) return fail(ENOENT);
  if (!guest_capable(s, c.tid(), CAP_SYS_ADMIN)) return fail(EPERM);
  std::string guest;
  if (int e = guest_path_of(s, t, guest); e != 0) return fail(e);
  if (flags & MNT_EXPIRE) return fail(EAGAIN);  // the first MNT_EXPIRE only marks it, natively
  return s.root.remove_mount(guest) ? SyscallResult::value(0) : fail(EINVAL);
}

TmpfsDirs::~TmpfsDirs() {
  if (dir_.empty()) return;
  std::error_code ec;
  // What a guest left unwritable is made writable first: it is lx's to remove.
  for (auto it = std::filesystem::recursive_directory_iterator(dir_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
  std::filesystem::remove_all(dir_, ec);
}

int TmpfsDirs::make(mode_t mode, UniqueFd& fd, std::string& host) {
  std::lock_guard lock(mu_);
  if (dir_.empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/lxhost-tmpfs-XXXXXX";
    if (!mkdtemp(tmpl.data())) return errno;
    dir_ = tmpl;
  }
  host = dir_ + "/" + std::to_string(next_++);
  if (::mkdir(host.c_str(), 0700) != 0 || ::chmod(host.c_str(), mode) != 0) return errno;
  fd.reset(::open(host.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  return fd ? 0 : errno;
}

}  // namespace lx::fs
