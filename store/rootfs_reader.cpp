// RootfsReader: an openat-based walk with the metadata overlay.
#include "store/rootfs_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "base/unique_fd.h"

namespace lx::store {
namespace {

Error walk_error(const std::filesystem::path& root, const std::string& rel, const std::string& what, int code = errno) {
  return Error{code, fmt::format("{} {}: {}", what, (rel.empty() ? root : root / rel).string(), std::strerror(code))};
}

// `id` as the user namespace sees it, when a range holds it.
std::optional<std::uint32_t> shifted(const std::vector<IdShift>& ranges, std::uint32_t id) {
  for (const auto& r : ranges)
    if (id >= r.outside && id - r.outside < r.count) return r.inside + (id - r.outside);
  return std::nullopt;
}

}  // namespace

RootfsReader::RootfsReader(std::filesystem::path root, std::filesystem::path sidecar_dir, Owners owners)
    : root_(std::move(root)), owners_(owners) {
  meta_.configure(sidecar_dir.empty() ? fsmeta::MetadataStore::Mode::kXattr : fsmeta::MetadataStore::Mode::kAuto,
                  sidecar_dir.string());
}

Result<FsEntry> RootfsReader::describe(int dirfd, const std::string& name, const std::string& rel,
                                       const struct stat& st) {
  FsEntry e;
  e.path = rel;
  e.mode = st.st_mode;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  std::optional<std::uint32_t> real_uid, real_gid;
  if (owners_ == Owners::kHostUserIsRoot) {
    if (e.uid == geteuid()) e.uid = 0;
    if (e.gid == getegid()) e.gid = 0;
    // An owner in the user's subordinate range was set for real (by a kernel-backend guest, or
    // the conversion of recorded owners): it is the owner, whatever metadata says.
    real_uid = shifted(sub_uids_, e.uid);
    real_gid = shifted(sub_gids_, e.gid);
    if (real_uid) e.uid = *real_uid;
    if (real_gid) e.gid = *real_gid;
  }
  e.rdev = (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) ? st.st_rdev : 0;
  e.mtime = st.st_mtim;
  if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 255) + 1, '\0');
    ssize_t n = readlinkat(dirfd, name.c_str(), target.data(), target.size());
    if (n < 0) return walk_error(root_, rel, "cannot read symbolic link");
    target.resize(static_cast<std::size_t>(n));
    e.symlink = std::move(target);
    return e;
  }
  fsmeta::Metadata m;
  int err = meta_.read_at(dirfd, name, m);
  if (err == 0) {
    if (m.uid && !real_uid) e.uid = *m.uid;
    if (m.gid && !real_gid) e.gid = *m.gid;
    if (m.mode) e.mode = *m.mode;
    if (m.rdev) e.rdev = *m.rdev;
  } else if (err != ENODATA && err != ENOTSUP && err != EOPNOTSUPP && err != EPERM) {
    return walk_error(root_, rel, "cannot read ownership metadata of", err);
  }
  if (S_ISREG(e.mode)) e.size = static_cast<std::uint64_t>(st.st_size);
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
    auto [it, fresh] = links_.emplace(std::make_pair(st.st_dev, st.st_ino), rel);
    if (!fresh) {
      e.hardlink = it->second;
      e.size = 0;
    }
  }
  return e;
}

Result<void> RootfsReader::walk_dir(int dirfd, const std::string& rel, const Visit& visit) {
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return walk_error(root_, rel, "cannot open directory");
  DIR* d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return walk_error(root_, rel, "cannot read directory", e);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* ent = readdir(d)) {
    std::string n = ent->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  int read_err = errno;
  closedir(d);
  if (read_err != 0) return walk_error(root_, rel, "cannot read directory", read_err);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::string child = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return walk_error(root_, child, "cannot stat");
    LX_TRY_ASSIGN(e, describe(dirfd, name, child, st));
    LX_TRY(visit(e, dirfd, name));
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) return walk_error(root_, child, "cannot open directory");
      LX_TRY(walk_dir(sub.get(), child, visit));
    }
  }
  return ok();
}

Result<void> RootfsReader::walk(const Visit& visit) {
  links_.clear();
  UniqueFd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return walk_error(root_, "", "cannot open directory");
  struct stat st;
  if (fstat(root.get(), &st) != 0) return walk_error(root_, "", "cannot stat");
  LX_TRY_ASSIGN(e, describe(root.get(), ".", "", st));
  LX_TRY(visit(e, root.get(), "."));
  return walk_dir(root.get(), "", visit);
}

Result<std::uint64_t> RootfsReader::data_size() {
  std::uint64_t total = 0;
  LX_TRY(walk([&](const FsEntry& e, int, const std::string&) -> Result<void> {
    if (S_ISREG(e.mode) && e.hardlink.empty()) total += e.size;
    return ok();
  }));
  return total;
}

}  // namespace lx::store
