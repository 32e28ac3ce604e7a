// TarArchive: tarballs through libarchive: extraction into a RootfsWriter and creation from a
// RootfsReader, with the compression chosen by file name.
#pragma once

#include <filesystem>

#include "base/result.h"
#include "store/progress.h"
#include "store/rootfs_reader.h"
#include "store/rootfs_writer.h"

namespace lx::store {

/// Reads and writes tar archives (any format and compression libarchive reads; pax out).
class TarArchive {
 public:
  /// Compression of a written archive.
  enum class Compression { kNone, kGzip, kXz, kZstd };

  /// The compression `out`'s name asks for: .tar, .tar.gz/.tgz, .tar.xz/.txz, .tar.zst/.tzst; EINVAL otherwise.
  static Result<Compression> compression_for(const std::filesystem::path& out);

  /// Extracts every entry of `tarball` through `writer`; progress counts compressed bytes read.
  static Result<void> extract(const std::filesystem::path& tarball, RootfsWriter& writer, const ProgressFn& progress);

  /// Writes the tree `reader` walks (its root left out) to `out` as a pax archive.
  static Result<void> create(RootfsReader& reader, const std::filesystem::path& out, Compression compression,
                             const ProgressFn& progress);
};

}  // namespace lx::store
