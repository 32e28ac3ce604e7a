// Path resolution in the guest's namespace: a guest root directory plus bind mounts, walked one
// component at a time so that `..` never climbs above the guest root, absolute symlinks resolve
// against the guest root, mount points are crossed, and /proc/self means the guest.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "jails.h"

namespace lx::fs {

/// A bind mount: guest path → host directory, or host file (a container's /etc/hosts).
struct Mount {
  std::string guest;       ///< absolute, normalized guest path ("/dev")
  std::string host;        ///< host directory or file
  bool read_only = false;  ///< writes fail with EROFS
  UniqueFd fd;             ///< O_PATH fd of the host directory (of a file's directory)
  bool file = false;       ///< the host side is not a directory: `fd` holds it as `file_name`
  std::string file_name;   ///< the host file's name in `fd`
};

/// Where a guest path lands: a host directory fd and the name in it (empty for the directory
/// itself), plus what the caller needs to check and report.
struct Resolved {
  UniqueFd parent;         ///< O_PATH fd of the directory holding `name`
  std::string name;        ///< last component ("" when the path is a directory root such as "/")
  std::string guest_path;  ///< the resolved guest path (symlinks followed as asked)
  bool read_only = false;  ///< inside a read-only mount
  bool exists = true;      ///< `name` exists in `parent`
  bool magic = false;      ///< a /proc magic link to a non-path object (pipe, socket): open it as is
  bool have_stat = false;  ///< `st` holds fstatat(parent, name, AT_SYMLINK_NOFOLLOW)
  struct stat st {};       ///< valid when have_stat
  std::string link;        ///< /proc/self or /proc/thread-self not followed: its target for the guest
  bool mount_point = false;  ///< a file bind mount's point: it cannot be removed or renamed (EBUSY)
};

/// The mounts at one moment: a resolution keeps the list it started with, while mount(2) and
/// umount2(2) of a guest put a new one in place. The last mount at a guest path is on top.
using MountList = std::vector<std::shared_ptr<const Mount>>;

/// Whether a pid or tid belongs to the guest's instance (what its /proc may show).
using Membership = std::function<bool(pid_t)>;

/// How the last component is treated.
enum class Follow { kYes, kNo };

/// The guest root and its mounts.
class GuestRoot {
 public:
  /// Opens `root` and the mounts; "" on success, else the reason.
  std::string open(const std::string& root, std::vector<Mount> mounts);

  /// The host path of the guest root.
  const std::string& root() const noexcept { return root_; }

  /// Hides /proc/<pid> (any procfs mount, wherever it is reached) of every pid for which
  /// `member` is false: resolving it gives ENOENT. Empty: every pid shows.
  void set_membership(Membership member) { member_ = std::move(member); }

  /// Resolves `path` for guest thread `tid` relative to guest directory fd `dirfd` (AT_FDCWD for
  /// the cwd). Returns 0 and fills `out`, or a positive errno. Paths with no symlink and no mount
  /// on the way take one openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS); the others are walked.
  int resolve(pid_t tid, int dirfd, const std::string& path, Follow follow, Resolved& out) const;
  /// resolve() with openat2's RESOLVE_NO_XDEV, NO_MAGICLINKS, NO_SYMLINKS, BENEATH and IN_ROOT
  /// (`scope`, other bits ignored) applied on top of the guest root's own rules, as the kernel
  /// applies them from `dirfd`: EXDEV, ELOOP, or "/" and ".." kept at `dirfd` for IN_ROOT.
  int resolve_scoped(pid_t tid, int dirfd, const std::string& path, Follow follow, std::uint64_t scope,
                     Resolved& out) const;

  /// The guest path of host path `host`, or "" when it is outside the root and every mount.
  std::string to_guest(const std::string& host) const;
  /// Guest path `guest` as thread `tid` names it: below its jail when it has one (jails.h).
  std::string view(pid_t tid, const std::string& guest, bool* reachable = nullptr) const {
    return view_from(jails_.of(tid).get(), guest, reachable);
  }
  /// Mounts `m` (its host side opened as `fd`, `file` and `file_name` set) on top of what is at
  /// `m.guest` (absolute, normalized), as a guest's mount(2): for every process of the instance.
  void add_mount(Mount m);
  /// Removes the top mount at guest path `guest`: false when none is there.
  bool remove_mount(const std::string& guest);
  /// Makes the top mount at `guest` read-only or not: false when none is there.
  bool set_read_only(const std::string& guest, bool read_only);
  /// The mounts now.
  std::shared_ptr<const MountList> mounts() const { return mounts_.load(); }
  /// The top mount at guest path `guest` in `list`, or null.
  static const Mount* mount_at(const MountList& list, const std::string& guest);

  /// Each process's own root (chroot).
  JailTable& jails() noexcept { return jails_; }
  const JailTable& jails() const noexcept { return jails_; }
  /// The host path of guest directory fd `fd` of `tid` (or its cwd for AT_FDCWD), as a guest path.
  int guest_path_of_fd(pid_t tid, int fd, std::string& out) const;

 private:
  struct Walk;  // one walk of a path, component by component (guest_root.cpp)
  int walk(pid_t tid, std::string path, Follow follow, Resolved& out, std::shared_ptr<const Jail> jail) const;
  int fast(const std::string& path, Follow follow, Resolved& out) const;

  std::string root_;
  Membership member_;
  std::atomic<bool> host_root_ = false;  // root_ is "/" with no mounts: the fast path may cross mounts
  UniqueFd root_fd_;
  std::atomic<std::shared_ptr<const MountList>> mounts_ = std::make_shared<const MountList>();
  std::mutex change_mu_;  // one change of mounts_ at a time
  JailTable jails_;
};

/// readlinkat(2) into `out`: 0 or errno.
int read_link(int dirfd, const char* name, std::string& out);
/// `a/b` with exactly one slash between them.
std::string join_path(const std::string& a, const std::string& b);
/// The components of `path` (empty ones dropped).
std::deque<std::string> split_path(const std::string& path);
/// Whether fd `fd` is on a procfs.
bool is_procfs(int fd);

/// Whether the directory or file open at `fd` is among the kernel's settings that a guest of an
/// lx that runs as root must not change, as in a container (runc makes /proc/sys and /sys
/// read-only): they check uid 0 and no capability (core_pattern, binfmt_misc and a cgroup's
/// release_agent run a program as the host's root; sysrq-trigger). Procfs outside /proc/<pid>,
/// sysfs, the cgroup filesystems, debugfs, tracefs, securityfs, binfmt_misc, bpffs, efivarfs,
/// pstore, configfs, fusectl. A walk marks what it finds there read-only.
bool kernel_settings(int fd);

}  // namespace lx::fs
