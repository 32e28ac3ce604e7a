// lxhost configuration: TOML layers merged in order (embedded defaults ← /etc/lxhost/lxhost.toml
// ← $XDG_CONFIG_HOME/lxhost/lxhost.toml ← --config FILE ← --set KEY=VALUE), validated against
// the schema with errors that name file:line:column.
#pragma once

#include <cstdint>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <lxhost/plugin.h>

#include "base/result.h"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace lx::config {

/// Where a value was set.
struct Position {
  std::string source;  ///< file path, "<defaults>", or "--set KEY=VALUE"
  int line = 0;        ///< 1-based; 0 when unknown
  int column = 0;      ///< 1-based; 0 when unknown
  /// "source:line:column" (or just "source" when line is 0).
  std::string str() const;
};

/// What a disabled family's syscalls do.
struct OnDisabled {
  bool passthrough = false;  ///< run natively
  int errno_value = ENOSYS;  ///< otherwise fail with this errno
};

/// The merged [families.<name>] table of one family.
struct FamilyConfig {
  std::string name;          ///< "fs", "proc", "net", "signal", "memory", "time", "ipc", "other"
  bool enabled = true;       ///< enabled
  std::string plugin;        ///< plugin name or path; empty: no plugin (native passthrough)
  OnDisabled on_disabled;    ///< when !enabled
};

/// The merged [driver] table.
struct DriverConfig {
  int notify_workers = 2;    ///< threads serving the NOTIFY route (1..64)
  bool sync_wakeup = true;   ///< ask for SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP when the kernel has it
};

/// Family names a [families.<name>] table may use (every driver family except "core").
std::span<const std::string_view> family_names() noexcept;

/// A duration ("0s", "500ms", "30s", "5m", "1h"); "forever" is milliseconds::max(); nullopt
/// when malformed.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// A merged configuration.
class Config {
 public:
  /// The embedded defaults only.
  Config();
  ~Config();
  Config(const Config&);
  Config& operator=(const Config&);
  Config(Config&&) noexcept;
  Config& operator=(Config&&) noexcept;

  /// The embedded default config as TOML text.
  static std::string_view default_toml() noexcept;

  /// Merges a TOML file over the current values. A parse error, unknown key or wrong type is an
  /// error naming file:line:column. A missing file is an error unless `optional` is true.
  Result<void> merge_file(const std::string& path, bool optional = false);
  /// Merges TOML text named `source` (used for the file name in errors).
  Result<void> merge_string(std::string_view toml_text, std::string_view source);
  /// Applies "KEY=VALUE" (dotted key; VALUE a TOML value, or a string when it does not parse).
  Result<void> apply_set(std::string_view assignment);

  /// Merges the standard layers: /etc/lxhost/lxhost.toml and $XDG_CONFIG_HOME/lxhost/lxhost.toml
  /// (~/.config when unset), each skipped when missing. `system_dir` overrides /etc/lxhost (tests).
  Result<void> merge_standard_files(const std::string& system_dir = "/etc/lxhost");

  /// Checks a top-level table owned by a plugin (e.g. "fs") against the keys it accepts;
  /// an unknown key or a wrong type is an error with file:line:column.
  Result<void> validate_table(std::string_view table, std::span<const sdk::ConfigKey> keys) const;

  /// Checks that every top-level table is a core section, a family's, or in `owned` (the
  /// config tables of the loaded plugins); an orphan table is an error with its position.
  Result<void> check_tables_owned(std::span<const std::string> owned) const;

  /// The plugin search path ([plugins] search_path), in order.
  std::vector<std::string> plugin_search_path() const;
  /// Every family's merged config, by name (all of family_names(), defaults filled in).
  std::map<std::string, FamilyConfig> families() const;
  /// The [driver] table.
  DriverConfig driver() const;
  /// A top-level table by name ("fs"), or nullptr.
  const toml::table* table(std::string_view name) const;
  /// The whole merged document.
  const toml::table& root() const;
  /// Where the value at dotted `key` was last set ("<defaults>" for defaults).
  Position where(std::string_view key) const;
  /// The merged document as TOML text.
  std::string to_toml() const;

 private:
  struct Impl;
  struct Empty {};
  explicit Config(Empty);
  // Checks `layer` against the schema and merges it; `whole_layer` is false for --set.
  Result<void> add_layer(const toml::table& layer, const std::string& source, bool whole_layer);

  std::unique_ptr<Impl> impl_;
};

}  // namespace lx::config
