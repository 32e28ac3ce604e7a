// GuestRoot: the guest root and its mounts opened, host paths named as guest paths, and where a
// resolution starts (the walk itself is guest_walk.cpp, its fast path guest_root_fast.cpp).
#include "guest_root.h"

#include "base/acting_as.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

#include <lxhost/syscall_table.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <deque>

namespace lx::fs {

int read_link(int dirfd, const char* name, std::string& out) {
  char buf[PATH_MAX + 1];
  ssize_t n = readlinkat(dirfd, name, buf, PATH_MAX);
  if (n < 0) return errno;
  out.assign(buf, static_cast<std::size_t>(n));
  return 0;
}

std::deque<std::string> split_path(const std::string& path) {
  std::deque<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool is_procfs(int fd) {
  struct statfs sf;
  return fstatfs(fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
}

std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  if (a.back() == '/') return b.front() == '/' ? a + b.substr(1) : a + b;
  return b.front() == '/' ? a + b : a + "/" + b;
}

std::string GuestRoot::open(const std::string& root, std::vector<Mount> mounts) {
  char real[PATH_MAX];
  if (!realpath(root.c_str(), real)) return "root '" + root + "': " + std::string(strerror(errno));
  root_ = real;
  root_fd_.reset(::open(real, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd_) return "root '" + root + "': " + std::string(strerror(errno));
  auto list = std::make_shared<MountList>();
  for (auto& m : mounts) {
    if (m.guest.empty() || m.guest[0] != '/') return "mount guest path '" + m.guest + "' must be absolute";
    while (m.guest.size() > 1 && m.guest.back() == '/') m.guest.pop_back();
    if (!realpath(m.host.c_str(), real)) return "mount host '" + m.host + "': " + std::string(strerror(errno));
    m.host = real;
    struct stat st;
    if (::stat(real, &st) != 0) return "mount host '" + m.host + "': " + std::string(strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
      // A file over a file: held as its directory and name, reached only as the last component.
      std::string h = real;
      std::size_t slash = h.rfind('/');
      m.file = true;
      m.file_name = h.substr(slash + 1);
      m.fd.reset(::open(slash == 0 ? "/" : h.substr(0, slash).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    } else {
      m.fd.reset(::open(real, O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
    if (!m.fd) return "mount host '" + m.host + "': " + std::string(strerror(errno));
    list->push_back(std::make_shared<const Mount>(std::move(m)));
  }
  host_root_ = root_ == "/" && list->empty();
  mounts_ = std::move(list);
  return {};
}

const Mount* GuestRoot::mount_at(const MountList& list, const std::string& guest) {
  for (auto it = list.rbegin(); it != list.rend(); ++it)
    if ((*it)->guest == guest) return it->get();
  return nullptr;
}

void GuestRoot::add_mount(Mount m) {
  std::lock_guard lock(change_mu_);
  auto list = std::make_shared<MountList>(*mounts_.load());
  list->push_back(std::make_shared<const Mount>(std::move(m)));
  host_root_ = false;
  mounts_ = std::move(list);
}

bool GuestRoot::remove_mount(const std::string& guest) {
  std::lock_guard lock(change_mu_);
  auto list = std::make_shared<MountList>(*mounts_.load());
  for (auto it = list->rbegin(); it != list->rend(); ++it) {
    if ((*it)->guest != guest) continue;
    list->erase(std::next(it).base());
    mounts_ = std::move(list);
    return true;
  }
  return false;
}

bool GuestRoot::set_read_only(const std::string& guest, bool read_only) {
  std::lock_guard lock(change_mu_);
  auto list = std::make_shared<MountList>(*mounts_.load());
  for (auto it = list->rbegin(); it != list->rend(); ++it) {
    if ((*it)->guest != guest) continue;
    Mount changed{(*it)->guest, (*it)->host, read_only, UniqueFd(fcntl((*it)->fd.get(), F_DUPFD_CLOEXEC, 0)),
                  (*it)->file, (*it)->file_name};
    if (!changed.fd) return false;
    *it = std::make_shared<const Mount>(std::move(changed));
    mounts_ = std::move(list);
    return true;
  }
  return false;
}

std::string GuestRoot::to_guest(const std::string& host) const {
  // The longest host prefix wins: the root counts as a mount of root_ on "/" (a rootfs kept
  // under /tmp is seen through the root, not through the /tmp mount).
  auto under = [&](const std::string& prefix) {
    return prefix == "/" || host == prefix || host.rfind(prefix + "/", 0) == 0;
  };
  std::string best_host = under(root_) ? root_ : std::string();
  std::string best_guest = "/";
  bool found = !best_host.empty();
  for (const auto& m : *mounts_.load()) {
    if (under(m->host) && (!found || m->host.size() > best_host.size())) {
      best_host = m->host;
      best_guest = m->guest;
      found = true;
    }
  }
  if (!found) return {};
  std::string rest = best_host == "/" ? host : host.substr(best_host.size());
  return rest.empty() ? best_guest : join_path(best_guest, rest);
}

int GuestRoot::guest_path_of_fd(pid_t tid, int fd, std::string& out) const {
  std::string link = fd == AT_FDCWD ? "/proc/" + std::to_string(tid) + "/cwd"
                                    : "/proc/" + std::to_string(tid) + "/fd/" + std::to_string(fd);
  std::string host;
  ActingAs::AsLx lx;
  if (int e = read_link(AT_FDCWD, link.c_str(), host); e != 0) return e == ENOENT ? EBADF : e;
  out = to_guest(host);
  if (out.empty()) {
    if (fd != AT_FDCWD && host.front() != '/') return ENOTDIR;  // a pipe, socket, ...
    out = "/";  // a directory outside the guest's world: treat as its root
  }
  return 0;
}

int GuestRoot::resolve(pid_t tid, int dirfd, const std::string& path, Follow follow, Resolved& out) const {
  if (path.empty()) return ENOENT;
  if (path.size() > PATH_MAX) return ENAMETOOLONG;
  std::shared_ptr<const Jail> jail = jails_.of(tid);
  std::string full = jail && path[0] == '/' ? join_path(jail->guest, path) : path;
  if (path[0] != '/') {
    std::string base;
    if (int e = guest_path_of_fd(tid, dirfd, base); e != 0) return e;
    if (dirfd != AT_FDCWD) {  // as the kernel's path_init: a dirfd must be a directory
      struct stat st;
      ActingAs::AsLx lx;
      if (::stat(("/proc/" + std::to_string(tid) + "/fd/" + std::to_string(dirfd)).c_str(), &st) == 0 &&
          !S_ISDIR(st.st_mode))
        return ENOTDIR;
    }
    full = join_path(base, path);
  }
  if (!jail)
    if (int e = fast(full, follow, out); e >= 0) return e;
  return walk(tid, full, follow, out, std::move(jail));
}

}  // namespace lx::fs
