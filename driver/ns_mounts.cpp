// Init's mount namespace: the KernelPlan's root, binds, procfs and /dev, then pivot_root.
//
// Every mount point is resolved inside the guest root (openat2 with RESOLVE_IN_ROOT), never as
// host text: a symlink in a distro (/tmp -> /home/me) must not make a mount land, or a mount
// point be created, outside it. Mounts are done onto the resolved fd (/proc/self/fd/N).
#include "driver/ns_mounts.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/unique_fd.h"

namespace lx::driver {
namespace {

std::string failed(const std::string& what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

std::string fd_path(int fd) { return fmt::format("/proc/self/fd/{}", fd); }

// openat2(root, path, flags) kept inside `root`; -1 with errno set.
int open_in(int root, const std::string& path, int flags, mode_t mode = 0) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (int tries = 0;; ++tries) {
    long fd = syscall(SYS_openat2, root, path.empty() ? "." : path.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN || tries > 100) return static_cast<int>(fd);
  }
}

// The mount point `guest` (absolute, as the guest sees it) under `root`, created when missing
// and `create` (a directory, or an empty file when `file`): an O_PATH fd, or -1 with `why`.
int mount_point(int root, const std::string& guest, bool create, bool file, std::string& why) {
  std::string done;
  std::size_t i = 0;
  while (i < guest.size()) {
    while (i < guest.size() && guest[i] == '/') ++i;
    std::size_t j = guest.find('/', i);
    if (j == std::string::npos) j = guest.size();
    if (j == i) break;
    std::string name = guest.substr(i, j - i);
    bool last = guest.find_first_not_of('/', j) == std::string::npos;
    std::string path = done.empty() ? name : done + "/" + name;
    int fd = open_in(root, path, O_PATH);
    if (fd < 0 && errno == ENOENT && create) {
      UniqueFd parent(open_in(root, done, O_PATH | O_DIRECTORY));
      if (!parent) return why = failed("opening the parent of mount point " + guest), -1;
      if (last && file) {
        int f = openat(parent.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f >= 0) close(f);
      } else {
        (void)mkdirat(parent.get(), name.c_str(), 0755);
      }
      fd = open_in(root, path, O_PATH);
    }
    if (fd < 0) return why = failed(create ? "creating mount point " + guest : "mount point " + guest + " (the host root is never changed)"), -1;
    if (last) return fd;
    close(fd);
    done = path;
    i = j;
  }
  return open_in(root, "", O_PATH | O_DIRECTORY);
}

// Fills the new tmpfs /dev at `t`: the host's usual nodes bound onto files, links, and unless
// the bundle mounts its own (`nodes_only`), a new devpts and a tmpfs /dev/shm.
std::string fill_dev(const std::string& t, bool nodes_only = false) {
  for (const char* n : {"null", "zero", "full", "random", "urandom", "tty"}) {
    std::string node = t + "/" + n, host = std::string("/dev/") + n;
    int fd = open(node.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) return failed("creating /dev/" + std::string(n));
    close(fd);
    if (mount(host.c_str(), node.c_str(), nullptr, MS_BIND, nullptr) != 0) return failed("binding " + host);
  }
  std::string pts = t + "/pts", shm = t + "/shm";
  if (!nodes_only) {
    if (mkdir(pts.c_str(), 0755) != 0 || mkdir(shm.c_str(), 01777) != 0) return failed("creating /dev/pts and /dev/shm");
    if (mount("devpts", pts.c_str(), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") != 0)
      return failed("mounting a devpts on /dev/pts");
    if (mount("tmpfs", shm.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) return failed("mounting a tmpfs on /dev/shm");
  }
  const char* links[][2] = {{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                            {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  for (const auto& l : links)
    if (symlink(l[0], (t + "/" + l[1]).c_str()) != 0) return failed("creating /dev/" + std::string(l[1]));
  return {};
}

// Sets the mount flags `flags` (MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC) on the mount at `fd`
// and, when `recursive`, everything under it (the flags a user namespace locks stay).
std::string set_flags(int fd, unsigned long flags, const std::string& guest, bool recursive = true) {
  mount_attr attr{};
  if (flags & MS_RDONLY) attr.attr_set |= MOUNT_ATTR_RDONLY;
  if (flags & MS_NOSUID) attr.attr_set |= MOUNT_ATTR_NOSUID;
  if (flags & MS_NODEV) attr.attr_set |= MOUNT_ATTR_NODEV;
  if (flags & MS_NOEXEC) attr.attr_set |= MOUNT_ATTR_NOEXEC;
  if (attr.attr_set == 0) return {};
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) != 0)
    return failed((flags == MS_RDONLY ? "making " + guest + " read-only" : "setting the flags of " + guest));
  return {};
}

// mount(2) of `m`'s filesystem on `t`. A devpts whose gid= names a group the user namespace
// does not map (an ordinary user's, without a subordinate range) is mounted without it.
int mount_fs(const ExactMount& m, const std::string& t) {
  const char* source = m.source.empty() ? m.type.c_str() : m.source.c_str();
  int r = mount(source, t.c_str(), m.type.c_str(), m.flags, m.data.empty() ? nullptr : m.data.c_str());
  if (r == 0 || errno != EINVAL || m.type != "devpts") return r;
  std::string data;
  for (std::size_t i = 0; i <= m.data.size();) {
    std::size_t j = std::min(m.data.find(',', i), m.data.size());
    std::string o = m.data.substr(i, j - i);
    if (!o.empty() && o.rfind("gid=", 0) != 0) data += (data.empty() ? "" : ",") + o;
    i = j + 1;
  }
  return mount(source, t.c_str(), m.type.c_str(), m.flags, data.c_str());
}

// One bundle mount, exactly as given. A user namespace may not mount what belongs to a namespace
// it does not own: sysfs (the network namespace is the monitor's) and cgroup then become
// recursive binds of the host's, as runc does for a rootless container.
std::string mount_exact(const ExactMount& m, int root) {
  if (m.guest.empty() || m.guest[0] != '/') return fmt::format("mount point '{}' is not an absolute path", m.guest);
  bool file = false;
  if (m.bind) {
    struct stat st{};
    if (stat(m.source.c_str(), &st) != 0) return failed("bind source " + m.source);
    file = !S_ISDIR(st.st_mode);
  }
  std::string why;
  UniqueFd at(mount_point(root, m.guest, true, file, why));
  if (!at) return why;
  std::string t = fd_path(at.get());
  bool bound = m.bind;
  if (m.bind) {
    if (mount(m.source.c_str(), t.c_str(), nullptr, MS_BIND | (m.recursive ? MS_REC : 0), nullptr) != 0)
      return failed(fmt::format("binding {} on {}", m.source, m.guest));
  } else if (mount_fs(m, t) != 0) {
    const char* host = m.type == "sysfs" ? "/sys" : (m.type == "cgroup" || m.type == "cgroup2") ? "/sys/fs/cgroup" : nullptr;
    if (!host) return failed(fmt::format("mounting {} on {}", m.type, m.guest));
    if (mount(host, t.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return failed(fmt::format("binding {} on {} (a {} of its own was refused)", host, m.guest, m.type));
    bound = true;
  }
  UniqueFd top(open_in(root, m.guest, O_PATH));
  if (!top) return failed("reopening " + m.guest);
  if (m.guest == "/dev" && m.type == "tmpfs")
    if (std::string e = fill_dev(fd_path(top.get()), true); !e.empty()) return e;
  return bound ? set_flags(top.get(), m.flags, m.guest) : std::string();
}

std::string mount_one(const sdk::KernelMount& m, int root, bool create) {
  using Kind = sdk::KernelMount::Kind;
  if (m.guest.empty() || m.guest[0] != '/') return fmt::format("mount point '{}' is not an absolute path", m.guest);
  bool file = false;
  if (m.kind == Kind::kBind) {
    struct stat st{};
    if (stat(m.host.c_str(), &st) != 0) return failed("bind source " + m.host);
    file = !S_ISDIR(st.st_mode);
  }
  std::string why;
  UniqueFd at(mount_point(root, m.guest, create, file, why));
  if (!at) return why;
  std::string t = fd_path(at.get());
  switch (m.kind) {
    case Kind::kBind:
      if (mount(m.host.c_str(), t.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
        return failed(fmt::format("binding {} on {}", m.host, m.guest));
      break;
    case Kind::kProc:
      if (mount("proc", t.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
        return failed("mounting the instance's procfs on " + m.guest);
      break;
    case Kind::kDev:
      if (mount("tmpfs", t.c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=1024k") != 0)
        return failed("mounting a tmpfs on " + m.guest);
      break;
  }
  // What was mounted covers the fd we hold (a path through it reaches the directory beneath):
  // look the mount point up again to reach the mount.
  UniqueFd top(open_in(root, m.guest, O_PATH));
  if (!top) return failed("reopening " + m.guest);
  if (m.kind == Kind::kDev)
    if (std::string e = fill_dev(fd_path(top.get())); !e.empty()) return e;
  return m.read_only ? set_flags(top.get(), MS_RDONLY, m.guest) : std::string();
}

}  // namespace

std::string set_up_mounts(const sdk::KernelPlan& plan, const std::vector<ExactMount>& exact, bool read_only_root) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return failed("making / private");
  if (plan.root.empty() || plan.root[0] != '/') return fmt::format("root '{}' is not an absolute path", plan.root);
  // The host's own root stays the root (pivot_root cannot move / onto itself; no mount point is
  // ever created on it); any other is bound onto itself, filled, and made the root.
  bool pivot = plan.root != "/";
  if (pivot && mount(plan.root.c_str(), plan.root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return failed("binding the root " + plan.root);
  UniqueFd root(open(plan.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return failed("opening the root " + plan.root);
  for (const auto& m : exact)
    if (std::string e = mount_exact(m, root.get()); !e.empty()) return e;
  for (const auto& m : plan.mounts)
    if (std::string e = mount_one(m, root.get(), pivot); !e.empty()) return e;
  if (read_only_root) {
    if (!pivot) return "a read-only root needs a root of its own, not the host's";
    if (std::string e = set_flags(root.get(), MS_RDONLY, "the root", false); !e.empty()) return e;
  }
  if (!pivot) return {};
  if (fchdir(root.get()) != 0) return failed("chdir " + plan.root);
  if (syscall(SYS_pivot_root, ".", ".") != 0) return failed("pivot_root " + plan.root);
  if (umount2(".", MNT_DETACH) != 0) return failed("detaching the host's root");
  if (chdir("/") != 0) return failed("chdir /");
  return {};
}

}  // namespace lx::driver
