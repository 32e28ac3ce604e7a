// The fs family's open and create calls: open(2), creat(2), openat(2), openat2(2). The file is
// opened on behalf of the guest, in its namespace, and installed into it with ADDFD; /dev/tty,
// O_PATH and /proc/<pid>/cmdline get the special cases native Linux would show.
#include <dirent.h>
#include <linux/capability.h>
#include <linux/kcmp.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/syscall.h>

#include <lxhost/syscall_table.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "base/proc_status.h"
#include "handlers.h"

namespace lx::fs {
namespace {

bool writes(int flags) { return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)); }

unsigned cloexec_of(int flags) { return static_cast<unsigned>(flags) & O_CLOEXEC; }

// Whether guest process `c.pid()` has one thread and shares its memory and its fd table with no
// other member.
bool sole_user_of_memory(const FsState& s, SyscallContext& c) {
  auto status = ProcStatus::read(c.pid());
  if (!status || status->threads() != 1) return false;
  for (pid_t o : s.members())
    if (o != c.pid() && (syscall(sdk::sys::kcmp, c.pid(), o, KCMP_VM, 0, 0) == 0 ||
                         syscall(sdk::sys::kcmp, c.pid(), o, KCMP_FILES, 0, 0) == 0))
      return false;
  return true;
}

// On the TRACE route (open and openat with O_PATH): the guest's call becomes
// openat(AT_FDCWD, HOST, its flags) of the resolved entry's host path, so that the guest opens
// the O_PATH file itself, with its own credentials. Between the resolution and the kernel's walk
// the guest could swap a symlink into that path, or (from another process, with
// process_vm_writev) rewrite the pushed path: the call's result is checked at its exit, and an fd
// of any other object than the one resolved ends the thread before it can use it (with its fd
// table its own, which the caller checked). nullopt: not possible here.
std::optional<SyscallResult> open_path_natively(SyscallContext& c, const Resolved& r, int flags) {
  UniqueFd entry = open_entry(r, O_PATH | O_NOFOLLOW);
  struct stat want;
  std::string host;
  if (!entry || fstat(entry.get(), &want) != 0 || host_path_of_fd(entry.get(), host) != 0 || host.empty() ||
      host[0] != '/' || host.size() >= PATH_MAX)
    return std::nullopt;
  std::uint64_t top = c.scratch_top();
  std::uint64_t path_p = c.push(&top, host);
  if (!path_p) return std::nullopt;
  bool checked = c.check_return([dev = want.st_dev, ino = want.st_ino](pid_t tid, long ret) {
    if (ret < 0) return true;  // an error is the guest's answer; no fd was made
    UniqueFd pidfd(static_cast<int>(syscall(sdk::sys::pidfd_open, tid, 0)));
    UniqueFd got(pidfd ? static_cast<int>(syscall(sdk::sys::pidfd_getfd, pidfd.get(), static_cast<int>(ret), 0)) : -1);
    struct stat st;
    return got && fstat(got.get(), &st) == 0 && st.st_dev == dev && st.st_ino == ino;
  });
  if (!checked) return std::nullopt;
  c.set_nr(sdk::sys::openat);
  c.set_arg(0, static_cast<std::uint64_t>(static_cast<std::int64_t>(AT_FDCWD)));
  c.set_arg(1, path_p);
  c.set_arg(2, static_cast<std::uint64_t>(flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)));
  c.set_arg(3, 0);
  return SyscallResult::rewritten();
}

