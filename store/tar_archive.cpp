// TarArchive: libarchive reading (every filter and format) and pax writing.
#include "store/tar_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/unique_fd.h"

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

std::string archive_reason(struct archive* a) {
  const char* s = archive_error_string(a);
  return s && *s ? s : "unknown libarchive error";
}

int archive_code(struct archive* a) {
  int e = archive_errno(a);
  return e > 0 ? e : EIO;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<void> write_all(int fd, const char* p, std::size_t n, off_t offset) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, offset);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Error{errno, fmt::format("cannot write file data: {}", std::strerror(errno))};
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    offset += w;
  }
  return ok();
}

}  // namespace

Result<TarArchive::Compression> TarArchive::compression_for(const std::filesystem::path& out) {
  std::string name = out.filename().string();
  if (ends_with(name, ".tar")) return Compression::kNone;
  if (ends_with(name, ".tar.gz") || ends_with(name, ".tgz")) return Compression::kGzip;
  if (ends_with(name, ".tar.xz") || ends_with(name, ".txz")) return Compression::kXz;
  if (ends_with(name, ".tar.zst") || ends_with(name, ".tzst")) return Compression::kZstd;
  return Error{EINVAL, "unknown archive type; the name must end in .tar, .tar.gz, .tar.xz or .tar.zst"};
}

Result<void> TarArchive::extract(const std::filesystem::path& tarball, RootfsWriter& writer, const ProgressFn& progress) {
  std::unique_ptr<struct archive, ReadDeleter> a(archive_read_new());
  if (!a) return Error{ENOMEM, "cannot create a libarchive reader"};
  archive_read_support_filter_all(a.get());
  // Tarballs only (format_all would read a text file as an mtree listing); an empty file is
  // recognized, to say that it holds no entries.
  archive_read_support_format_tar(a.get());
  archive_read_support_format_empty(a.get());
  struct stat st;
  if (::stat(tarball.c_str(), &st) != 0) return Error{errno, std::strerror(errno)};
  if (S_ISDIR(st.st_mode)) return Error{EISDIR, "is a directory, not an archive"};
  if (archive_read_open_filename(a.get(), tarball.c_str(), 1 << 16) != ARCHIVE_OK)
    return Error{archive_code(a.get()), archive_reason(a.get())};

  ProgressReporter reporter(progress);
  Progress p;
  p.total_bytes = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
  for (;;) {
    struct archive_entry* ae = nullptr;
    int r = archive_read_next_header(a.get(), &ae);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return Error{archive_code(a.get()), archive_reason(a.get())};
    const char* raw = archive_entry_pathname(ae);
    if (!raw) raw = archive_entry_pathname_utf8(ae);
    if (!raw) return Error{EILSEQ, fmt::format("entry {}: the name cannot be decoded", p.entries + 1)};
    auto path = RootfsWriter::clean_path(raw);
    if (!path) return std::move(path).error();

    FsEntry e;
    e.path = *path;
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

    struct archive* ar = a.get();
    auto data = [&](int fd) -> Result<void> {
      const void* buf = nullptr;
      std::size_t size = 0;
      la_int64_t offset = 0;
      std::uint64_t end = 0;
      for (;;) {
        int rr = archive_read_data_block(ar, &buf, &size, &offset);
        if (rr == ARCHIVE_EOF) break;
        if (rr < ARCHIVE_WARN) return Error{archive_code(ar), archive_reason(ar)};
        if (auto w = write_all(fd, static_cast<const char*>(buf), size, offset); !w) return w;
        end = std::max<std::uint64_t>(end, static_cast<std::uint64_t>(offset) + size);
        p.done_bytes = static_cast<std::uint64_t>(archive_filter_bytes(ar, -1));
        reporter.update(p);
      }
      std::uint64_t want = std::max(end, e.size);
      if (ftruncate(fd, static_cast<off_t>(want)) != 0)
        return Error{errno, fmt::format("cannot set the file size: {}", std::strerror(errno))};
      return ok();
    };
    p.current = e.path;
    if (auto w = writer.add(e, data); !w) return w;
    ++p.entries;
    p.done_bytes = static_cast<std::uint64_t>(archive_filter_bytes(a.get(), -1));
    reporter.update(p);
  }
  if (p.entries == 0) return Error{EINVAL, "the archive has no entries"};
  p.done_bytes = static_cast<std::uint64_t>(archive_filter_bytes(a.get(), -1));
  if (p.total_bytes) p.done_bytes = p.total_bytes;
  p.current.clear();
  reporter.update(p, true);
  return ok();
}

