// Filesystem helpers of the store: whole writes, atomic file replacement and removal of any tree.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>

#include "base/result.h"

namespace lx::store {

/// Writes `content` to `path` atomically: a temporary file beside it, fsync, rename, fsync of the directory.
Result<void> write_file_atomic(const std::filesystem::path& path, const std::string& content);

/// Writes all `n` bytes at `data` to `fd` at `offset` (pwrite, EINTR retried); the error says
/// "cannot write file data".
Result<void> write_all(int fd, const char* data, std::size_t n, off_t offset);

/// Reads the whole of `path` (ENOENT when missing).
Result<std::string> read_file(const std::filesystem::path& path);

/// Removes `path` and everything under it, first giving its owner rwx on every directory so
/// restrictive modes (0500, 0000) do not stop it; symbolic links are removed, never followed.
Result<void> remove_tree(const std::filesystem::path& path);

/// Renames `from` to `to`, failing with EEXIST instead of replacing an existing `to`.
Result<void> rename_noreplace(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace lx::store
