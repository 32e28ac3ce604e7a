// PluginConfigView: typed reads of one toml++ table.
#include "plugin_config_view.h"

#include <sstream>

#include <toml++/toml.h>

namespace lx::host {

PluginConfigView::PluginConfigView(const config::Config& config, std::string table)
    : config_(config), table_(std::move(table)) {}

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

}  // namespace lx::host
