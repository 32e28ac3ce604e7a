// GuestRoot's fast path: a path with no symlink and no mount on the way, resolved with one
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS) of its parent; the walk does the rest.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <lxhost/syscall_table.h>

#include <cerrno>
#include <string>
#include <vector>

#include "guest_root.h"

namespace lx::fs {

int GuestRoot::fast(const std::string& path, Follow follow, Resolved& out) const {
  if (path.size() > 1 && path.back() == '/') return -1;  // trailing slash: the walk handles it
  // The kernel walks the components as they are (`..` included: with no symlink on the way,
  // refused below, it goes up from the directory it is in, as Linux does); the guest path is the
  // lexically normal form, which is then exact. A path that reaches a mount point is walked.
  std::shared_ptr<const MountList> mounts = mounts_.load();
  if (mount_at(*mounts, "/")) return -1;
  std::vector<std::string> comps;
  std::vector<std::string> norm_comps;
  std::string norm;
  for (auto& c : split_path(path)) {
    if (c == ".") continue;
    if (c == "..") {
      // With the host's root the kernel would cross mounts, procfs too, and come back out of
      // it: /proc/<pid>/.. must not tell whether <pid> exists. The walk checks every component.
      if (host_root_ && member_) return -1;
      if (!norm_comps.empty()) norm_comps.pop_back();
    } else {
      norm_comps.push_back(c);
      norm.clear();
      for (const auto& n : norm_comps) norm += "/" + n;
      if (mount_at(*mounts, norm)) return -1;
    }
    comps.push_back(std::move(c));
  }
  if (comps.empty() || comps.back() == ".." || norm_comps.empty()) return -1;
  norm.clear();
  for (const auto& n : norm_comps) norm += "/" + n;
  std::string parent = ".";
  for (std::size_t i = 0; i + 1 < comps.size(); ++i) parent += "/" + comps[i];
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  // A guest root's own mounts are crossed by the walk; the host's root crosses the host's.
  if (!host_root_) how.resolve |= RESOLVE_NO_XDEV;
  UniqueFd dir(static_cast<int>(syscall(sdk::sys::openat2, root_fd_.get(), parent.c_str(), &how, sizeof how)));
  if (!dir) return errno == ELOOP || errno == EXDEV || errno == ENOSYS || errno == EAGAIN ? -1 : errno;
  if (host_root_ && member_ && is_procfs(dir.get())) return -1;  // the walk decides what /proc shows
  const std::string& last = comps.back();
  out.have_stat = false;
  if (fstatat(dir.get(), last.c_str(), &out.st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return errno;
    out.exists = false;
  } else {
    if (S_ISLNK(out.st.st_mode) && follow == Follow::kYes) return -1;  // the walk follows it
    out.exists = true;
    out.have_stat = true;
  }
  out.parent = std::move(dir);
  out.name = last;
  out.guest_path = norm;
  out.read_only = false;
  out.magic = false;
  return 0;
}

}  // namespace lx::fs
