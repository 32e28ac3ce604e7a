// Owners made real (see ns_owners.h).
#include "driver/ns_owners.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fsmeta/metadata.h"

namespace lx::driver {
namespace {

constexpr const char* kOwnersXattr = "user.lxhost.owners";

// nftw's callback has no context argument; init is single-threaded.
OwnersApplied* g_out = nullptr;
std::string* g_error = nullptr;

int apply_one(const char* path, const struct stat* st, int type, FTW*) {
  if (type == FTW_NS || type == FTW_DNR) return 0;  // unreadable here: nothing recorded we could read
  int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  fsmeta::Metadata meta;
  int e = fsmeta::read_metadata(fd, meta);
  close(fd);
  if (e != 0 || meta.empty() || meta.rdev) return 0;  // device nodes stay emulated (no mknod here)
  bool owner = meta.uid || meta.gid;
  if (owner && fchownat(AT_FDCWD, path, meta.uid ? *meta.uid : static_cast<uid_t>(-1),
                        meta.gid ? *meta.gid : static_cast<gid_t>(-1), AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == EINVAL || errno == EPERM) {  // an id the namespace does not map
      ++g_out->unmapped;
      return 0;
    }
    *g_error = std::string("chown ") + path + ": " + std::strerror(errno);
    return 1;
  }
  // chown cleared setuid/setgid; the recorded mode puts them back (never on a symlink).
  if (meta.mode && !S_ISLNK(st->st_mode) && fchmodat(AT_FDCWD, path, *meta.mode & 07777, 0) != 0) {
    *g_error = std::string("chmod ") + path + ": " + std::strerror(errno);
    return 1;
  }
  // They are the real ones now: the record goes, so that neither backend ever shows it over
  // a later real change (the emulated backend reads owners in the ranges back as these ids).
  lremovexattr(path, fsmeta::kMetaXattr);
  ++g_out->changed;
  return 0;
}

}  // namespace

std::string apply_recorded_owners(const std::string& root, const std::string& maps_key, OwnersApplied& out) {
  out = {};
  char done[512];
  ssize_t n = getxattr(root.c_str(), kOwnersXattr, done, sizeof done);
  if (n >= 0 && std::string(done, static_cast<std::size_t>(n)) == maps_key) return "";
  // Setuid programs of the namespace's root are the user's on the host: only the user may reach
  // them (the store's directory of the distro, above its root).
  std::string dir = root;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string parent = dir.substr(0, dir.find_last_of('/'));
  if (!parent.empty() && chmod(parent.c_str(), 0700) != 0)
    return "chmod 0700 " + parent + ": " + std::strerror(errno);
  std::string error;
  g_out = &out;
  g_error = &error;
  int r = nftw(root.c_str(), apply_one, 64, FTW_PHYS | FTW_MOUNT);
  g_out = nullptr;
  g_error = nullptr;
  out.walked = true;
  if (r != 0) return error.empty() ? root + ": " + std::strerror(errno) : error;
  if (setxattr(root.c_str(), kOwnersXattr, maps_key.data(), maps_key.size(), 0) != 0)
    return std::string("setxattr ") + kOwnersXattr + " " + root + ": " + std::strerror(errno);
  return "";
}

}  // namespace lx::driver
