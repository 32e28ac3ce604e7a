// PluginConfigView: typed reads of one toml++ table.
#include "runtime/plugin_config_view.h"

#include <sstream>

#include <toml++/toml.h>

namespace lx::runtime {

PluginConfigView::PluginConfigView(const config::Config& config, std::string table, sdk::Backend backend)
    : config_(config), table_(std::move(table)), backend_(backend) {}

std::optional<std::string> PluginConfigView::get_string(std::string_view key) const noexcept {
  const toml::table* t = config_.table(table_);
  if (!t) return std::nullopt;
  if (auto v = (*t)[key].value<std::string>()) return *v;
  return std::nullopt;
}

std::optional<std::int64_t> PluginConfigView::get_int(std::string_view key) const noexcept {
  const toml::table* t = config_.table(table_);
  if (!t) return std::nullopt;
  return (*t)[key].value<std::int64_t>();
}

std::optional<bool> PluginConfigView::get_bool(std::string_view key) const noexcept {
  const toml::table* t = config_.table(table_);
  if (!t) return std::nullopt;
  return (*t)[key].value<bool>();
}

std::optional<std::vector<std::string>> PluginConfigView::get_string_list(std::string_view key) const noexcept {
  const toml::table* t = config_.table(table_);
  if (!t) return std::nullopt;
  const toml::array* a = (*t)[key].as_array();
  if (!a) return std::nullopt;
  try {
    std::vector<std::string> out;
    for (const auto& n : *a) {
      auto s = n.value<std::string>();
      if (!s) return std::nullopt;
      out.push_back(*s);
    }
    return out;
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<std::vector<sdk::ConfigTable>> PluginConfigView::get_table_array(std::string_view key) const noexcept {
  const toml::table* t = config_.table(table_);
  if (!t) return std::nullopt;
  try {
    const toml::array* a = (*t)[key].as_array();
    if (!a) return std::nullopt;
    std::vector<sdk::ConfigTable> out;
    for (const auto& n : *a) {
      const toml::table* row = n.as_table();
      if (!row) return std::nullopt;
      sdk::ConfigTable ct;
      for (const auto& [k, v] : *row) {
        std::string name(k.str());
        if (auto s = v.value_exact<std::string>()) ct.strings.emplace(name, *s);
        else if (auto i = v.value_exact<std::int64_t>()) ct.integers.emplace(name, *i);
        else if (auto b = v.value_exact<bool>()) ct.booleans.emplace(name, *b);
      }
      out.push_back(std::move(ct));
    }
    return out;
  } catch (...) {
    return std::nullopt;
  }
}

std::string PluginConfigView::toml() const noexcept {
  const toml::table* t = config_.table(table_);
  if (!t) return {};
  try {
    std::ostringstream os;
    os << *t;
    return os.str();
  } catch (...) {
    return {};
  }
}

std::string PluginConfigView::where(std::string_view key) const noexcept {
  try {
    return config_.where(table_ + "." + std::string(key)).str();
  } catch (...) {
    return {};
  }
}

}  // namespace lx::runtime
