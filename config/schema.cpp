// The config schema: the core tables checked key by key as each layer arrives, and plugin tables
// checked against the keys their plugin declares once the plugins are loaded.
#include "config/schema.h"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <lxhost/errno_names.h>
#include <lxhost/syscall_table.h>

namespace lx::config {
namespace {

// The families a config may name: the SDK's list without "core" (never disabled).
constexpr auto kFamilyNames = [] {
  std::array<std::string_view, sdk::kFamilyCount - 1> out{};
  std::size_t n = 0;
  for (auto f : sdk::kFamilyNames)
    if (f != sdk::to_string(sdk::Family::kCore)) out[n++] = f;
  return out;
}();

constexpr std::string_view kCoreTables[] = {"plugins", "families", "driver", "service", "instance"};

// The schema check of one layer: a method per core table, each called for every key in it.
class LayerChecker {
 public:
  explicit LayerChecker(std::string source) : source_(std::move(source)) {}

  Result<void> check(const toml::table& layer) {
    for (auto&& [k, v] : layer) LX_TRY(top_level(k, v));
    return ok();
  }

 private:
  using KeyCheck = Result<void> (LayerChecker::*)(const toml::key&, const toml::node&, const std::string&);

  Result<void> top_level(const toml::key& k, const toml::node& v) {
    std::string key(k.str());
    if (key == "plugins") return table_of(v, key, &LayerChecker::plugins_key);
    if (key == "families") return table_of(v, key, &LayerChecker::family);
    if (key == "driver") return table_of(v, key, &LayerChecker::driver_key);
    if (key == "service") return table_of(v, key, &LayerChecker::service_key);
    if (key == "instance") return table_of(v, key, &LayerChecker::instance_key);
    // A family's or plugin's own table ([fs], [probe]): checked once the plugins are loaded,
    // against the keys the plugin that owns it declares (validate_table, check_tables_owned).
    if (v.is_table()) return ok();
    if (is_family(key)) return fail(v.source(), fmt::format("'{}' must be a table, not {}", key, type_name(v)));
    return unknown(k, key);
  }

  Result<void> plugins_key(const toml::key& k, const toml::node& v, const std::string& path) {
    if (k.str() == "search_path") return string_array(v, path);
    return unknown(k, path);
  }

  Result<void> family(const toml::key& k, const toml::node& v, const std::string& path) {
    if (!is_family(k.str()))
      return fail(k.source(), fmt::format("unknown family '{}' (families are {})", k.str(),
                                          fmt::join(family_names(), ", ")));
    return table_of(v, path, &LayerChecker::family_key);
  }

  Result<void> family_key(const toml::key& k, const toml::node& v, const std::string& path) {
    if (k.str() == "enabled") return typed<bool>(v, path, "a boolean");
    if (k.str() == "plugin") return typed<std::string>(v, path, "a string");
    if (k.str() != "on_disabled") return unknown(k, path);
    LX_TRY(typed<std::string>(v, path, "a string"));
    auto s = *v.value<std::string>();
    if (s != "passthrough" && !sdk::errno_from_name(s))
      return fail(v.source(), fmt::format("'{}' must be an errno name such as \"ENOSYS\" or \"EPERM\", or "
                                          "\"passthrough\", not \"{}\"", path, s));
    return ok();
  }

  Result<void> driver_key(const toml::key& k, const toml::node& v, const std::string& path) {
    if (k.str() == "sync_wakeup") return typed<bool>(v, path, "a boolean");
    if (k.str() != "notify_workers") return unknown(k, path);
    LX_TRY(typed<std::int64_t>(v, path, "an integer"));
    auto n = *v.value<std::int64_t>();
    if (n < 1 || n > 64) return fail(v.source(), fmt::format("'{}' must be between 1 and 64, not {}", path, n));
    return ok();
  }

  Result<void> service_key(const toml::key& k, const toml::node& v, const std::string& path) {
    if (k.str() == "runtime_dir" || k.str() == "data_dir") return typed<std::string>(v, path, "a string");
    return unknown(k, path);
  }

  Result<void> instance_key(const toml::key& k, const toml::node& v, const std::string& path) {
    if (k.str() == "backend") {
      LX_TRY(typed<std::string>(v, path, "a string"));
      const std::string b = *v.value<std::string>();
      if (b != "auto" && b != "kernel" && b != "emulated")
        return fail(v.source(), fmt::format("'{}' must be \"auto\", \"kernel\" or \"emulated\", not \"{}\"", path, b));
      return ok();
    }
    if (k.str() != "linger" && k.str() != "grace") return unknown(k, path);
    LX_TRY(typed<std::string>(v, path, "a string"));
    bool linger = k.str() == "linger";
    auto d = parse_duration(*v.value<std::string>());
    if (!d || (!linger && *d == std::chrono::milliseconds::max()))
      return fail(v.source(), fmt::format("'{}' must be a duration such as \"0s\", \"500ms\", \"30s\", \"5m\"{}, not \"{}\"",
                                          path, linger ? " or \"forever\"" : "", *v.value<std::string>()));
    return ok();
  }

