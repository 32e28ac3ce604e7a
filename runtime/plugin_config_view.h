// PluginConfig over one top-level table of the merged config (a plugin's view of e.g. [fs]).
#pragma once

#include <string>

#include <lxhost/plugin.h>

#include "config/config.h"

namespace lx::runtime {

/// The plugin's read-only view of its config table.
class PluginConfigView final : public sdk::PluginConfig {
 public:
  /// A view of table `table` of `config` (which must outlive the view).
  PluginConfigView(const config::Config& config, std::string table, sdk::Backend backend = sdk::Backend::kEmulated);

  std::optional<std::string> get_string(std::string_view key) const noexcept override;
  std::optional<std::int64_t> get_int(std::string_view key) const noexcept override;
  std::optional<bool> get_bool(std::string_view key) const noexcept override;
  std::optional<std::vector<std::string>> get_string_list(std::string_view key) const noexcept override;
  std::optional<std::vector<sdk::ConfigTable>> get_table_array(std::string_view key) const noexcept override;
  std::string toml() const noexcept override;
  std::string where(std::string_view key) const noexcept override;
  sdk::Backend backend() const noexcept override { return backend_; }

 private:
  const config::Config& config_;
  std::string table_;
  sdk::Backend backend_;
};

}  // namespace lx::runtime
