// RootfsWriter: creates entries in a rootfs directory safely (never outside it, never through a
// symbolic link), applying ownership natively as root and as fs metadata otherwise.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "fsmeta/metadata.h"
#include "store/fs_entry.h"

namespace lx::store {

/// Writes FsEntry values into a rootfs. Real modes keep the owner's access (directories u+rwx,
/// files u+rw) unless running as root; the entry's exact owner, mode and device number go in the
/// user.lxhost.meta metadata whenever the host could not apply them. Device nodes the host
/// refuses to create become empty files whose metadata says what they are, as the fs plugin's
/// mknod does. Directory modes and times are applied by finish(), as tar does.
class RootfsWriter {
 public:
  /// Writes a regular file's data into the open fd.
  using DataFn = std::function<Result<void>(int fd)>;

  /// A writer for the existing directory `rootfs`; metadata falls back to files under
  /// `sidecar_dir` on filesystems without user extended attributes.
  static Result<std::unique_ptr<RootfsWriter>> open(const std::filesystem::path& rootfs,
                                                    const std::filesystem::path& sidecar_dir);

  /// `raw` as an FsEntry path: leading '/' and "." components dropped; ".." refused.
  static Result<std::string> clean_path(std::string_view raw);

  /// Creates `entry` (replacing what is at its path, unless both are directories); `data` fills a regular file.
  Result<void> add(const FsEntry& entry, const DataFn& data = {});

  /// Applies the deferred directory modes and times; call once after the last add().
  Result<void> finish();

  /// Bytes of regular file data written so far.
  std::uint64_t data_bytes() const noexcept { return data_bytes_; }

 private:
  struct Deferred {
    std::string path;
    mode_t perms = 0755;
    bool has_time = false;
    struct timespec mtime{};
  };

  RootfsWriter() = default;
  Result<UniqueFd> open_parent(const std::string& path, bool create, std::string& leaf);
  Result<UniqueFd> open_dir(const std::string& path, bool create, const std::string& entry);
  Result<void> make_room(int parent, const std::string& leaf, const FsEntry& e);
  Result<void> label(int fd, const FsEntry& e, mode_t real_mode, bool emulated, bool native_owner);
  // add() of each kind of entry, into the directory `parent` as `leaf`.
  Result<void> add_root(const FsEntry& e);
  Result<void> add_hardlink(int parent, const std::string& leaf, const FsEntry& e);
  Result<void> add_dir(int parent, const std::string& leaf, const FsEntry& e);
  Result<void> add_file(int parent, const std::string& leaf, const FsEntry& e, const DataFn& data);
  Result<void> add_symlink(int parent, const std::string& leaf, const FsEntry& e);
  Result<void> add_special(int parent, const std::string& leaf, const FsEntry& e);
  void defer_dir(const std::string& path, mode_t perms, const struct timespec* mtime);
  mode_t real_perms(const FsEntry& e) const;

  UniqueFd root_;
  fsmeta::MetadataStore meta_;
  bool privileged_ = false;
  std::uint64_t data_bytes_ = 0;
  std::vector<Deferred> deferred_;
  std::map<std::string, std::size_t> deferred_index_;
};

}  // namespace lx::store
