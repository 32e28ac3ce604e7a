// The fs family's state, which every handler works on, and the helpers the topic files share:
// the guest root and its mounts, where ownership metadata is kept, what the config switched on,
// the instance's processes, and the proc family's interfaces (resolved once, in connect()).
// The handlers themselves are declared in handlers.h; the rows routing calls to them are in
// fs_table.cpp.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include <lxhost/interfaces.h>
#include <lxhost/plugin.h>

#include "base/pid_set.h"
#include "base/unique_fd.h"
#include "base/acting_as.h"
#include "fsmeta/metadata.h"
#include "guest_root.h"

namespace lx::fs {

/// The directories lx makes for the tmpfs mounts of guests (mount_calls.cpp): one scratch
/// directory, made at the first, removed with everything in it when the instance ends.
class TmpfsDirs {
 public:
  TmpfsDirs() = default;
  TmpfsDirs(const TmpfsDirs&) = delete;
  TmpfsDirs& operator=(const TmpfsDirs&) = delete;
  ~TmpfsDirs();
  /// A new empty directory of mode `mode`, as an O_PATH fd and its host path: 0 or errno.
  int make(mode_t mode, UniqueFd& fd, std::string& host);

 private:
  std::mutex mu_;
  std::string dir_;
  unsigned next_ = 0;
};

/// What the fs handlers work on.
struct FsState {
  GuestRoot root;                 ///< the guest's namespace
  fsmeta::MetadataStore store;    ///< emulated ownership, modes and device numbers
  bool translating = false;       ///< a guest root other than "/" or mounts (PathResolver offered)
  bool host_root = false;         ///< the host's root, resolved only for the instance's /proc
  bool proc_view = false;         ///< [fs] proc = "instance"
  mode_t own_umask = 022;         ///< this process's umask, which the host applies to what it creates
  sdk::Credentials* credentials = nullptr;  ///< the guest's fsuid/fsgid (proc family, fake root)
  sdk::IdentityMap* identity = nullptr;     ///< host owners as the guest sees them (fake root)
  sdk::ProgramNames* programs = nullptr;    ///< the program each guest process runs
  sdk::GuestCredentials* guest_creds = nullptr;  ///< each guest thread's credentials (proc family)
  OwnCredentials own_creds;                 ///< this process's, taken in configure()
  TmpfsDirs tmpfs;                          ///< the directories of the guests' tmpfs mounts

  /// Records that guest process or thread `tid` belongs to the instance; `launch`: a launch's
  /// first process, which is lx's own until its first exec (launched()).
  void add_member(pid_t tid, bool launch = false);
  /// Records that launch process `pid` has exec'd its program: from now on the guest's.
  void launched(pid_t pid);
  /// Records that `tid` is gone.
  void remove_member(pid_t tid);
  /// Whether process or thread `pid` belongs to the instance.
  bool member(pid_t pid) const;
  /// The instance's processes and threads, now.
  std::vector<pid_t> members() const;

 private:
  PidSet members_;
  // Launches not yet exec'd: lx's own processes with every capability and the instance's fds
  // (seccomp listeners included), no member to a guest meanwhile.
  PidSet launching_;
};

using sdk::fail;
using sdk::SyscallContext;
using sdk::SyscallResult;

/// The last component as a *at() name: "." for a directory level itself.
inline const char* at_name(const Resolved& r) { return r.name.empty() ? "." : r.name.c_str(); }
/// Follow::kNo when `flags` has `nofollow_bit` (AT_SYMLINK_NOFOLLOW by default).
inline Follow follow_unless(int flags, int nofollow_bit = AT_SYMLINK_NOFOLLOW) {
  return (flags & nofollow_bit) ? Follow::kNo : Follow::kYes;
}

/// Resolves guest path `path` of the calling thread relative to its fd `dirfd`; 0 or errno.
int resolve(FsState& s, SyscallContext& c, int dirfd, const std::string& path, Follow follow, Resolved& r);
/// Reads path argument `path_arg` and resolves it; 0 or errno.
int resolve_arg(FsState& s, SyscallContext& c, int dirfd, int path_arg, Follow follow, Resolved& r);

/// A writing call done with *at() on the resolved parent of path argument `path_arg`: EROFS in a
/// read-only mount, EINTR when the guest stopped waiting; `op` returns -1 with errno on failure.
template <class Op>
SyscallResult at_op(FsState& s, SyscallContext& c, int dirfd, int path_arg, Follow follow, Op op) {
  Resolved r;
  if (int e = resolve_arg(s, c, dirfd, path_arg, follow, r); e != 0) return fail(e);
  if (r.read_only) return fail(EROFS);
  if (!c.still_valid()) return fail(EINTR);
  if (op(r) != 0) return fail(errno);
  return SyscallResult::value(0);
}

/// An fd (O_PATH or `flags`) of the resolved entry itself, never of what a symlink swapped in
/// for it since the resolution points to (O_NOFOLLOW, but for /proc magic links).
UniqueFd open_entry(const Resolved& r, int flags);
/// The host fd behind guest fd `fd` (AT_FDCWD: the cwd), reopened as O_PATH.
UniqueFd guest_fd(SyscallContext& c, int fd);
/// Guest fd `gfd` itself (the same open file, sharing its offset), taken with pidfd_getfd.
UniqueFd take_fd(SyscallContext& c, int gfd);
/// Whether guest fd `gfd` is an O_PATH one (its fdinfo's flags), which the f* calls refuse (EBADF).
bool is_path_fd(SyscallContext& c, int gfd);
/// The host path of a resolved entry (opened with O_PATH | `extra_flags`): 0 or errno.
int host_path_of(const Resolved& r, int extra_flags, std::string& out);
/// The host path of this process's fd `fd`: 0 or errno.
int host_path_of_fd(int fd, std::string& out);
/// Whether the regular file `st` describes is the program a guest process runs (write-denied
/// natively: ETXTBSY).
bool runs_program(const FsState& s, const struct stat& st);

/// Files without metadata: owners as the proc family's identity shows them (fake root).
template <class U, class G>
void map_identity(const FsState& s, U& uid, G& gid) {
  if (!s.identity) return;
  uid = static_cast<U>(s.identity->guest_uid(uid));
  gid = static_cast<G>(s.identity->guest_gid(gid));
}

/// A file the guest just created (open as `fd`) is its emulated user's (fsuid/fsgid), kept as
/// metadata, when that user is not root (whose files the host user's own files already are).
void own_new(FsState& s, SyscallContext& c, int fd);
/// own_new() for the resolved entry the guest just created.
void own_new_at(FsState& s, SyscallContext& c, const Resolved& r);
/// A file created on behalf of the guest got this process's umask: gives it the guest's instead
/// (only the permission bits; what the directory passes on, such as setgid, stays).
void apply_umask(FsState& s, SyscallContext& c, int fd, mode_t requested);
/// The umask of guest thread `tid` (022 when unreadable).
mode_t guest_umask(pid_t tid);
/// Whether guest thread `tid` has capability `cap`: this thread acts with its credentials where
/// lx can (acting_as.h); under fake root with an unprivileged lx, the emulated root has them all.
bool guest_capable(const FsState& s, pid_t tid, int cap);

}  // namespace lx::fs
