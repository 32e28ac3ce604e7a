// RootfsWriter: openat-based creation of entries beneath the rootfs, ownership and metadata.
#include "store/rootfs_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace lx::store {
namespace {

Error entry_error(const std::string& path, const std::string& what, int code = errno) {
  return Error{code, fmt::format("entry '{}': {}: {}", path, what, std::strerror(code))};
}

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<RootfsWriter>> RootfsWriter::open(const std::filesystem::path& rootfs,
                                                         const std::filesystem::path& sidecar_dir) {
  std::unique_ptr<RootfsWriter> w(new RootfsWriter());
  w->root_.reset(::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!w->root_) return Error{errno, fmt::format("cannot open {}: {}", rootfs.string(), std::strerror(errno))};
  w->meta_.configure(fsmeta::MetadataStore::Mode::kAuto, sidecar_dir.string());
  w->privileged_ = geteuid() == 0;
  return w;
}

Result<std::string> RootfsWriter::clean_path(std::string_view raw) {
  std::string out;
  for (const std::string& c : split(std::string(raw))) {
    if (c == ".") continue;
    if (c == "..")
      return Error{EINVAL, fmt::format("entry '{}': a '..' component would leave the rootfs", raw)};
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

mode_t RootfsWriter::real_perms(const FsEntry& e) const {
  mode_t p = e.mode & 07777;
  if (privileged_) return p;
  // Unprivileged: no set-id bits on the host, and the owner keeps the access it needs to
  // write, read (export) and remove the tree; the exact mode is in the metadata.
  p &= 0777;
  return S_ISDIR(e.mode) ? (p | S_IRWXU) : (p | S_IRUSR | S_IWUSR);
}

Result<UniqueFd> RootfsWriter::open_dir(const std::string& path, bool create, const std::string& entry) {
  UniqueFd cur(::dup(root_.get()));
  if (!cur) return entry_error(entry, "dup");
  std::string walked;
  for (const std::string& c : split(path)) {
    walked += walked.empty() ? c : "/" + c;
    int fd = openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (mkdirat(cur.get(), c.c_str(), 0700) != 0 && errno != EEXIST)
        return entry_error(entry, fmt::format("cannot create directory '{}'", walked));
      defer_dir(walked, 0755, nullptr);
      fd = openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      int e = errno;
      struct stat st;
      if ((e == ELOOP || e == ENOTDIR) && fstatat(cur.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode))
          return Error{ELOOP, fmt::format("entry '{}': goes through the symbolic link '{}', which is never followed "
                                          "while extracting",
                                          entry, walked)};
        return Error{ENOTDIR, fmt::format("entry '{}': '{}' is not a directory", entry, walked)};
      }
      return entry_error(entry, fmt::format("cannot open directory '{}'", walked), e);
    }
    cur.reset(fd);
  }
  return cur;
}

Result<UniqueFd> RootfsWriter::open_parent(const std::string& path, bool create, std::string& leaf) {
  std::size_t slash = path.rfind('/');
  leaf = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string parent = slash == std::string::npos ? std::string() : path.substr(0, slash);
  return open_dir(parent, create, path);
}

void RootfsWriter::defer_dir(const std::string& path, mode_t perms, const struct timespec* mtime) {
  auto it = deferred_index_.find(path);
  std::size_t i;
  if (it == deferred_index_.end()) {
    i = deferred_.size();
    deferred_index_.emplace(path, i);
    deferred_.push_back(Deferred{path});
  } else {
    i = it->second;
  }
  deferred_[i].perms = perms;
  if (mtime) {
    deferred_[i].has_time = true;
    deferred_[i].mtime = *mtime;
  }
}

Result<void> RootfsWriter::make_room(int parent, const std::string& leaf, const FsEntry& e) {
  struct stat st;
  if (fstatat(parent, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return ok();
    return entry_error(e.path, "cannot inspect the existing entry");
  }
  if (S_ISDIR(st.st_mode)) {
    if (S_ISDIR(e.mode) && e.hardlink.empty()) return ok();
    if (unlinkat(parent, leaf.c_str(), AT_REMOVEDIR) != 0)
      return entry_error(e.path, "cannot replace the directory already there");
    return ok();
  }
  if (unlinkat(parent, leaf.c_str(), 0) != 0) return entry_error(e.path, "cannot replace the entry already there");
  return ok();
}

Result<void> RootfsWriter::label(int fd, const FsEntry& e, mode_t real_mode, bool emulated, bool native_owner) {
  fsmeta::Metadata m;
  if (!native_owner) {
    m.uid = e.uid;
    m.gid = e.gid;
  }
  if (real_mode != e.mode) m.mode = e.mode;
  if (emulated) m.rdev = e.rdev;
  if (m.empty()) return ok();
  int err = meta_.write(fd, m);
  if (err == 0) return ok();
  // User extended attributes exist on regular files and directories only; a FIFO shows its real owner.
  bool xattr_capable = S_ISREG(real_mode) || S_ISDIR(real_mode);
  if (err == EPERM && !xattr_capable) return ok();
  return entry_error(e.path, "cannot store ownership metadata (" + std::string(fsmeta::kMetaXattr) + ")", err);
}

Result<void> RootfsWriter::add(const FsEntry& e, const DataFn& data) {
  if (e.path.empty()) return add_root(e);
  std::string leaf;
  LX_TRY_ASSIGN(parent, open_parent(e.path, true, leaf));
  LX_TRY(make_room(parent.get(), leaf, e));
  if (!e.hardlink.empty()) return add_hardlink(parent.get(), leaf, e);
  mode_t type = e.mode & S_IFMT;
  switch (type) {
    case S_IFDIR: return add_dir(parent.get(), leaf, e);
    case S_IFREG: return add_file(parent.get(), leaf, e, data);
    case S_IFLNK: return add_symlink(parent.get(), leaf, e);
    case S_IFIFO:
    case S_IFCHR:
    case S_IFBLK: return add_special(parent.get(), leaf, e);
    case S_IFSOCK: return ok();  // sockets are made by the programs that listen on them
    default: return Error{EINVAL, fmt::format("entry '{}': unknown file type 0{:o}", e.path, type)};
  }
}

Result<void> RootfsWriter::add_root(const FsEntry& e) {
  if (!S_ISDIR(e.mode) || !e.hardlink.empty()) return ok();
  bool native = privileged_ && fchown(root_.get(), e.uid, e.gid) == 0;
  mode_t perms = real_perms(e);
  LX_TRY(label(root_.get(), e, S_IFDIR | perms, false, native));
  defer_dir("", perms, &e.mtime);
  return ok();
}

Result<void> RootfsWriter::add_hardlink(int parent, const std::string& leaf, const FsEntry& e) {
  if (e.hardlink == e.path) return ok();
  std::string target_leaf;
  auto target_parent = open_parent(e.hardlink, false, target_leaf);
  if (!target_parent)
    return Error{target_parent.error().code,
                 fmt::format("entry '{}': hard link target '{}' is missing", e.path, e.hardlink)};
  if (linkat(target_parent->get(), target_leaf.c_str(), parent, leaf.c_str(), 0) != 0)
    return entry_error(e.path, fmt::format("cannot link to '{}'", e.hardlink));
  return ok();
}

Result<void> RootfsWriter::add_dir(int parent, const std::string& leaf, const FsEntry& e) {
  if (mkdirat(parent, leaf.c_str(), 0700) != 0 && errno != EEXIST) return entry_error(e.path, "cannot create directory");
  UniqueFd fd(openat(parent, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return entry_error(e.path, "cannot open directory");
  bool native = privileged_ && fchown(fd.get(), e.uid, e.gid) == 0;
  mode_t perms = real_perms(e);
  LX_TRY(label(fd.get(), e, S_IFDIR | perms, false, native));
  defer_dir(e.path, perms, &e.mtime);
  return ok();
}

Result<void> RootfsWriter::add_file(int parent, const std::string& leaf, const FsEntry& e, const DataFn& data) {
  UniqueFd fd(openat(parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return entry_error(e.path, "cannot create file");
  if (data) {
    if (auto r = data(fd.get()); !r) return Error{r.error().code, fmt::format("entry '{}': {}", e.path, r.error().message)};
  }
  data_bytes_ += e.size;
  bool native = privileged_ && fchown(fd.get(), e.uid, e.gid) == 0;
  mode_t perms = real_perms(e);
  if (fchmod(fd.get(), perms) != 0) return entry_error(e.path, "cannot set mode");
  LX_TRY(label(fd.get(), e, S_IFREG | perms, false, native));
  const struct timespec times[2] = {e.mtime, e.mtime};
  if (futimens(fd.get(), times) != 0) return entry_error(e.path, "cannot set times");
  return ok();
}

Result<void> RootfsWriter::add_symlink(int parent, const std::string& leaf, const FsEntry& e) {
  if (symlinkat(e.symlink.c_str(), parent, leaf.c_str()) != 0) return entry_error(e.path, "cannot create symbolic link");
  if (privileged_) fchownat(parent, leaf.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
  const struct timespec times[2] = {e.mtime, e.mtime};
  utimensat(parent, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW);
  return ok();
}

Result<void> RootfsWriter::add_special(int parent, const std::string& leaf, const FsEntry& e) {
  mode_t type = e.mode & S_IFMT;
  bool emulated = false;
  if (mknodat(parent, leaf.c_str(), type | 0600, type == S_IFIFO ? 0 : e.rdev) != 0) {
    if (type == S_IFIFO || (errno != EPERM && errno != EACCES)) return entry_error(e.path, "cannot create special file");
    // The host refuses device nodes: an empty file whose metadata says what it is (as the fs plugin's mknod).
    UniqueFd f(openat(parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!f) return entry_error(e.path, "cannot create the file standing for a device node");
    emulated = true;
  }
  UniqueFd fd(openat(parent, leaf.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return entry_error(e.path, "cannot open");
  bool native = privileged_ && fchownat(fd.get(), "", e.uid, e.gid, AT_EMPTY_PATH) == 0;
  mode_t real_perm = emulated ? 0600 : real_perms(e);
  if (fchmodat(parent, leaf.c_str(), real_perm, 0) != 0) return entry_error(e.path, "cannot set mode");
  LX_TRY(label(fd.get(), e, (emulated ? S_IFREG : type) | real_perm, emulated, native));
  const struct timespec times[2] = {e.mtime, e.mtime};
  utimensat(parent, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW);
  return ok();
}

Result<void> RootfsWriter::finish() {
  for (auto it = deferred_.rbegin(); it != deferred_.rend(); ++it) {
    LX_TRY_ASSIGN(dir, open_dir(it->path, false, it->path.empty() ? "." : it->path));
    if (fchmod(dir.get(), it->perms) != 0) return entry_error(it->path.empty() ? "." : it->path, "cannot set mode");
    if (it->has_time) {
      const struct timespec times[2] = {it->mtime, it->mtime};
      futimens(dir.get(), times);
    }
  }
  deferred_.clear();
  deferred_index_.clear();
  return ok();
}

}  // namespace lx::store
