// Metadata: encoding, xattr storage through /proc/self/fd, and the stat overlay.
#include "fsmeta/metadata.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <cstdio>
#include <filesystem>
#include <fcntl.h>
#include <unistd.h>

namespace lx::fsmeta {
namespace {

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// User extended attributes need read (get) or write (set) permission on the file itself. A file
// the host user owns but keeps without it (dpkg creates files with mode 0 before it chowns
// them) gets `bit` for the length of `op`, then its mode back.
template <class Op>
int with_owner_access(int fd, mode_t bit, Op op) {
  int e = op();
  if (e != EACCES) return e;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || S_ISLNK(st.st_mode) || (st.st_mode & bit)) return e;
  std::string p = fd_path(fd);
  if (chmod(p.c_str(), (st.st_mode & 07777) | bit) != 0) return e;
  e = op();
  chmod(p.c_str(), st.st_mode & 07777);
  return e;
}

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
  ssize_t n = -1;
  int e = with_owner_access(fd, S_IRUSR, [&] {
    n = getxattr(fd_path(fd).c_str(), kMetaXattr, buf, sizeof buf - 1);
    return n < 0 ? errno : 0;
  });
  if (e != 0) return e;
  out = Metadata::decode(std::string(buf, static_cast<std::size_t>(n)));
  return 0;
}

int read_metadata_at(int dirfd, const std::string& name, Metadata& out) {
  char buf[256];
  std::string path = fd_path(dirfd) + "/" + name;
  ssize_t n = lgetxattr(path.c_str(), kMetaXattr, buf, sizeof buf - 1);
  if (n < 0 && errno == EACCES) {
    // No read permission on the file itself: through an fd, with the owner's access restored.
    int fd = openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return EACCES;
    int e = read_metadata(fd, out);
    close(fd);
    return e;
  }
  if (n < 0) return errno;
  out = Metadata::decode(std::string(buf, static_cast<std::size_t>(n)));
  return 0;
}

int write_metadata(int fd, const Metadata& meta) {
  std::string p = fd_path(fd);
  if (meta.empty()) {
    return with_owner_access(fd, S_IWUSR, [&] { return removexattr(p.c_str(), kMetaXattr) != 0 && errno != ENODATA ? errno : 0; });
  }
  std::string v = meta.encode();
  return with_owner_access(fd, S_IWUSR, [&] { return setxattr(p.c_str(), kMetaXattr, v.data(), v.size(), 0) != 0 ? errno : 0; });
}

std::string MetadataStore::sidecar_file(const struct stat& st) const {
  return dir_ + "/" + std::to_string(major(st.st_dev)) + "." + std::to_string(minor(st.st_dev)) + "." +
         std::to_string(st.st_ino);
}

int MetadataStore::sidecar_read(const struct stat& st, Metadata& out) {
  FILE* f = std::fopen(sidecar_file(st).c_str(), "re");
  if (!f) return errno == ENOENT ? ENODATA : errno;
  char buf[256];
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  out = Metadata::decode(std::string(buf, n));
  return 0;
}

int MetadataStore::sidecar_write(const struct stat& st, const Metadata& meta) {
  std::string file = sidecar_file(st);
  if (meta.empty()) {
    if (unlink(file.c_str()) != 0 && errno != ENOENT) return errno;
    return 0;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return ec.value();
  // Written whole, then renamed over the old record: a crash leaves the old or the new one.
  std::string tmp = file + ".tmp" + std::to_string(getpid());
  FILE* f = std::fopen(tmp.c_str(), "we");
  if (!f) return errno;
  std::string v = meta.encode();
  bool ok = std::fwrite(v.data(), 1, v.size(), f) == v.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), file.c_str()) != 0) {
    int e = errno ? errno : EIO;
    unlink(tmp.c_str());
    return e;
  }
  return 0;
}

void MetadataStore::warn_once() {
  if (warned_.exchange(true)) return;
  std::fprintf(stderr, "lx: fs: this filesystem has no user extended attributes; ownership metadata is kept in %s\n",
               dir_.c_str());
}

int MetadataStore::read(int fd, Metadata& out) {
  if (mode_ != Mode::kSidecar) {
    int e = read_metadata(fd, out);
    if (mode_ == Mode::kXattr || (e != ENOTSUP && e != EOPNOTSUPP)) return e;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  return sidecar_read(st, out);
}

int MetadataStore::read_at(int dirfd, const std::string& name, Metadata& out) {
  if (mode_ != Mode::kSidecar) {
    int e = read_metadata_at(dirfd, name, out);
    if (mode_ == Mode::kXattr || (e != ENOTSUP && e != EOPNOTSUPP)) return e;
  }
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  return sidecar_read(st, out);
}

int MetadataStore::write(int fd, const Metadata& meta) {
  if (mode_ != Mode::kSidecar) {
    int e = write_metadata(fd, meta);
    if (mode_ == Mode::kXattr || (e != ENOTSUP && e != EOPNOTSUPP)) return e;
    warn_once();
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  return sidecar_write(st, meta);
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

}  // namespace lx::fsmeta
