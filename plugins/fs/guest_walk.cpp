// GuestRoot's walk: a path taken one component at a time, so that `..` never climbs above the
// guest root (nor above a process's own root, after chroot), absolute symlinks resolve against
// the root of the walking process, mount points are crossed, and /proc shows the instance.
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <lxhost/syscall_table.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <sys/syscall.h>

#include "base/proc_status.h"
#include "fs_state.h"
#include "guest_root.h"

namespace lx::fs {
namespace {

constexpr int kMaxSymlinks = 40;


// A directory level of the walk: its fd, its guest path, whether it is read-only, and where it
// lies in procfs.
struct Level {
  UniqueFd fd;
  std::string guest;
  bool read_only;
  dev_t dev = 0;
  bool procfs = false;     // a directory of a procfs mount
  bool proc_root = false;  // the root of a procfs mount (where the pids are)
};

constexpr ino_t kProcRootIno = 1;

// Fills the procfs fields of `level`, whose directory `st` describes; `parent` is the level it
// was reached from (nullptr for the root and mount levels): a filesystem type is asked only when
// the device changes.
void classify(Level& level, const struct stat& st, const Level* parent) {
  level.dev = st.st_dev;
  level.procfs = parent && parent->dev == st.st_dev ? parent->procfs : is_procfs(level.fd.get());
  level.proc_root = level.procfs && st.st_ino == kProcRootIno;
}

// The pid a /proc entry names: -1 when the name is not a number, 0 for a number no pid has.
pid_t pid_name(const std::string& name) {
  if (name.empty()) return -1;
  for (char ch : name)
    if (ch < '0' || ch > '9') return -1;
  if (name.size() > 10) return 0;
  long long v = std::atoll(name.c_str());
  return v > 0x7fffffff ? 0 : static_cast<pid_t>(v);
}

// The thread group of `tid`, from /proc/<tid>/status (`tid` when unreadable).
pid_t thread_group(pid_t tid) {
  auto status = ProcStatus::read(tid);
  return status ? status->tgid().value_or(tid) : tid;
}

}  // namespace

// One walk of a path (GuestRoot::walk): the directory levels reached, the components still to
// walk, and the result being filled. step() and the helpers return 0 (done: `out` is filled),
// an errno, or kMore (walk on).
struct GuestRoot::Walk {
  static constexpr int kMore = -1;

  const GuestRoot& g;
  pid_t tid;
  Follow follow;
  Resolved& out;
  std::vector<Level> levels = {};
  std::deque<std::string> pending = {};
  bool trailing_slash = false;
  int links = 0;
  pid_t tgid = 0;  // read only when /proc/self needs it
  // openat2's RESOLVE_* flags (GuestRoot::resolve_scoped), on top of the guest root's own rules:
  std::uint64_t scope = 0;     // the flags
  std::size_t base_left = 0;   // components of the starting directory still to walk
  std::size_t floor = 1;       // levels BENEATH may not leave and IN_ROOT takes as its root
  std::uint64_t start_mnt = 0; // the mount the walk starts in (NO_XDEV)
  std::shared_ptr<const Jail> jail = nullptr;  // the walking process's own root (chroot), if any
  std::shared_ptr<const MountList> mounts = g.mounts();  // as they were when the walk began
  bool to_true_root = false;   // an absolute magic link: it leads from the guest root, not the jail

  static std::uint64_t mount_id(int fd, const char* name = "") {
    struct statx sx{};
    int flags = (*name ? 0 : AT_EMPTY_PATH) | AT_SYMLINK_NOFOLLOW;
    return statx(fd, name, flags, STATX_MNT_ID, &sx) == 0 ? sx.stx_mnt_id : 0;
  }
  // EXDEV when NO_XDEV and the walk is on another mount than it started in.
  int crossed(int fd, const char* name = "") const {
    return (scope & RESOLVE_NO_XDEV) && base_left == 0 && mount_id(fd, name) != start_mnt ? EXDEV : 0;
  }
  // A symlink to follow (its target absolute or not, magic or not): 0 or the scope's errno.
  int may_take_link(bool absolute, bool magic) const {
    if (base_left > 0) return 0;
    if (scope & RESOLVE_NO_SYMLINKS) return ELOOP;
    if (magic && (scope & RESOLVE_NO_MAGICLINKS)) return ELOOP;
    if ((magic || absolute) && (scope & RESOLVE_BENEATH)) return EXDEV;
    if (magic && (scope & RESOLVE_IN_ROOT)) return EXDEV;
    return 0;
  }

  static UniqueFd dup_fd(int fd) { return UniqueFd(fcntl(fd, F_DUPFD_CLOEXEC, 0)); }

