// The fs family's stat and metadata calls: stat(2) and its variants, statx(2), access(2) and its
// variants, statfs(2), truncate(2) and the utime family. Owners and modes show the emulated
// metadata (fsmeta) over what the host says, and host owners as the proc family maps them.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <cstdint>
#include <string>

#include "handlers.h"

namespace lx::fs {
namespace {

// The metadata `m` over `st` (a stat or statx) whose owners map_identity already mapped from
// `host_uid`/`host_gid`. An owner in the user's subordinate range (mapped to another id, and not
// the user's own) was set for real by a kernel-backend guest: it beats what metadata recorded.
template <class Stat, class Uid, class Gid>
void apply_over(const fsmeta::Metadata& m, Stat& st, Uid& uid, Gid& gid, std::uint32_t host_uid, std::uint32_t host_gid) {
  Uid mapped_uid = uid;
  Gid mapped_gid = gid;
  fsmeta::apply_metadata(m, st);
  if (mapped_uid != host_uid && host_uid != getuid()) uid = mapped_uid;
  if (mapped_gid != host_gid && host_gid != getgid()) gid = mapped_gid;
}

// The metadata of the resolved entry `r` over `st` (a stat or statx), owners mapped.
template <class Stat, class Uid, class Gid>
void overlay_at(FsState& s, const Resolved& r, Stat& st, Uid& uid, Gid& gid) {
  fsmeta::Metadata m;
  std::uint32_t host_uid = uid, host_gid = gid;
  map_identity(s, uid, gid);
  if (s.store.read_at(r.parent.get(), at_name(r), m) == 0) apply_over(m, st, uid, gid, host_uid, host_gid);
}

// The metadata of the file open as `fd` over `st` (a stat or statx), owners mapped.
template <class Stat, class Uid, class Gid>
void overlay_fd(FsState& s, int fd, Stat& st, Uid& uid, Gid& gid) {
  if (s.host_root) return;
  fsmeta::Metadata m;
  std::uint32_t host_uid = uid, host_gid = gid;
  map_identity(s, uid, gid);
  if (s.store.read(fd, m) == 0) apply_over(m, st, uid, gid, host_uid, host_gid);
}

// Writes `st` to guest address `buf`: value 0, or the errno of the write.
template <class T>
SyscallResult put_result(SyscallContext& c, std::uint64_t buf, const T& st) {
  if (int e = c.write(buf, st); e != 0) return fail(e);
  return SyscallResult::value(0);
}

// fstat(2) of guest fd `gfd` into guest buffer `buf`.
SyscallResult fstat_fd(FsState& s, SyscallContext& c, int gfd, std::uint64_t buf) {
  UniqueFd fd = guest_fd(c, gfd);
  if (!fd) return fail(errno == ENOENT ? EBADF : errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return fail(errno);
  overlay_fd(s, fd.get(), st, st.st_uid, st.st_gid);
  return put_result(c, buf, st);
}

// Implements stat(2), lstat(2), newfstatat(2): path argument `path_arg`, buffer `buf`.
SyscallResult stat_path(FsState& s, SyscallContext& c, int dirfd, int path_arg, std::uint64_t buf, int flags) {
  std::string path;
  if (int e = c.path(path_arg, path); e != 0) return fail(e);
  if ((flags & AT_EMPTY_PATH) && path.empty()) return fstat_fd(s, c, dirfd, buf);
  Resolved r;
  if (int e = resolve(s, c, dirfd, path, follow_unless(flags), r); e != 0) return fail(e);
  if (!r.exists) return fail(ENOENT);
  struct stat st;
  if (r.have_stat && !r.name.empty()) st = r.st;
  else if (fstatat(r.parent.get(), r.name.c_str(), &st, r.name.empty() ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW) != 0)
    return fail(errno);
  if (!S_ISLNK(st.st_mode) && !s.host_root) overlay_at(s, r, st, st.st_uid, st.st_gid);
  return put_result(c, buf, st);
}

// Implements access(2), faccessat(2), faccessat2(2).
SyscallResult access_path(FsState& s, SyscallContext& c, int dirfd, int path_arg, int mode, int flags) {
  // As the kernel, before any lookup.
  if ((flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) || (mode & ~S_IRWXO)) return fail(EINVAL);
  Resolved r;
  if (int e = resolve_arg(s, c, dirfd, path_arg, follow_unless(flags), r); e != 0) return fail(e);
  if (!r.exists) return fail(ENOENT);
  if ((mode & W_OK) && r.read_only) return fail(EROFS);
  // Acting as the guest thread, this thread already has the ids the check is made with (its real
  // ones where the guest asked for those): the kernel must not put this thread's real ids in.
  int f = (ActingAs::active() ? AT_EACCESS : (flags & AT_EACCESS)) | (r.name.empty() ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW);
  if (faccessat(r.parent.get(), r.name.c_str(), mode, f) != 0) return fail(errno);
  return SyscallResult::value(0);
}

// Implements utimensat(2) on a path (and utime, utimes, futimesat through it).
SyscallResult utimens_path(FsState& s, SyscallContext& c, int dirfd, int path_arg, const struct timespec* times,
                           int flags) {
  return at_op(s, c, dirfd, path_arg, follow_unless(flags), [&](const Resolved& r) {
    return utimensat(r.parent.get(), at_name(r), times, AT_SYMLINK_NOFOLLOW);
  });
}

// Implements utimes(2)/futimesat(2): struct timeval[2] at `tv_addr` → timespec.
SyscallResult utimes_path(FsState& s, SyscallContext& c, int dirfd, int path_arg, std::uint64_t tv_addr) {
  struct timespec ts[2];
  const struct timespec* times = nullptr;
  if (tv_addr) {
    struct timeval tv[2];
    if (int e = c.read_memory(tv_addr, tv, sizeof tv); e != 0) return fail(e);
    for (int i = 0; i < 2; ++i) ts[i] = {tv[i].tv_sec, tv[i].tv_usec * 1000};
    times = ts;
  }
  return utimens_path(s, c, dirfd, path_arg, times, 0);
}

// statx(2) of guest fd `gfd` (AT_EMPTY_PATH with an empty path).
SyscallResult statx_fd(FsState& s, SyscallContext& c, int gfd, int flags) {
  UniqueFd fd = guest_fd(c, gfd);
  if (!fd) return fail(EBADF);
  struct statx stx;
  if (::statx(fd.get(), "", AT_EMPTY_PATH | (flags & AT_STATX_SYNC_TYPE), static_cast<unsigned>(c.uint_arg(3)), &stx) != 0)
    return fail(errno);
  overlay_fd(s, fd.get(), stx, stx.stx_uid, stx.stx_gid);
  return put_result(c, c.ptr(4), stx);
}

}  // namespace

SyscallResult handle_stat(FsState& s, SyscallContext& c) { return stat_path(s, c, AT_FDCWD, 0, c.ptr(1), 0); }

SyscallResult handle_lstat(FsState& s, SyscallContext& c) {
  return stat_path(s, c, AT_FDCWD, 0, c.ptr(1), AT_SYMLINK_NOFOLLOW);
}

SyscallResult handle_newfstatat(FsState& s, SyscallContext& c) {
  int flags = c.flags(3);
  // As the kernel's vfs_statx, before anything.
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE)) return fail(EINVAL);
  return stat_path(s, c, c.fd(0), 1, c.ptr(2), flags);
}

