// DistroStore: the per-user install state of distros (rootfs, install record, default distro),
// like WSL's LXSS install state, kept under one directory and changed only by atomic renames.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"
#include "store/progress.h"
#include "store/rootfs_reader.h"

namespace lx::store {

/// What the store knows about one installed distro.
struct DistroInfo {
  std::string name;              ///< the distro's name
  std::string state;             ///< "installed"
  std::string source;            ///< the tarball or directory it was installed from
  std::string installed_at;      ///< UTC, ISO 8601 ("2024-05-01T12:00:00Z")
  std::uint64_t size_bytes = 0;  ///< bytes of regular file data in the rootfs at install time
  bool is_default = false;       ///< whether it is the default distro
  std::filesystem::path rootfs;  ///< the rootfs directory
};

/// The installed distros under one directory D:
///   D/distros/NAME/{rootfs/, state.json, metadata/, lxhost.toml}   an installed distro
///   D/distros/.NAME.partial/   an install in progress (renamed to NAME when complete)
///   D/distros/.NAME.removing/  an uninstall in progress
///   D/default                  the default distro's name
/// A distro is installed exactly when D/distros/NAME holds an install record saying so; the record
/// is written inside the partial directory, which one no-replace rename then makes the distro, so
/// an interrupted install or uninstall never leaves a half-installed distro. Operations are not
/// serialized here (the daemon does that), but two racing processes cannot corrupt the state.
class DistroStore {
 public:
  /// A store kept in `dir` (created on the first install).
  explicit DistroStore(std::filesystem::path dir);

  /// $XDG_DATA_HOME/lxhost, or ~/.local/share/lxhost.
  static std::filesystem::path default_dir();

  /// Whether `name` is a valid distro name: [A-Za-z0-9][A-Za-z0-9._-]{0,63}.
  static bool valid_name(const std::string& name);

  /// The user's subordinate ranges: export reads owners in them as the ids they are inside
  /// (what guests of the kernel backend made there).
  void set_subordinate_ids(std::vector<IdShift> uids, std::vector<IdShift> gids) {
    sub_uids_ = std::move(uids);
    sub_gids_ = std::move(gids);
  }

  /// Removes what interrupted installs and uninstalls left behind; call at daemon start.
  Result<void> recover();

  /// The installed distros, sorted by name.
  Result<std::vector<DistroInfo>> list() const;

  /// The installed distro `name` (ENOENT "distro 'x' is not installed").
  Result<DistroInfo> get(const std::string& name) const;

  /// Installs `name` from a tarball (any tar format; gzip, xz, zstd, bzip2, ...); EEXIST if installed.
  Result<DistroInfo> install(const std::string& name, const std::filesystem::path& tarball, const ProgressFn& progress = {});

  /// Installs `name` as a copy of the directory tree `dir`, keeping its ownership metadata.
  Result<DistroInfo> import_dir(const std::string& name, const std::filesystem::path& dir, const ProgressFn& progress = {});

  /// Writes `name`'s rootfs to `out` (.tar, .tar.gz, .tar.xz, .tar.zst) with the owners and modes the guest sees.
  Result<void> export_tar(const std::string& name, const std::filesystem::path& out, const ProgressFn& progress = {});

  /// Removes `name` (and clears the default if it was the default).
  Result<void> uninstall(const std::string& name);

  /// Makes the installed distro `name` the default.
  Result<void> set_default(const std::string& name);

  /// The default distro's name, or "" when none is set (or it is no longer installed).
  Result<std::string> default_name() const;

  /// The store's directory.
  const std::filesystem::path& dir() const noexcept { return dir_; }

  /// The rootfs directory of `name` (whether or not it is installed).
  std::filesystem::path rootfs(const std::string& name) const;

  /// The per-distro config file of `name` (not created by the store).
  std::filesystem::path config_file(const std::string& name) const;

  /// Where the fs plugin keeps `name`'s ownership metadata on filesystems without user
  /// extended attributes (its fs.metadata_dir).
  std::filesystem::path metadata_dir(const std::string& name) const;

 private:
  enum class Operation { kInstall, kImport };
  std::filesystem::path distros() const { return dir_ / "distros"; }
  std::vector<IdShift> sub_uids_, sub_gids_;
  std::filesystem::path distro_dir(const std::string& name) const { return distros() / name; }
  Result<DistroInfo> create(Operation op, const std::string& name, const std::filesystem::path& source,
                            const ProgressFn& progress);
  // D/distros/.NAME.partial, created (EBUSY when it exists).
  Result<std::filesystem::path> make_partial(const char* verb, const std::string& name);
  // Fills `partial` from `src`, writes the install record and renames it to the distro's name.
  Result<void> fill_and_commit(Operation op, const std::string& name, const std::filesystem::path& src,
                               const std::filesystem::path& partial, const ProgressFn& progress);
  Result<DistroInfo> read_record(const std::string& name) const;

  std::filesystem::path dir_;
};

}  // namespace lx::store