  // Checks that `v` is a table and each of its keys with `each`.
  Result<void> table_of(const toml::node& v, const std::string& path, KeyCheck each) {
    const toml::table* t = v.as_table();
    if (!t) return fail(v.source(), fmt::format("'{}' must be a table, not {}", path, type_name(v)));
    for (auto&& [ck, cv] : *t) LX_TRY((this->*each)(ck, cv, path + "." + std::string(ck.str())));
    return ok();
  }

  template <class T>
  Result<void> typed(const toml::node& v, const std::string& path, const char* want) {
    if (!v.is<T>()) return fail(v.source(), fmt::format("'{}' must be {}, not {}", path, want, type_name(v)));
    return ok();
  }

  Result<void> string_array(const toml::node& v, const std::string& path) {
    const toml::array* a = v.as_array();
    if (!a) return fail(v.source(), fmt::format("'{}' must be an array of strings, not {}", path, type_name(v)));
    for (const auto& e : *a)
      if (!e.is_string())
        return fail(e.source(), fmt::format("'{}' must be an array of strings; found {}", path, type_name(e)));
    return ok();
  }

  Result<void> unknown(const toml::key& k, const std::string& path) {
    return fail(k.source(), fmt::format("unknown key '{}'", path));
  }

  Result<void> fail(const toml::source_region& r, const std::string& what) {
    return Error{EINVAL, fmt::format("{}: {}", position_of(r, source_).str(), what)};
  }

  std::string source_;
};

// Whether `v` is what a plugin key of type `type` must be; `want` names that ("a string").
bool has_type(const toml::node& v, sdk::ConfigType type, const char*& want) {
  auto all = [&](auto is) {
    if (!v.is_array()) return false;
    for (const auto& e : *v.as_array())
      if (!is(e)) return false;
    return true;
  };
  switch (type) {
    case sdk::ConfigType::kString: want = "a string"; return v.is_string();
    case sdk::ConfigType::kInteger: want = "an integer"; return v.is_integer();
    case sdk::ConfigType::kBoolean: want = "a boolean"; return v.is_boolean();
    case sdk::ConfigType::kStringArray:
      want = "an array of strings";
      return all([](const toml::node& e) { return e.is_string(); });
    case sdk::ConfigType::kTableArray:
      want = "an array of tables";
      return all([](const toml::node& e) { return e.is_table(); });
    case sdk::ConfigType::kAny: break;
  }
  return true;
}

}  // namespace

Position position_of(const toml::source_region& r, std::string_view fallback_source) {
  Position p;
  p.source = r.path ? *r.path : std::string(fallback_source);
  p.line = static_cast<int>(r.begin.line);
  p.column = static_cast<int>(r.begin.column);
  return p;
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

std::span<const std::string_view> family_names() noexcept { return kFamilyNames; }

bool is_family(std::string_view name) {
  for (auto f : kFamilyNames)
    if (f == name) return true;
  return false;
}

bool is_core_table(std::string_view name) {
  for (auto c : kCoreTables)
    if (c == name) return true;
  return false;
}

Result<void> check_layer(const toml::table& layer, const std::string& source) {
  return LayerChecker{source}.check(layer);
}

Result<void> Config::validate_table(std::string_view table, std::span<const sdk::ConfigKey> keys) const {
  const toml::table* t = this->table(table);
  if (!t) return ok();
  for (auto&& [k, v] : *t) {
    std::string path = fmt::format("{}.{}", table, k.str());
    const sdk::ConfigKey* spec = nullptr;
    for (const auto& key : keys)
      if (key.name == k.str()) spec = &key;
    std::string at = where(path).str();
    if (!spec) {
      std::string known;
      for (const auto& key : keys) known += (known.empty() ? "" : ", ") + key.name;
      return Error{EINVAL, fmt::format("{}: unknown key '{}' (known keys: {})", at, path, known.empty() ? "none" : known)};
    }
    const char* want = "";
    if (!has_type(v, spec->type, want))
      return Error{EINVAL, fmt::format("{}: '{}' must be {}, not {}", at, path, want, type_name(v))};
  }
  return ok();
}

Result<void> Config::check_tables_owned(std::span<const std::string> owned) const {
  for (auto&& [k, v] : root()) {
    std::string_view key = k.str();
    bool known = is_family(key) || is_core_table(key);
    for (const auto& o : owned) known = known || o == key;
    if (!known)
      return Error{EINVAL, fmt::format("{}: unknown table '{}' (no loaded plugin reads it)", where(key).str(), key)};
  }
  return ok();
}

}  // namespace lx::config
