// The typed reads of a merged Config: families, [driver], the plugin search path, durations,
// and where each value was set.
#include <cstdint>
#include <sstream>

#include <fmt/format.h>

#include "config/config.h"
#include "config/config_impl.h"
#include <lxhost/errno_names.h>

namespace lx::config {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text == "forever") return std::chrono::milliseconds::max();
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (n > 1'000'000'000ULL) return std::nullopt;
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = text.substr(i);
  std::uint64_t ms;
  if (unit == "ms") ms = n;
  else if (unit == "s") ms = n * 1000;
  else if (unit == "m") ms = n * 60'000;
  else if (unit == "h") ms = n * 3'600'000;
  else return std::nullopt;
  return std::chrono::milliseconds(ms);
}

std::string Position::str() const {
  if (line <= 0 || source.rfind("--set ", 0) == 0) return source;
  return fmt::format("{}:{}:{}", source, line, column);
}

std::vector<std::string> Config::plugin_search_path() const {
  std::vector<std::string> out;
  if (const toml::array* a = impl_->root.at_path("plugins.search_path").as_array())
    for (const auto& e : *a)
      if (auto s = e.value<std::string>()) out.push_back(*s);
  return out;
}

std::map<std::string, FamilyConfig> Config::families() const {
  std::map<std::string, FamilyConfig> out;
  for (auto name : family_names()) {
    FamilyConfig f;
    f.name = std::string(name);
    auto node = impl_->root.at_path(fmt::format("families.{}", name));
    if (auto e = node["enabled"].value<bool>()) f.enabled = *e;
    if (auto p = node["plugin"].value<std::string>()) f.plugin = *p;
    if (auto o = node["on_disabled"].value<std::string>()) {
      if (*o == "passthrough") f.on_disabled.passthrough = true;
      else if (auto e = sdk::errno_from_name(*o)) f.on_disabled.errno_value = *e;
    }
    out[f.name] = std::move(f);
  }
  return out;
}

DriverConfig Config::driver() const {
  DriverConfig d;
  auto node = impl_->root["driver"];
  if (auto n = node["notify_workers"].value<std::int64_t>()) d.notify_workers = static_cast<int>(*n);
  if (auto s = node["sync_wakeup"].value<bool>()) d.sync_wakeup = *s;
  return d;
}

const toml::table* Config::table(std::string_view name) const { return impl_->root[name].as_table(); }

const toml::table& Config::root() const { return impl_->root; }

Position Config::where(std::string_view key) const {
  auto it = impl_->where.find(std::string(key));
  if (it != impl_->where.end()) return it->second;
  return Position{"<defaults>", 0, 0};
}

std::string Config::to_toml() const {
  std::ostringstream os;
  os << impl_->root;
  return os.str();
}

}  // namespace lx::config