  // A level for a directory fd reached without a stat (the root, a mount).
  void push_level(int fd, const std::string& guest, bool read_only) {
    Level l{dup_fd(fd), guest, read_only};
    struct stat st;
    if (l.fd && fstat(l.fd.get(), &st) == 0) classify(l, st, nullptr);
    levels.push_back(std::move(l));
  }

  // Back to the walking process's root: its jail, or the guest root (`guest_root`: always).
  void reset_to_root(bool guest_root = false) {
    levels.clear();
    if (jail && !guest_root) push_level(jail->fd.get(), jail->guest, jail->read_only);
    else if (const Mount* m = g.mount_at(*mounts, "/"); m && !m->file) push_level(m->fd.get(), "/", m->read_only);
    else push_level(g.root_fd_.get(), "/", false);
  }

  // The result: entry `name` (guest path `guest`) of the current level.
  int land(const std::string& name, const std::string& guest) {
    const Level& dir = levels.back();
    out.parent = dup_fd(dir.fd.get());
    out.name = name;
    out.guest_path = guest;
    out.read_only = dir.read_only;
    return 0;
  }

  // Component `c` of a procfs root: /proc/self and /proc/thread-self mean the guest, not this
  // plugin's process, and any process outside the instance does not exist. 0 or ENOENT.
  int proc_component(std::string& c) {
    if (c == "self" || c == "thread-self") {
      bool followed = !(pending.empty() && follow == Follow::kNo && !trailing_slash);
      if (followed && base_left == 0 && (scope & RESOLVE_NO_SYMLINKS)) return ELOOP;  // a plain symlink
      if (tgid == 0) tgid = thread_group(tid);
      std::string target = std::to_string(tgid);
      if (c == "thread-self") target += "/task/" + std::to_string(tid);
      if (pending.empty() && follow == Follow::kNo && !trailing_slash) {
        out.link = target;  // the link itself: readlink says what it means for the guest
      } else {
        c = std::to_string(tgid);
        if (target != c) {
          pending.push_front(std::to_string(tid));
          pending.push_front("task");
        }
      }
    }
    if (g.member_) {
      pid_t pid = pid_name(c);
      if (pid == 0 || (pid > 0 && !g.member_(pid))) return ENOENT;
    }
    return 0;
  }

  // A magic link `c` below a procfs root, to `target`: root is the guest root; cwd, exe and fd/N
  // point at host paths, given as guest paths; pipe:[…], socket:[…], anon_inode:…, a memfd, a
  // deleted file: no path leads there, opened through the magic link itself.
  int proc_link(std::string& target, const std::string& c, const std::string& guest, bool last) {
    bool unnamed = target.rfind("/memfd:", 0) == 0 ||
                   (target.size() > 10 && target.compare(target.size() - 10, 10, " (deleted)") == 0);
    std::size_t n = levels.size();  // /proc/<pid>/root, /proc/<pid>/task/<tid>/root
    bool task = n >= 4 && levels[n - 4].proc_root && levels[n - 2].guest.size() > 5 &&
                levels[n - 2].guest.compare(levels[n - 2].guest.size() - 5, 5, "/task") == 0;
    if (c == "root" && n >= 2 && (levels[n - 2].proc_root || task)) {
      std::shared_ptr<const Jail> theirs = g.jails_.of(pid_name(levels.back().guest.substr(levels.back().guest.rfind('/') + 1)));
      target = theirs ? theirs->guest : "/";
      to_true_root = true;
      return kMore;
    }
    // The last component naming one of the guest's fds (/proc/<pid>/fd/N) is that very object:
    // its path walked again would follow a symlink held by an O_PATH|O_NOFOLLOW fd, or reach
    // whatever was renamed to its old name (the "calls that act on the wrong file").
    const std::string& parent = levels.back().guest;
    bool fd_link = parent.size() > 3 && parent.compare(parent.size() - 3, 3, "/fd") == 0;
    if (!target.empty() && target[0] == '/' && !(unnamed && last)) {
      std::string gp = g.to_guest(target);
      if (gp.empty()) return EACCES;  // outside the guest's world
      if (!(fd_link && last)) {
        target = gp;
        to_true_root = true;
        return kMore;
      }
    }
    if (!last) return ENOTDIR;
    out.exists = true;
    out.magic = true;
    return land(c, guest);
  }