Result<void> TarArchive::create(RootfsReader& reader, const std::filesystem::path& out, Compression compression,
                                const ProgressFn& progress) {
  auto total = reader.data_size();
  if (!total) return std::move(total).error();
  std::unique_ptr<struct archive, WriteDeleter> a(archive_write_new());
  if (!a) return Error{ENOMEM, "cannot create a libarchive writer"};
  int r = ARCHIVE_OK;
  switch (compression) {
    case Compression::kNone: break;
    case Compression::kGzip: r = archive_write_add_filter_gzip(a.get()); break;
    case Compression::kXz: r = archive_write_add_filter_xz(a.get()); break;
    case Compression::kZstd: r = archive_write_add_filter_zstd(a.get()); break;
  }
  if (r != ARCHIVE_OK) return Error{archive_code(a.get()), archive_reason(a.get())};
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_open_filename(a.get(), out.c_str()) != ARCHIVE_OK)
    return Error{archive_code(a.get()), archive_reason(a.get())};

  ProgressReporter reporter(progress);
  Progress p;
  p.total_bytes = *total;
  std::vector<char> buf(1 << 17);
  auto visit = [&](const FsEntry& e, int dirfd, const std::string& name) -> Result<void> {
    if (e.path.empty()) return ok();
    if (S_ISSOCK(e.mode)) return ok();
    std::unique_ptr<struct archive_entry, EntryDeleter> ae(archive_entry_new());
    archive_entry_set_pathname(ae.get(), e.path.c_str());
    archive_entry_set_mode(ae.get(), e.mode);
    archive_entry_set_uid(ae.get(), e.uid);
    archive_entry_set_gid(ae.get(), e.gid);
    archive_entry_set_mtime(ae.get(), e.mtime.tv_sec, e.mtime.tv_nsec);
    if (S_ISCHR(e.mode) || S_ISBLK(e.mode)) archive_entry_set_rdev(ae.get(), e.rdev);
    if (S_ISLNK(e.mode)) archive_entry_set_symlink(ae.get(), e.symlink.c_str());
    bool has_data = S_ISREG(e.mode) && e.hardlink.empty();
    if (!e.hardlink.empty()) archive_entry_set_hardlink(ae.get(), e.hardlink.c_str());
    archive_entry_set_size(ae.get(), has_data ? static_cast<la_int64_t>(e.size) : 0);
    p.current = e.path;
    if (archive_write_header(a.get(), ae.get()) < ARCHIVE_WARN)
      return Error{archive_code(a.get()), fmt::format("entry '{}': {}", e.path, archive_reason(a.get()))};
    if (has_data && e.size > 0) {
      UniqueFd fd(openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return Error{errno, fmt::format("entry '{}': cannot open: {}", e.path, std::strerror(errno))};
      std::uint64_t left = e.size;
      while (left > 0) {
        ssize_t n = ::read(fd.get(), buf.data(), std::min<std::uint64_t>(buf.size(), left));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error{errno, fmt::format("entry '{}': cannot read: {}", e.path, std::strerror(errno))};
        if (n == 0) return Error{EIO, fmt::format("entry '{}': the file shrank while being archived", e.path)};
        if (archive_write_data(a.get(), buf.data(), static_cast<std::size_t>(n)) < 0)
          return Error{archive_code(a.get()), fmt::format("entry '{}': {}", e.path, archive_reason(a.get()))};
        left -= static_cast<std::uint64_t>(n);
        p.done_bytes += static_cast<std::uint64_t>(n);
        reporter.update(p);
      }
    }
    ++p.entries;
    reporter.update(p);
    return ok();
  };
  if (auto w = reader.walk(visit); !w) return w;
  if (archive_write_close(a.get()) != ARCHIVE_OK) return Error{archive_code(a.get()), archive_reason(a.get())};
  p.current.clear();
  reporter.update(p, true);
  return ok();
}

}  // namespace lx::store
