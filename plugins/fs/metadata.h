// Ownership, mode and device numbers the host user cannot set, kept in an extended attribute
// (user.lxhost.meta), as WSL keeps $LXUID/$LXGID/$LXMOD/$LXDEV, and shown by stat.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>

namespace lx::fs {

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
/// none is stored, or another errno.
int read_metadata(int fd, Metadata& out);
/// Reads the metadata of entry `name` in directory `dirfd` in one call (no symlink followed).
int read_metadata_at(int dirfd, const std::string& name, Metadata& out);
/// Stores `meta` on the file open as `fd` (removes the attribute when `meta` is empty).
int write_metadata(int fd, const Metadata& meta);

/// Overlays `meta` on a stat result.
void apply_metadata(const Metadata& meta, struct stat& st);
/// Overlays `meta` on a statx result.
void apply_metadata(const Metadata& meta, struct statx& stx);

}  // namespace lx::fs