  // As the kernel's may_follow_link with fs.protected_symlinks: a symlink in a sticky
  // world-writable directory is followed only by its owner or when the directory's owner owns it
  // (the follower is this thread's fsuid: the guest thread's, acting as it).
  int may_follow(int fd) {
    struct stat link, dir;
    if (fstat(fd, &link) != 0 || fstat(levels.back().fd.get(), &dir) != 0) return 0;
    if ((dir.st_mode & (S_ISVTX | S_IWOTH)) != (S_ISVTX | S_IWOTH)) return 0;  // the common case: no read
    char v = '0';
    UniqueFd f(::open("/proc/sys/fs/protected_symlinks", O_RDONLY | O_CLOEXEC));  // it may change any time
    if (!f || read(f.get(), &v, 1) != 1 || v == '0') return 0;
    if (link.st_uid == static_cast<uid_t>(syscall(sdk::sys::setfsuid, -1))) return 0;
    return dir.st_uid == link.st_uid ? 0 : EACCES;
  }

  // Follows symlink `c` (open as `fd`): its target's components are walked next.
  int follow_link(int fd, const std::string& c, const std::string& guest, bool last) {
    if (++links > kMaxSymlinks) return ELOOP;
    if (int e = may_follow(fd); e != 0) return e;
    std::string target;
    if (int e = read_link(fd, "", target); e != 0) return e;
    // Below a procfs root every link is a magic link (/proc/self, /proc/net are ordinary ones).
    bool magic = levels.back().procfs && !levels.back().proc_root;
    if (int e = may_take_link(!target.empty() && target[0] == '/', magic); e != 0) return e;
    if (magic)
      if (int r = proc_link(target, c, guest, last); r != kMore) return r;
    std::deque<std::string> more = split_path(target);
    for (auto it = more.rbegin(); it != more.rend(); ++it) pending.push_front(*it);
    if (!target.empty() && target[0] == '/') {
      if (scope & RESOLVE_IN_ROOT) levels.erase(levels.begin() + static_cast<std::ptrdiff_t>(floor), levels.end());
      else reset_to_root(to_true_root);
      to_true_root = false;
      if (int e = crossed(levels.back().fd.get()); e != 0) return e;
    }
    if (trailing_slash && pending.empty()) trailing_slash = false;
    return kMore;
  }