// Implements open(2) with O_PATH. On the TRACE route the guest opens it itself (above). The
// kernel installs no O_PATH file in another process (ADDFD refuses it), so on the NOTIFY route
// (openat2, or a guest whose memory is shared) a directory or regular file the guest may read is
// given to it opened for reading, the same object. Anything else runs natively, with the host's
// root only and only when no other thread or process shares the guest's memory (none could
// rewrite the path between the resolution and the kernel's); otherwise EBADF, what the kernel
// says to ADDFD.
SyscallResult open_path(const FsState& s, SyscallContext& c, const Resolved& r, int flags) {
  if (c.can_rewrite() && !r.magic && sole_user_of_memory(s, c))
    if (std::optional<SyscallResult> res = open_path_natively(c, r, flags)) return *res;
  UniqueFd p = open_entry(r, O_PATH | (flags & O_DIRECTORY) | (r.magic ? 0 : O_NOFOLLOW));
  if (!p) return fail(errno);
  struct stat st;
  if (fstat(p.get(), &st) != 0) return fail(errno);
  if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
    UniqueFd fd(::open(("/proc/self/fd/" + std::to_string(p.get())).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (fd) return c.install_fd(fd.get(), cloexec_of(flags));
  }
  if (s.host_root && sole_user_of_memory(s, c)) return SyscallResult::continue_native();
  return fail(EBADF);
}

// The controlling terminal of guest process `pid` (tty_nr of /proc/<pid>/stat); nullopt: none.
std::optional<dev_t> controlling_tty(pid_t pid) {
  UniqueFd f(::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
  char buf[1024];
  ssize_t n = f ? read(f.get(), buf, sizeof buf - 1) : -1;
  if (n <= 0) return std::nullopt;
  std::string stat(buf, static_cast<std::size_t>(n));
  // Fields after the command's closing parenthesis: state ppid pgrp session tty_nr.
  std::size_t at = stat.rfind(')');
  unsigned long tty_nr = 0;
  if (at == std::string::npos || std::sscanf(stat.c_str() + at + 1, " %*c %*d %*d %*d %lu", &tty_nr) != 1 || tty_nr == 0)
    return std::nullopt;
  return makedev((tty_nr >> 8) & 0xfff, (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00));
}

// Implements open(2) of /dev/tty, which means the caller's controlling terminal: the guest's,
// found among its open files (or as /dev/pts/N), reopened; ENXIO when it has none.
SyscallResult open_tty(SyscallContext& c, int flags) {
  std::optional<dev_t> tty = controlling_tty(c.pid());
  if (!tty) return fail(ENXIO);
  dev_t dev = *tty;
  int host_flags = ((flags | O_CLOEXEC | O_NOCTTY) & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW | O_DIRECTORY));
  auto try_open = [&](const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != dev) return UniqueFd();
    return UniqueFd(::open(path.c_str(), host_flags));
  };
  UniqueFd fd;
  errno = 0;
  for (int i = 0; i < 3 && !fd; ++i) {
    ActingAs::AsLx lx;  // the guest's own fds
    fd = try_open("/proc/" + std::to_string(c.pid()) + "/fd/" + std::to_string(i));
  }
  if (!fd && major(dev) >= 136 && major(dev) <= 143)
    fd = try_open("/dev/pts/" + std::to_string((major(dev) - 136) * 256 + minor(dev)));
  if (!fd && major(dev) == 4) fd = try_open("/dev/tty" + std::to_string(minor(dev)));
  if (!fd) return fail(errno ? errno : ENXIO);
  return c.install_fd(fd.get(), cloexec_of(flags));
}

// Whether `guest` is /proc/<pid>/cmdline or /proc/<pid>/task/<tid>/cmdline.
bool is_proc_cmdline(const std::string& guest) {
  static const std::regex re("^/proc/[0-9]+(/task/[0-9]+)?/cmdline$");
  return std::regex_match(guest, re);
}

