// Metadata: encoding, xattr storage through /proc/self/fd, and the stat overlay.
#include "metadata.h"

#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace lx::fs {
namespace {

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace

std::string Metadata::encode() const {
  std::ostringstream os;
  if (uid) os << "uid=" << *uid << ' ';
  if (gid) os << "gid=" << *gid << ' ';
  if (mode) os << "mode=0" << std::oct << *mode << std::dec << ' ';
  if (rdev) os << "rdev=" << *rdev << ' ';
  std::string s = os.str();
  if (!s.empty()) s.pop_back();
  return s;
}

Metadata Metadata::decode(const std::string& text) {
  Metadata m;
  std::istringstream is(text);
  std::string field;
  while (is >> field) {
    auto eq = field.find('=');
    if (eq == std::string::npos) continue;
    std::string k = field.substr(0, eq), v = field.substr(eq + 1);
    char* end = nullptr;
    unsigned long long n = std::strtoull(v.c_str(), &end, k == "mode" ? 8 : 10);
    if (!end || *end) continue;
    if (k == "uid") m.uid = static_cast<uid_t>(n);
    else if (k == "gid") m.gid = static_cast<gid_t>(n);
    else if (k == "mode") m.mode = static_cast<mode_t>(n);
    else if (k == "rdev") m.rdev = static_cast<dev_t>(n);
  }
  return m;
}

int read_metadata(int fd, Metadata& out) {
  char buf[256];
  ssize_t n = getxattr(fd_path(fd).c_str(), kMetaXattr, buf, sizeof buf - 1);
  if (n < 0) return errno == ENOTSUP ? ENODATA : errno;
  out = Metadata::decode(std::string(buf, static_cast<std::size_t>(n)));
  return 0;
}

int read_metadata_at(int dirfd, const std::string& name, Metadata& out) {
  char buf[256];
  std::string path = fd_path(dirfd) + "/" + name;
  ssize_t n = lgetxattr(path.c_str(), kMetaXattr, buf, sizeof buf - 1);
  if (n < 0) return errno == ENOTSUP ? ENODATA : errno;
  out = Metadata::decode(std::string(buf, static_cast<std::size_t>(n)));
  return 0;
}

int write_metadata(int fd, const Metadata& meta) {
  std::string p = fd_path(fd);
  if (meta.empty()) {
    if (removexattr(p.c_str(), kMetaXattr) != 0 && errno != ENODATA) return errno;
    return 0;
  }
  std::string v = meta.encode();
  if (setxattr(p.c_str(), kMetaXattr, v.data(), v.size(), 0) != 0) return errno;
  return 0;
}

void apply_metadata(const Metadata& meta, struct stat& st) {
  if (meta.uid) st.st_uid = *meta.uid;
  if (meta.gid) st.st_gid = *meta.gid;
  if (meta.mode) st.st_mode = *meta.mode;
  if (meta.rdev) st.st_rdev = *meta.rdev;
}

void apply_metadata(const Metadata& meta, struct statx& stx) {
  if (meta.uid) stx.stx_uid = *meta.uid;
  if (meta.gid) stx.stx_gid = *meta.gid;
  if (meta.mode) stx.stx_mode = static_cast<__u16>(*meta.mode);
  if (meta.rdev) {
    stx.stx_rdev_major = major(*meta.rdev);
    stx.stx_rdev_minor = minor(*meta.rdev);
  }
}

}  // namespace lx::fs