  // Walks component `c`.
  int step(std::string c) {
    if (c == ".") return kMore;
    if (c == "..") {
      if (base_left == 0 && levels.size() <= floor && (scope & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)))
        return (scope & RESOLVE_BENEATH) ? EXDEV : kMore;
      if (jail && levels.back().guest == jail->guest) return kMore;  // `..` of a process's root
      if (levels.size() > 1) levels.pop_back();
      if (int e = crossed(levels.back().fd.get()); e != 0) return e;
      return kMore;
    }
    if (levels.back().proc_root)
      if (int e = proc_component(c); e != 0) return e;
    bool last = pending.empty();
    std::string guest = join_path(levels.back().guest, c);
    if (const Mount* m = g.mount_at(*mounts, guest)) {
      if (m->file) {
        if (!last || trailing_slash) return ENOTDIR;
        out.parent = dup_fd(m->fd.get());
        out.name = m->file_name;
        out.guest_path = guest;
        out.read_only = m->read_only;
        out.mount_point = true;
        out.exists = fstatat(out.parent.get(), out.name.c_str(), &out.st, AT_SYMLINK_NOFOLLOW) == 0;
        out.have_stat = out.exists;
        // A guest's file mount whose source was replaced by a symlink since: nothing is there
        // (the kernel's mount would still show the old file; lx holds its name, never follows it).
        if (out.exists && S_ISLNK(out.st.st_mode)) return ENOENT;
        return 0;
      }
      push_level(m->fd.get(), guest, m->read_only);
      if (int e = crossed(levels.back().fd.get()); e != 0) return e;
      return kMore;
    }
    Level& dir = levels.back();
    if (last && follow == Follow::kNo && !trailing_slash) {
      out.exists = fstatat(dir.fd.get(), c.c_str(), &out.st, AT_SYMLINK_NOFOLLOW) == 0;
      out.have_stat = out.exists;
      if (int e = out.exists ? crossed(dir.fd.get(), c.c_str()) : 0; e != 0) return e;
      return land(c, guest);
    }
    UniqueFd fd(openat(dir.fd.get(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      int e = errno;
      if (e != ENOENT || !last) return e;
      out.exists = false;
      return land(c, guest);
    }
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return errno;
    if (S_ISLNK(st.st_mode)) return follow_link(fd.get(), c, guest, last);
    if (int e = crossed(fd.get()); e != 0) return e;
    if (last) {
      if (trailing_slash && !S_ISDIR(st.st_mode)) return ENOTDIR;
      out.exists = true;
      out.st = st;  // fstat of the O_PATH|O_NOFOLLOW fd: what fstatat(parent, name, nofollow) says
      out.have_stat = true;
      return land(c, guest);
    }
    if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    Level next{std::move(fd), guest, dir.read_only};
    classify(next, st, &dir);
    levels.push_back(std::move(next));
    return kMore;
  }

  int run(const std::string& path) {
    out.have_stat = false;
    out.link.clear();
    trailing_slash = path.size() > 1 && path.back() == '/';
    if (jail && is_under(path, jail->guest)) {  // from the jail: the levels above it are not needed
      reset_to_root();
      pending = split_path(path.substr(jail->guest.size()));
      std::size_t skipped = split_path(jail->guest).size();
      base_left = base_left > skipped ? base_left - skipped : 0;
    } else {
      reset_to_root(true);
      pending = split_path(path);
    }
    while (!pending.empty()) {
      if (scope && base_left == 0 && floor == 0) {  // at the starting directory: the scope begins
        floor = levels.size();
        start_mnt = mount_id(levels.back().fd.get());
      }
      std::string c = std::move(pending.front());
      pending.pop_front();
      bool in_base = base_left > 0;  // the scope starts after the starting directory's own step
      int r = step(std::move(c));
      if (in_base) --base_left;
      if (r != kMore) return r;
    }
    // The path names a directory level itself ("/", "a/..", a mount point).
    out.exists = true;
    out.parent = std::move(levels.back().fd);
    out.name.clear();
    out.guest_path = levels.back().guest;
    out.read_only = levels.back().read_only;
    return 0;
  }
};

bool kernel_settings(int fd) {
  // lx's own capabilities, as its main thread holds them (a worker's are a guest's meanwhile).
  static const bool privileged = [] {
    auto status = ProcStatus::read(getpid());
    auto eff = status ? status->cap_effective() : std::nullopt;
    return eff && ((*eff >> CAP_DAC_OVERRIDE) & 1);
  }();
  if (!privileged) return false;
  struct statfs fs;
  if (fstatfs(fd, &fs) != 0) return true;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case PROC_SUPER_MAGIC: {
      std::string host;
      if (host_path_of_fd(fd, host) != 0 || host.rfind("/proc/", 0) != 0) return true;
      std::size_t end = host.find('/', 6);
      std::string first = host.substr(6, end == std::string::npos ? std::string::npos : end - 6);
      return first.empty() || first.find_first_not_of("0123456789") != std::string::npos;
    }
    case SYSFS_MAGIC: case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC: case DEBUGFS_MAGIC: case TRACEFS_MAGIC:
    case SECURITYFS_MAGIC: case BINFMTFS_MAGIC: case BPF_FS_MAGIC: case EFIVARFS_MAGIC: case PSTOREFS_MAGIC:
    case 0x62656570 /* configfs */: case 0x65735543 /* fusectl */:
      return true;
    default:
      return false;
  }
}

namespace {

// `rc` of a walk into `out`: what it found among the kernel's settings is read-only.
int settled(int rc, Resolved& out) {
  if (rc == 0 && out.parent && kernel_settings(out.parent.get())) out.read_only = true;
  return rc;
}

}  // namespace

int GuestRoot::walk(pid_t tid, std::string path, Follow follow, Resolved& out,
                    std::shared_ptr<const Jail> jail) const {
  Walk w{*this, tid, follow, out};
  w.jail = std::move(jail);
  return settled(w.run(path), out);
}

int GuestRoot::resolve_scoped(pid_t tid, int dirfd, const std::string& path, Follow follow, std::uint64_t scope,
                              Resolved& out) const {
  scope &= RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT;
  if (scope == 0) return resolve(tid, dirfd, path, follow, out);
  if (path.empty()) return ENOENT;
  if (path.size() > PATH_MAX) return ENAMETOOLONG;
  bool absolute = path[0] == '/' && !(scope & RESOLVE_IN_ROOT);
  if (path[0] == '/' && (scope & RESOLVE_BENEATH)) return EXDEV;
  std::shared_ptr<const Jail> jail = jails_.of(tid);
  std::string base = jail ? jail->guest : "/";
  if (!absolute)
    if (int e = guest_path_of_fd(tid, dirfd, base); e != 0) return e;
  Walk w{*this, tid, follow, out};
  w.jail = std::move(jail);
  w.scope = scope;
  w.floor = 0;  // set where the starting directory is reached (Walk::run)
  std::deque<std::string> start = split_path(base);
  w.base_left = start.size();
  std::string rest = path;
  while (!rest.empty() && rest[0] == '/') rest.erase(0, 1);
  return settled(w.run(base == "/" ? (rest.empty() ? "/" : "/" + rest) : join_path(base, rest.empty() ? "." : rest)),
                 out);
}

}  // namespace lx::fs