SyscallResult handle_fstat(FsState& s, SyscallContext& c) { return fstat_fd(s, c, c.fd(0), c.ptr(1)); }

SyscallResult handle_statx(FsState& s, SyscallContext& c) {
  int flags = c.flags(2);
  // As the kernel, before anything: unknown flags, or both sync types at once.
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE)) ||
      (flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE)
    return fail(EINVAL);
  std::string path;
  if (int e = c.path(1, path); e != 0) return fail(e);
  if ((flags & AT_EMPTY_PATH) && path.empty()) return statx_fd(s, c, c.fd(0), flags);
  Resolved r;
  if (int e = resolve(s, c, c.fd(0), path, follow_unless(flags), r); e != 0) return fail(e);
  if (!r.exists) return fail(ENOENT);
  struct statx stx;
  int sflags = (flags & AT_STATX_SYNC_TYPE) | (r.name.empty() ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW);
  if (::statx(r.parent.get(), r.name.c_str(), sflags, static_cast<unsigned>(c.uint_arg(3)), &stx) != 0) return fail(errno);
  if (!S_ISLNK(stx.stx_mode) && !s.host_root) overlay_at(s, r, stx, stx.stx_uid, stx.stx_gid);
  return put_result(c, c.ptr(4), stx);
}

SyscallResult handle_access(FsState& s, SyscallContext& c) { return access_path(s, c, AT_FDCWD, 0, c.flags(1), 0); }

