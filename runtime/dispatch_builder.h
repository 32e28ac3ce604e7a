// Builds the driver's filter policy and dispatch table from the config (enabled families,
// on_disabled) and the loaded plugins' syscall tables, plus the compatibility table
// `lx syscalls` prints.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "driver/dispatch_table.h"
#include "driver/filter_policy.h"
#include "runtime/plugin_loader.h"

namespace lx::runtime {

/// One row of the compatibility table.
struct CompatRow {
  int nr = -1;                 ///< syscall number
  std::string name;            ///< syscall name
  std::string family;          ///< family of the syscall
  std::string route;           ///< "notify", "trace", "errno(ENOSYS)", "allow", or "allow+rules"
  std::string support;         ///< "full", "partial", "errno", "native"
  std::string plugin;          ///< plugin that handles it, or "-"
  std::string note;            ///< one line
};

/// A family's state for `lx syscalls`' header.
struct FamilyState {
  std::string name;     ///< family name
  bool enabled = true;  ///< enabled in config
  std::string plugin;   ///< loaded plugin name, or ""
  std::string summary;  ///< e.g. "enabled, no plugin loaded: native passthrough"
};

/// Everything the driver needs, plus what `lx syscalls` prints.
struct Dispatch {
  driver::FilterPolicy policy;      ///< compiled into the seccomp filter
  driver::DispatchTable table;      ///< NOTIFY/TRACE handlers
  std::vector<CompatRow> rows;      ///< every syscall not simply native, by number
  std::vector<FamilyState> families;///< per family
  /// Capabilities dropped from every guest's bounding set at launch (sdk::kWithheldCapabilities
  /// where the instance is confined).
  std::uint64_t withheld_caps = 0;
};

/// A plugin with the family it was loaded for.
struct FamilyPlugin {
  std::string family;                    ///< family name from [families.<name>]
  std::shared_ptr<LoadedPlugin> plugin;  ///< the loaded, configured plugin
};

/// Builds the dispatch. Two plugins claiming one syscall, or a plugin naming an unknown syscall
/// number, is an error.
Result<Dispatch> build_dispatch(const config::Config& config, const std::vector<FamilyPlugin>& plugins);

}  // namespace lx::runtime
