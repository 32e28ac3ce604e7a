// TarArchive: libarchive reading (every filter and format) and pax writing.
#include "store/tar_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/unique_fd.h"
#include "store/file_ops.h"

namespace lx::store {
namespace {

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<struct archive_entry, EntryDeleter>;

// libarchive's last error on `a`, prefixed with "entry 'PATH': " when `path` is given.
Error archive_error(struct archive* a, const std::string& path = {}) {
  int e = archive_errno(a);
  const char* s = archive_error_string(a);
  std::string reason = s && *s ? s : "unknown libarchive error";
  return Error{e > 0 ? e : EIO, path.empty() ? reason : fmt::format("entry '{}': {}", path, reason)};
}

std::uint64_t bytes_read(struct archive* a) { return static_cast<std::uint64_t>(archive_filter_bytes(a, -1)); }

// Opens `tarball` (stat'ed into `st`) for reading by `a`.
Result<void> open_for_reading(struct archive* a, const std::filesystem::path& tarball, struct stat& st) {
  archive_read_support_filter_all(a);
  // Tarballs only (format_all would read a text file as an mtree listing); an empty file is
  // recognized, to say that it holds no entries.
  archive_read_support_format_tar(a);
  archive_read_support_format_empty(a);
  if (::stat(tarball.c_str(), &st) != 0) return Error{errno, std::strerror(errno)};
  if (S_ISDIR(st.st_mode)) return Error{EISDIR, "is a directory, not an archive"};
  if (archive_read_open_filename(a, tarball.c_str(), 1 << 16) != ARCHIVE_OK) return archive_error(a);
  return ok();
}

// The FsEntry of archive entry number `index` (0-based), its paths cleaned.
Result<FsEntry> entry_of(struct archive_entry* ae, std::uint64_t index) {
  const char* raw = archive_entry_pathname(ae);
  if (!raw) raw = archive_entry_pathname_utf8(ae);
  if (!raw) return Error{EILSEQ, fmt::format("entry {}: the name cannot be decoded", index + 1)};
  LX_TRY_ASSIGN(path, RootfsWriter::clean_path(raw));
  FsEntry e;
  e.path = std::move(path);
  e.mode = archive_entry_mode(ae);
  e.uid = static_cast<uid_t>(archive_entry_uid(ae));
  e.gid = static_cast<gid_t>(archive_entry_gid(ae));
  e.rdev = archive_entry_rdev(ae);
  e.mtime.tv_sec = archive_entry_mtime(ae);
  e.mtime.tv_nsec = archive_entry_mtime_nsec(ae);
  if (const char* target = archive_entry_hardlink(ae)) {
    auto t = RootfsWriter::clean_path(target);
    if (!t) return Error{EINVAL, fmt::format("entry '{}': hard link target: {}", e.path, t.error().message)};
    e.hardlink = *t;
  } else if (S_ISLNK(e.mode)) {
    const char* target = archive_entry_symlink(ae);
    e.symlink = target ? target : "";
  } else if (S_ISREG(e.mode)) {
    e.size = archive_entry_size_is_set(ae) ? static_cast<std::uint64_t>(archive_entry_size(ae)) : 0;
  }
  if ((e.mode & S_IFMT) == 0) e.mode |= S_IFREG;  // old tar: a regular file
  return e;
}

// Copies the current entry's data blocks from `a` into `fd` (holes kept), then sets its size.
Result<void> extract_data(struct archive* a, int fd, std::uint64_t size, Progress& p, ProgressReporter& reporter) {
  const void* buf = nullptr;
  std::size_t n = 0;
  la_int64_t offset = 0;
  std::uint64_t end = 0;
  for (;;) {
    int r = archive_read_data_block(a, &buf, &n, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return archive_error(a);
    LX_TRY(write_all(fd, static_cast<const char*>(buf), n, offset));
    end = std::max<std::uint64_t>(end, static_cast<std::uint64_t>(offset) + n);
    p.done_bytes = bytes_read(a);
    reporter.update(p);
  }
  if (ftruncate(fd, static_cast<off_t>(std::max(end, size))) != 0)
    return Error{errno, fmt::format("cannot set the file size: {}", std::strerror(errno))};
  return ok();
}

// A pax writer of `out` with `compression`.
Result<std::unique_ptr<struct archive, WriteDeleter>> open_for_writing(const std::filesystem::path& out,
                                                                       TarArchive::Compression compression) {
  std::unique_ptr<struct archive, WriteDeleter> a(archive_write_new());
  if (!a) return Error{ENOMEM, "cannot create a libarchive writer"};
  int r = ARCHIVE_OK;
  switch (compression) {
    case TarArchive::Compression::kNone: break;
    case TarArchive::Compression::kGzip: r = archive_write_add_filter_gzip(a.get()); break;
    case TarArchive::Compression::kXz: r = archive_write_add_filter_xz(a.get()); break;
    case TarArchive::Compression::kZstd: r = archive_write_add_filter_zstd(a.get()); break;
  }
  if (r != ARCHIVE_OK) return archive_error(a.get());
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_open_filename(a.get(), out.c_str()) != ARCHIVE_OK)
    return archive_error(a.get());
  return a;
}

// The archive header of `e`; `has_data` when its file data follows.
EntryPtr header_of(const FsEntry& e, bool has_data) {
  EntryPtr ae(archive_entry_new());
  archive_entry_set_pathname(ae.get(), e.path.c_str());
  archive_entry_set_mode(ae.get(), e.mode);
  archive_entry_set_uid(ae.get(), e.uid);
  archive_entry_set_gid(ae.get(), e.gid);
  archive_entry_set_mtime(ae.get(), e.mtime.tv_sec, e.mtime.tv_nsec);
  if (S_ISCHR(e.mode) || S_ISBLK(e.mode)) archive_entry_set_rdev(ae.get(), e.rdev);
  if (S_ISLNK(e.mode)) archive_entry_set_symlink(ae.get(), e.symlink.c_str());
  if (!e.hardlink.empty()) archive_entry_set_hardlink(ae.get(), e.hardlink.c_str());
  archive_entry_set_size(ae.get(), has_data ? static_cast<la_int64_t>(e.size) : 0);
  return ae;
}

// Appends the e.size bytes of file `name` in `dirfd` to `a`, through `buf`.
Result<void> archive_data(struct archive* a, int dirfd, const std::string& name, const FsEntry& e,
                          std::vector<char>& buf, Progress& p, ProgressReporter& reporter) {
  UniqueFd fd(openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error{errno, fmt::format("entry '{}': cannot open: {}", e.path, std::strerror(errno))};
  std::uint64_t left = e.size;
  while (left > 0) {
    ssize_t n = ::read(fd.get(), buf.data(), std::min<std::uint64_t>(buf.size(), left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{errno, fmt::format("entry '{}': cannot read: {}", e.path, std::strerror(errno))};
    if (n == 0) return Error{EIO, fmt::format("entry '{}': the file shrank while being archived", e.path)};
    if (archive_write_data(a, buf.data(), static_cast<std::size_t>(n)) < 0) return archive_error(a, e.path);
    left -= static_cast<std::uint64_t>(n);
    p.done_bytes += static_cast<std::uint64_t>(n);
    reporter.update(p);
  }
  return ok();
}

}  // namespace

Result<TarArchive::Compression> TarArchive::compression_for(const std::filesystem::path& out) {
  std::string name = out.filename().string();
  if (name.ends_with(".tar")) return Compression::kNone;
  if (name.ends_with(".tar.gz") || name.ends_with(".tgz")) return Compression::kGzip;
  if (name.ends_with(".tar.xz") || name.ends_with(".txz")) return Compression::kXz;
  if (name.ends_with(".tar.zst") || name.ends_with(".tzst")) return Compression::kZstd;
  return Error{EINVAL, "unknown archive type; the name must end in .tar, .tar.gz, .tar.xz or .tar.zst"};
}

Result<void> TarArchive::extract(const std::filesystem::path& tarball, RootfsWriter& writer, const ProgressFn& progress) {
  std::unique_ptr<struct archive, ReadDeleter> a(archive_read_new());
  if (!a) return Error{ENOMEM, "cannot create a libarchive reader"};
  struct stat st;
  LX_TRY(open_for_reading(a.get(), tarball, st));
  ProgressReporter reporter(progress);
  Progress p;
  p.total_bytes = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
  for (;;) {
    struct archive_entry* ae = nullptr;
    int r = archive_read_next_header(a.get(), &ae);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return archive_error(a.get());
    LX_TRY_ASSIGN(e, entry_of(ae, p.entries));
    p.current = e.path;
    LX_TRY(writer.add(e, [&](int fd) { return extract_data(a.get(), fd, e.size, p, reporter); }));
    ++p.entries;
    p.done_bytes = bytes_read(a.get());
    reporter.update(p);
  }
  if (p.entries == 0) return Error{EINVAL, "the archive has no entries"};
  p.done_bytes = p.total_bytes ? p.total_bytes : bytes_read(a.get());
  p.current.clear();
  reporter.update(p, true);
  return ok();
}

Result<void> TarArchive::create(RootfsReader& reader, const std::filesystem::path& out, Compression compression,
                                const ProgressFn& progress) {
  LX_TRY_ASSIGN(total, reader.data_size());
  LX_TRY_ASSIGN(a, open_for_writing(out, compression));
  ProgressReporter reporter(progress);
  Progress p;
  p.total_bytes = total;
  std::vector<char> buf(1 << 17);
  LX_TRY(reader.walk([&](const FsEntry& e, int dirfd, const std::string& name) -> Result<void> {
    if (e.path.empty() || S_ISSOCK(e.mode)) return ok();
    bool has_data = S_ISREG(e.mode) && e.hardlink.empty();
    p.current = e.path;
    if (archive_write_header(a.get(), header_of(e, has_data).get()) < ARCHIVE_WARN) return archive_error(a.get(), e.path);
    if (has_data && e.size > 0) LX_TRY(archive_data(a.get(), dirfd, name, e, buf, p, reporter));
    ++p.entries;
    reporter.update(p);
    return ok();
  }));
  if (archive_write_close(a.get()) != ARCHIVE_OK) return archive_error(a.get());
  p.current.clear();
  reporter.update(p, true);
  return ok();
}

}  // namespace lx::store
