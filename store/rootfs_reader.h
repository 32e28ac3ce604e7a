// RootfsReader: walks a directory tree without following symbolic links and describes every
// entry with the owner, mode and device number the fs metadata gives it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>
#include <utility>

#include "base/result.h"
#include "fsmeta/metadata.h"
#include "store/fs_entry.h"

namespace lx::store {

/// Host ids [outside, outside+count) that are ids [inside, ...) in the user's user namespace
/// (its delegated subordinate range: what the kernel backend's guests own, seen from the host).
struct IdShift {
  std::uint32_t inside = 0, outside = 0, count = 0;
};

/// Reads a rootfs (or any directory tree) as FsEntry values.
class RootfsReader {
 public:
  /// Owner of an entry that has no metadata owner.
  enum class Owners {
    kReal,             ///< the real owner
    kHostUserIsRoot,   ///< the real owner, but the host user's own uid/gid read as 0 (as fake root shows them)
  };

  /// Called for each entry with the directory it is in and its name there.
  using Visit = std::function<Result<void>(const FsEntry& entry, int dirfd, const std::string& name)>;

  /// A reader of the tree at `root`; metadata comes from extended attributes, falling back to
  /// `sidecar_dir` when it is not empty and the filesystem has no user extended attributes.
  RootfsReader(std::filesystem::path root, std::filesystem::path sidecar_dir, Owners owners);

  /// With kHostUserIsRoot, also reads owners in these ranges as the ids they are inside.
  void set_subordinate_ids(std::vector<IdShift> uids, std::vector<IdShift> gids) {
    sub_uids_ = std::move(uids);
    sub_gids_ = std::move(gids);
  }

  /// Visits the root (path "") and then every entry, parents first, names sorted; a second
  /// name of a hard-linked file comes with `hardlink` set to the first.
  Result<void> walk(const Visit& visit);

  /// Sum of the sizes of the regular files under the root (hard links counted once).
  Result<std::uint64_t> data_size();

 private:
  Result<void> walk_dir(int dirfd, const std::string& rel, const Visit& visit);
  Result<FsEntry> describe(int dirfd, const std::string& name, const std::string& rel, const struct stat& st);

  std::filesystem::path root_;
  fsmeta::MetadataStore meta_;
  Owners owners_;
  std::vector<IdShift> sub_uids_, sub_gids_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

}  // namespace lx::store
