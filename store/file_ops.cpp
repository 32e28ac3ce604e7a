// Whole writes, atomic file replacement, tree removal and no-replace renames.
#include "store/file_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/unique_fd.h"

namespace lx::store {
namespace {

Error errno_error(const std::string& what, const std::filesystem::path& path, int code = errno) {
  return Error{code, fmt::format("{} {}: {}", what, path.string(), std::strerror(code))};
}

Result<void> remove_at(int dirfd, const std::string& name, const std::filesystem::path& path) {
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return ok();
    return errno_error("cannot remove", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) return errno_error("cannot remove", path);
    return ok();
  }
  if ((st.st_mode & S_IRWXU) != S_IRWXU) fchmodat(dirfd, name.c_str(), (st.st_mode & 07777) | S_IRWXU, 0);
  int fd = openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open directory", path);
  DIR* d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return errno_error("cannot read directory", path, e);
  }
  Result<void> result;
  while (struct dirent* ent = readdir(d)) {
    std::string child = ent->d_name;
    if (child == "." || child == "..") continue;
    if (auto r = remove_at(::dirfd(d), child, path / child); !r) {
      result = std::move(r);
      break;
    }
  }
  closedir(d);
  if (!result) return result;
  if (unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) return errno_error("cannot remove", path);
  return ok();
}

}  // namespace

Result<void> write_all(int fd, const char* data, std::size_t n, off_t offset) {
  while (n > 0) {
    ssize_t w = pwrite(fd, data, n, offset);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Error{errno, fmt::format("cannot write file data: {}", std::strerror(errno))};
    }
    data += w;
    n -= static_cast<std::size_t>(w);
    offset += w;
  }
  return ok();
}

Result<void> write_file_atomic(const std::filesystem::path& path, const std::string& content) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path tmp = path;
  tmp += fmt::format(".tmp.{}.{}", getpid(), counter++);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return errno_error("cannot create", tmp);
  if (auto w = write_all(fd.get(), content.data(), content.size(), 0); !w) {
    unlink(tmp.c_str());
    return errno_error("cannot write", tmp, w.error().code);
  }
  if (fsync(fd.get()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return errno_error("cannot sync", tmp, e);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return errno_error("cannot rename into place", path, e);
  }
  UniqueFd dir(::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) fsync(dir.get());
  return ok();
}

Result<std::string> read_file(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("cannot open", path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

Result<void> remove_tree(const std::filesystem::path& path) {
  std::filesystem::path parent = path.parent_path();
  UniqueFd dir(::open(parent.empty() ? "." : parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    if (errno == ENOENT) return ok();
    return errno_error("cannot open", parent);
  }
  return remove_at(dir.get(), path.filename().string(), path);
}

Result<void> rename_noreplace(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0)
    return Error{errno, fmt::format("cannot rename {} to {}: {}", from.string(), to.string(), std::strerror(errno))};
  return ok();
}

}  // namespace lx::store
