// FsEntry: one filesystem entry as an archive or a directory tree describes it.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <string>

namespace lx::store {

/// A file, directory, link or special file with the owner and mode it should have.
struct FsEntry {
  std::string path;          ///< relative to the rootfs, no "." or ".." components; "" is the rootfs itself
  mode_t mode = 0;           ///< full st_mode (type and permission bits)
  uid_t uid = 0;             ///< owner
  gid_t gid = 0;             ///< group
  dev_t rdev = 0;            ///< device number of a character or block device
  std::string symlink;       ///< target of a symbolic link
  std::string hardlink;      ///< for a hard link: the path (as above) of the entry it links to
  std::uint64_t size = 0;    ///< size of a regular file's data
  struct timespec mtime{};   ///< modification time
};

}  // namespace lx::store