// Opens /proc/<pid>/cmdline as the guest would see it natively: a program the proc family runs
// through its ELF interpreter shows its own command line, not the interpreter's (ps, pgrep).
// nullopt: nothing to change, open the real file.
std::optional<SyscallResult> open_cmdline(SyscallContext& c, const Resolved& r, int flags) {
  // O_NONBLOCK: a FIFO swapped in since the resolution must not hold this worker; only a regular
  // file is read (procfs's are), and not past what an exec's arguments can be.
  UniqueFd real(openat(r.parent.get(), r.name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!real || fstat(real.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::string raw;
  char buf[4096];
  constexpr std::size_t kMax = 8u << 20;
  for (ssize_t n; raw.size() <= kMax && (n = read(real.get(), buf, sizeof buf)) > 0;)
    raw.append(buf, static_cast<std::size_t>(n));
  if (raw.size() > kMax) return std::nullopt;
  std::string fixed = sdk::native_cmdline(raw);
  if (fixed == raw) return std::nullopt;
  UniqueFd mem(memfd_create("cmdline", MFD_CLOEXEC));
  if (!mem) return std::nullopt;
  if (write(mem.get(), fixed.data(), fixed.size()) != static_cast<ssize_t>(fixed.size()) ||
      lseek(mem.get(), 0, SEEK_SET) != 0)
    return std::nullopt;
  return c.install_fd(mem.get(), cloexec_of(flags));
}

// A program a guest process runs is write-denied natively (ETXTBSY), which one run through its ELF
// interpreter is not: 0, or ETXTBSY after the permission check the kernel makes first.
int busy_text(const FsState& s, const Resolved& r) {
  struct stat st;
  if (!s.programs) return 0;
  if (r.have_stat) st = r.st;
  else if (fstatat(r.parent.get(), at_name(r), &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  if (!runs_program(s, st)) return 0;
  if (faccessat(r.parent.get(), at_name(r), W_OK, AT_EACCESS | AT_SYMLINK_NOFOLLOW) != 0) return errno;
  return ETXTBSY;
}

// Opening a FIFO waits for its other end, which the guest may be about to open: says so.
void warn_if_fifo(SyscallContext& c, const Resolved& r) {
  struct stat st;
  bool fifo = r.have_stat && !r.name.empty()
                  ? S_ISFIFO(r.st.st_mode)
                  : fstatat(r.parent.get(), r.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISFIFO(st.st_mode);
  if (fifo) c.will_block();
}

// Opens the resolved entry with `host_flags` (the guest's, O_CLOEXEC and O_NOCTTY) such that no
// symlink raced in at its last component is followed, yet the file description has exactly the
// guest's flags (F_GETFL shows O_NOFOLLOW only when the guest asked for it): openat2's
// RESOLVE_NO_SYMLINKS refuses the symlink (ELOOP) and is no file flag. openat2 refuses what
// openat ignores, so only the flags open knows and the permission bits of `mode` go to it.
UniqueFd open_exact(const Resolved& r, int host_flags, mode_t mode) {
  constexpr int kOpenFlags = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC |
                             O_SYNC | FASYNC | O_DIRECT | 0100000 /* the kernel's O_LARGEFILE */ | O_DIRECTORY |
                             O_NOATIME | O_CLOEXEC;
  open_how how{};
  how.flags = static_cast<std::uint64_t>(host_flags & kOpenFlags);
  how.mode = (host_flags & O_CREAT) ? (mode & 07777) : 0;
  how.resolve = RESOLVE_NO_SYMLINKS;
  return UniqueFd(static_cast<int>(syscall(sdk::sys::openat2, r.parent.get(), at_name(r), &how, sizeof how)));
}

// Whether a process of the instance holds the multiplexer side (an fd of /dev/ptmx) of pty
// `index` now: its fdinfo says "tty-index". An index the instance made once and closed is
// another session's when the host reuses it.
bool instance_holds_pty(const FsState& s, unsigned index) {
  const std::string want = "tty-index:\t" + std::to_string(index) + "\n";
  for (pid_t pid : s.members()) {
    std::string base = "/proc/" + std::to_string(pid);
    DIR* d = opendir((base + "/fd").c_str());
    if (!d) continue;
    bool found = false;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char link[64];
      ssize_t n = readlink((base + "/fd/" + e->d_name).c_str(), link, sizeof link - 1);
      if (n <= 0 || std::string_view(link, static_cast<std::size_t>(n)).find("ptmx") == std::string_view::npos) continue;
      UniqueFd info(::open((base + "/fdinfo/" + e->d_name).c_str(), O_RDONLY | O_CLOEXEC));
      char buf[512];
      ssize_t m = info ? read(info.get(), buf, sizeof buf - 1) : -1;
      if (m > 0 && std::string_view(buf, static_cast<std::size_t>(m)).find(want) != std::string_view::npos) found = true;
      if (found) break;
    }
    closedir(d);
    if (found) return true;
  }
  return false;
}

// Whether `st` is a device a guest of an lx that runs as root must not open (for process `pid`):
// a guest of a privileged lx holds the host's file capabilities, and the instance's /dev is the
// host's (the default mounts), disks, consoles and other sessions' ptys included. Only the
// devices a container has open (runc's default rules): null, zero, full, random, urandom, tty,
// ptmx, and of the pty slaves those whose other side a process of the instance holds, and the
// caller's controlling terminal.
bool refused_device(const FsState& s, const struct stat& st, pid_t pid) {
  if (!s.own_creds.has(CAP_DAC_OVERRIDE)) return false;
  if (S_ISBLK(st.st_mode)) return true;
  if (!S_ISCHR(st.st_mode)) return false;
  unsigned maj = major(st.st_rdev), min = minor(st.st_rdev);
  if (maj == 1) return !(min == 3 || min == 5 || min == 7 || min == 8 || min == 9);
  if (maj == 5) return min != 0 && min != 2;
  if (maj < 136 || maj > 143) return true;  // 136-143: the Unix98 pty slaves
  return controlling_tty(pid) != st.st_rdev && !instance_holds_pty(s, (maj - 136) * 256 + min);
}

// Implements open(2), openat(2), openat2(2), creat(2) of path argument `path_arg`.
SyscallResult open_file(FsState& s, SyscallContext& c, int dirfd, int path_arg, int flags, mode_t mode,
                        std::uint64_t scope) {
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;  // the kernel ignores the rest
  bool nofollow = (flags & O_NOFOLLOW) || ((flags & O_CREAT) && (flags & O_EXCL));
  std::string path;
  if (int e = c.path(path_arg, path); e != 0) return fail(e);
  Resolved r;
  Follow follow = nofollow ? Follow::kNo : Follow::kYes;
  if (int e = scope ? s.root.resolve_scoped(c.tid(), dirfd, path, follow, scope, r) : resolve(s, c, dirfd, path, follow, r);
      e != 0)
    return fail(e);
  if (!r.exists && !(flags & O_CREAT)) return fail(ENOENT);
  if (!r.exists && !path.empty() && path.back() == '/') return fail(EISDIR);  // O_CREAT makes no directory
  if (r.read_only && writes(flags)) return fail(EROFS);
  if (r.exists && writes(flags) && !(flags & O_PATH))
    if (int e = busy_text(s, r); e != 0) return fail(e);
  if (!c.still_valid()) return fail(EINTR);
  if ((flags & O_PATH) && r.exists) return open_path(s, c, r, flags);
  int host_flags = (flags | O_CLOEXEC) & ~O_NOFOLLOW;
  if (!r.magic || nofollow) host_flags |= O_NOFOLLOW;  // resolved already: a symlink here is a race
  // Never this process's controlling terminal: the guest's own is set with TIOCSCTTY, natively.
  host_flags |= O_NOCTTY;
  if (r.exists && r.have_stat && refused_device(s, r.st, c.pid())) return fail(EPERM);
  if (r.exists && r.have_stat && S_ISCHR(r.st.st_mode) && r.st.st_rdev == makedev(5, 0)) return open_tty(c, flags);
  if (r.exists && r.have_stat && S_ISREG(r.st.st_mode) && r.name == "cmdline" && (flags & O_ACCMODE) == O_RDONLY &&
      is_proc_cmdline(r.guest_path))
    if (std::optional<SyscallResult> res = open_cmdline(c, r, flags)) return *res;
  if (r.exists && !(flags & O_NONBLOCK)) warn_if_fifo(c, r);
  // The guest's own O_NOFOLLOW, or a magic link: opened as asked. Else exactly as asked.
  bool as_asked = (flags & O_NOFOLLOW) || (r.magic && !nofollow) || (flags & O_TMPFILE) == O_TMPFILE;
  UniqueFd fd;
  {
    ActingAs::GuestPtrace exactly;  // the guest's own ptrace rights for /proc/<pid>/mem and friends
    fd = as_asked ? UniqueFd(openat(r.parent.get(), at_name(r), host_flags, mode)) : open_exact(r, host_flags, mode);
  }
  if (!fd) return fail(errno);
  // Checked before the open (opening some devices has effects: a watchdog starts) and after it,
  // for a device node renamed into the name meanwhile; EPERM as from a device cgroup.
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return fail(errno);
  if (refused_device(s, st, c.pid())) return fail(EPERM);
  if (writes(flags) && kernel_settings(fd.get())) return fail(EROFS);  // renamed into place meanwhile
  if (!r.exists) {
    apply_umask(s, c, fd.get(), mode);
    own_new(s, c, fd.get());
  }
  return c.install_fd(fd.get(), cloexec_of(flags));
}

}  // namespace

SyscallResult handle_open(FsState& s, SyscallContext& c) {
  return open_file(s, c, AT_FDCWD, 0, c.flags(1), c.flags<mode_t>(2), 0);
}

SyscallResult handle_creat(FsState& s, SyscallContext& c) {
  return open_file(s, c, AT_FDCWD, 0, O_CREAT | O_WRONLY | O_TRUNC, c.flags<mode_t>(1), 0);
}

SyscallResult handle_openat(FsState& s, SyscallContext& c) {
  return open_file(s, c, c.fd(0), 1, c.flags(2), c.flags<mode_t>(3), 0);
}

SyscallResult handle_openat2(FsState& s, SyscallContext& c) {
  open_how how{};
  std::uint64_t asked = c.uint_arg(3);
  // As copy_struct_from_user: smaller than the first version EINVAL, beyond a page E2BIG, and a
  // larger struct only with zeros past the fields known here.
  if (asked < 24) return fail(EINVAL);
  if (asked > 4096) return fail(E2BIG);
  std::size_t size = std::min<std::size_t>(asked, sizeof how);
  if (int e = c.read_memory(c.ptr(2), &how, size); e != 0) return fail(e);
  if (asked > sizeof how) {
    std::vector<unsigned char> rest(asked - sizeof how);
    if (int e = c.read_memory(c.ptr(2) + sizeof how, rest.data(), rest.size()); e != 0) return fail(e);
    for (unsigned char b : rest)
      if (b) return fail(E2BIG);
  }
  // As the kernel's build_open_how checks: unknown open or resolve flags, a mode without
  // O_CREAT/O_TMPFILE or with bits beyond S_IALLUGO, both RESOLVE_BENEATH and RESOLVE_IN_ROOT.
  constexpr std::uint64_t kResolve = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
                                     RESOLVE_IN_ROOT | RESOLVE_CACHED;
  constexpr std::uint64_t kOpenFlags = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK |
                                       O_DSYNC | FASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW |
                                       O_NOATIME | O_CLOEXEC | O_PATH | O_TMPFILE | O_SYNC;
  if ((how.flags & ~kOpenFlags) || (how.resolve & ~kResolve) || (how.mode & ~std::uint64_t{07777}) ||
      (how.mode && !(how.flags & O_CREAT) && (how.flags & O_TMPFILE) != O_TMPFILE) ||
      ((how.resolve & RESOLVE_BENEATH) && (how.resolve & RESOLVE_IN_ROOT)) || (how.flags & O_ACCMODE) == O_ACCMODE)
    return fail(EINVAL);
  return open_file(s, c, c.fd(0), 1, static_cast<int>(how.flags), static_cast<mode_t>(how.mode), how.resolve);
}

}  // namespace lx::fs