SyscallResult handle_faccessat(FsState& s, SyscallContext& c) { return access_path(s, c, c.fd(0), 1, c.flags(2), 0); }

SyscallResult handle_faccessat2(FsState& s, SyscallContext& c) {
  return access_path(s, c, c.fd(0), 1, c.flags(2), c.flags(3));
}

SyscallResult handle_statfs(FsState& s, SyscallContext& c) {
  Resolved r;
  if (int e = resolve_arg(s, c, AT_FDCWD, 0, Follow::kYes, r); e != 0) return fail(e);
  UniqueFd fd = open_entry(r, O_PATH);
  if (!fd) return fail(errno);
  struct statfs st;
  if (fstatfs(fd.get(), &st) != 0) return fail(errno);
  return put_result(c, c.ptr(1), st);
}

namespace {

// RLIMIT_FSIZE of guest process `pid`: prlimit, else its /proc/<pid>/limits (prlimit of a
// process of another uid needs CAP_SYS_RESOURCE, which root lacks on some hosts, and the
// limits file is world-readable).
void guest_fsize_limit(pid_t pid, rlimit& out) {
  if (prlimit(pid, RLIMIT_FSIZE, nullptr, &out) == 0) return;
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/limits").c_str(), "re");
  if (!f) return;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "Max file size", 13) != 0) continue;
    char soft[32] = "", hard[32] = "";
    if (std::sscanf(line + 13, "%31s %31s", soft, hard) == 2) {
      auto value = [](const char* v) { return std::strcmp(v, "unlimited") == 0 ? RLIM_INFINITY : std::strtoull(v, nullptr, 10); };
      out.rlim_cur = value(soft);
      out.rlim_max = value(hard);
    }
    break;
  }
  std::fclose(f);
}

}  // namespace

SyscallResult handle_truncate(FsState& s, SyscallContext& c) {
  // The guest's RLIMIT_FSIZE, not this process's: past it, EFBIG and SIGXFSZ to the caller, as
  // the kernel does (after the lookup and the permission check, which may fail first).
  off_t length = c.int_arg<off_t>(1);
  rlimit fsize{RLIM_INFINITY, RLIM_INFINITY};
  guest_fsize_limit(c.pid(), fsize);
  bool too_big = fsize.rlim_cur != RLIM_INFINITY && length > 0 && static_cast<rlim_t>(length) > fsize.rlim_cur;
  return at_op(s, c, AT_FDCWD, 0, Follow::kYes, [&](const Resolved& r) {
    UniqueFd fd = open_entry(r, O_WRONLY | O_NOFOLLOW);  // EISDIR, EACCES... first
    if (!fd) return -1;
    struct stat st;
    if (fstat(fd.get(), &st) == 0 && runs_program(s, st)) return errno = ETXTBSY, -1;
    if (too_big) {
      tgkill(c.pid(), c.tid(), SIGXFSZ);
      return errno = EFBIG, -1;
    }
    return ftruncate(fd.get(), length);
  });
}

SyscallResult handle_utimensat(FsState& s, SyscallContext& c) {
  struct timespec ts[2];
  const struct timespec* times = nullptr;
  if (c.ptr(2)) {
    if (int e = c.read_memory(c.ptr(2), ts, sizeof ts); e != 0) return fail(e);
    times = ts;
  }
  if (c.arg(1) == 0) return SyscallResult::continue_native();  // futimens(fd): the fd is a host fd
  if (c.flags(3) & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return fail(EINVAL);
  return utimens_path(s, c, c.fd(0), 1, times, c.flags(3));
}

SyscallResult handle_utimes(FsState& s, SyscallContext& c) { return utimes_path(s, c, AT_FDCWD, 0, c.ptr(1)); }

SyscallResult handle_futimesat(FsState& s, SyscallContext& c) { return utimes_path(s, c, c.fd(0), 1, c.ptr(2)); }

SyscallResult handle_utime(FsState& s, SyscallContext& c) {
  struct timespec ts[2];
  const struct timespec* times = nullptr;
  if (c.ptr(1)) {
    struct {
      std::int64_t actime, modtime;
    } ub;
    if (int e = c.read(c.ptr(1), ub); e != 0) return fail(e);
    ts[0] = {ub.actime, 0};
    ts[1] = {ub.modtime, 0};
    times = ts;
  }
  return utimens_path(s, c, AT_FDCWD, 0, times, 0);
}

}  // namespace lx::fs
