// Ownership, mode and device numbers the host user cannot set, kept in an extended attribute
// (user.lxhost.meta), as WSL keeps $LXUID/$LXGID/$LXMOD/$LXDEV, and shown by stat.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <optional>
#include <string>

namespace lx::fsmeta {

/// The name of the extended attribute.
inline constexpr const char* kMetaXattr = "user.lxhost.meta";

/// Emulated metadata of one file; unset fields show the real value.
struct Metadata {
  std::optional<uid_t> uid;   ///< owner
  std::optional<gid_t> gid;   ///< group
  std::optional<mode_t> mode; ///< full st_mode (type and permission bits)
  std::optional<dev_t> rdev;  ///< device number of an emulated device node

  /// Whether nothing is set.
  bool empty() const noexcept { return !uid && !gid && !mode && !rdev; }
  /// "uid=0 gid=0 mode=020644 rdev=259" (set fields only).
  std::string encode() const;
  /// Parses encode()'s form; unknown fields are ignored.
  static Metadata decode(const std::string& text);
};

/// Reads the metadata of the file open as `fd` (any fd, O_PATH included). 0, or ENODATA when
/// none is stored, ENOTSUP when the filesystem has no user xattrs, or another errno.
int read_metadata(int fd, Metadata& out);
/// Reads the metadata of entry `name` in directory `dirfd` in one call (no symlink followed).
int read_metadata_at(int dirfd, const std::string& name, Metadata& out);
/// Stores `meta` on the file open as `fd` (removes the attribute when `meta` is empty).
int write_metadata(int fd, const Metadata& meta);

/// Where metadata is kept: extended attributes, a sidecar directory keyed by device and inode
/// (for filesystems without user xattrs), or xattrs with the sidecar as fallback.
class MetadataStore {
 public:
  /// Storage choice.
  enum class Mode { kAuto, kXattr, kSidecar };

  /// Sets the mode and the sidecar directory (created on first write).
  void configure(Mode mode, std::string sidecar_dir) {
    mode_ = mode;
    dir_ = std::move(sidecar_dir);
  }
  /// Metadata of the file open as `fd`: 0, ENODATA (none) or an errno.
  int read(int fd, Metadata& out);
  /// Metadata of entry `name` of directory `dirfd`, no symlink followed.
  int read_at(int dirfd, const std::string& name, Metadata& out);
  /// Stores `meta` for the file open as `fd` (removes it when empty).
  int write(int fd, const Metadata& meta);
  /// The sidecar directory.
  const std::string& sidecar_dir() const noexcept { return dir_; }

 private:
  int sidecar_read(const struct stat& st, Metadata& out);
  int sidecar_write(const struct stat& st, const Metadata& meta);
  std::string sidecar_file(const struct stat& st) const;
  void warn_once();

  Mode mode_ = Mode::kAuto;
  std::string dir_;
  std::atomic<bool> warned_{false};
};

/// Overlays `meta` on a stat result.
void apply_metadata(const Metadata& meta, struct stat& st);
/// Overlays `meta` on a statx result.
void apply_metadata(const Metadata& meta, struct statx& stx);

}  // namespace lx::fsmeta
