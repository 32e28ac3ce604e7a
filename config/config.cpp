// Config: toml++ layers merged into one document, a schema check per layer with positions
// taken from toml++'s source regions, and a side map of where every value was set.
#include "config/config.h"

#include <array>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "config/default_config.h"
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

bool is_family(std::string_view name) {
  for (auto f : kFamilyNames)
    if (f == name) return true;
  return false;
}

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

// The schema check of one layer. `source` names the layer for nodes without a path (--set).
class LayerChecker {
 public:
  explicit LayerChecker(std::string source) : source_(std::move(source)) {}

  Result<void> check(const toml::table& layer) {
    for (auto&& [k, v] : layer) {
      std::string key(k.str());
      if (key == "plugins") {
        if (auto r = table_of(k, v, key, [&](const toml::key& ck, const toml::node& cv, const std::string& path) {
              if (ck.str() == "search_path") return string_array(ck, cv, path);
              return unknown(ck, path);
            });
            !r)
          return r;
      } else if (key == "families") {
        auto r = table_of(k, v, key, [&](const toml::key& fk, const toml::node& fv, const std::string& fpath) {
          if (!is_family(fk.str()))
            return fail(fk.source(), fmt::format("unknown family '{}' (families are fs, proc, net, signal, memory, "
                                                 "time, ipc, other)", fk.str()));
          return table_of(fk, fv, fpath, [&](const toml::key& ck, const toml::node& cv, const std::string& path) {
            auto name = ck.str();
            if (name == "enabled") return typed<bool>(ck, cv, path, "a boolean");
            if (name == "plugin") return typed<std::string>(ck, cv, path, "a string");
            if (name == "on_disabled") {
              if (auto r = typed<std::string>(ck, cv, path, "a string"); !r) return r;
              auto s = *cv.value<std::string>();
              if (s != "passthrough" && !sdk::errno_from_name(s))
                return fail(cv.source(), fmt::format("'{}' must be an errno name such as \"ENOSYS\" or \"EPERM\", or "
                                                     "\"passthrough\", not \"{}\"", path, s));
              return ok();
            }
            return unknown(ck, path);
          });
        });
        if (!r) return r;
      } else if (key == "driver") {
        auto r = table_of(k, v, key, [&](const toml::key& ck, const toml::node& cv, const std::string& path) {
          if (ck.str() == "sync_wakeup") return typed<bool>(ck, cv, path, "a boolean");
          if (ck.str() == "notify_workers") {
            if (auto r = typed<std::int64_t>(ck, cv, path, "an integer"); !r) return r;
            auto n = *cv.value<std::int64_t>();
            if (n < 1 || n > 64)
              return fail(cv.source(), fmt::format("'{}' must be between 1 and 64, not {}", path, n));
            return ok();
          }
          return unknown(ck, path);
        });
        if (!r) return r;
      } else if (key == "service") {
        auto r = table_of(k, v, key, [&](const toml::key& ck, const toml::node& cv, const std::string& path) {
          if (ck.str() == "runtime_dir" || ck.str() == "data_dir") return typed<std::string>(ck, cv, path, "a string");
          return unknown(ck, path);
        });
        if (!r) return r;
      } else if (key == "instance") {
        auto r = table_of(k, v, key, [&](const toml::key& ck, const toml::node& cv, const std::string& path) {
          if (ck.str() == "linger" || ck.str() == "grace") {
            if (auto r = typed<std::string>(ck, cv, path, "a string"); !r) return r;
            auto d = parse_duration(*cv.value<std::string>());
            if (!d || (ck.str() == "grace" && *d == std::chrono::milliseconds::max()))
              return fail(cv.source(), fmt::format("'{}' must be a duration such as \"0s\", \"500ms\", \"30s\", \"5m\"{}, not \"{}\"",
                                                   path, ck.str() == "linger" ? " or \"forever\"" : "",
                                                   *cv.value<std::string>()));
            return ok();
          }
          return unknown(ck, path);
        });
        if (!r) return r;
      } else if (v.is_table()) {
        // A family's or plugin's own table ([fs], [probe]): checked once the plugins are loaded,
        // against the keys the plugin that owns it declares (validate_table, check_tables_owned).
      } else if (is_family(key)) {
        return fail(v.source(), fmt::format("'{}' must be a table, not {}", key, type_name(v)));
      } else {
        return unknown(k, key);
      }
    }
    return ok();
  }

 private:
  template <class F>
  Result<void> table_of(const toml::key& k, const toml::node& v, const std::string& path, F&& each) {
    const toml::table* t = v.as_table();
    if (!t) return fail(v.source(), fmt::format("'{}' must be a table, not {}", path, type_name(v)));
    (void)k;
    for (auto&& [ck, cv] : *t)
      if (auto r = each(ck, cv, path + "." + std::string(ck.str())); !r) return r;
    return ok();
  }

  template <class T>
  Result<void> typed(const toml::key&, const toml::node& v, const std::string& path, const char* want) {
    if (!v.is<T>()) return fail(v.source(), fmt::format("'{}' must be {}, not {}", path, want, type_name(v)));
    return ok();
  }

  Result<void> string_array(const toml::key&, const toml::node& v, const std::string& path) {
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

}  // namespace

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

std::span<const std::string_view> family_names() noexcept { return kFamilyNames; }

struct Config::Impl {
  toml::table root;
  std::map<std::string, Position> where;

  // Records the position of every value under `node` (at dotted `path`).
  void record(const std::string& path, const toml::node& node, const std::string& source, bool whole_layer) {
    Position p = position_of(node.source(), source);
    if (!whole_layer) p = Position{source, 1, 1};
    // A value replaced whole forgets the positions of what it replaced.
    auto it = where.lower_bound(path + ".");
    while (it != where.end() && it->first.rfind(path + ".", 0) == 0) it = where.erase(it);
    where[path] = p;
    if (const toml::table* t = node.as_table())
      for (auto&& [k, v] : *t) record(path + "." + std::string(k.str()), v, source, whole_layer);
  }

  // Merges `layer` into root: tables recursively, everything else replaced.
  void merge(toml::table& into, const toml::table& layer, const std::string& prefix, const std::string& source,
             bool whole_layer) {
    for (auto&& [k, v] : layer) {
      std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      toml::node* existing = into.get(k.str());
      if (v.is_table() && existing && existing->is_table()) {
        where[path] = whole_layer ? position_of(v.source(), source) : Position{source, 1, 1};
        merge(*existing->as_table(), *v.as_table(), path, source, whole_layer);
      } else {
        into.insert_or_assign(k.str(), v);
        record(path, v, source, whole_layer);
      }
    }
  }
};

Config::Config() : impl_(std::make_unique<Impl>()) {
  auto r = merge_string(kDefaultToml, "<defaults>");
  if (!r) std::abort();  // the embedded defaults are checked by the tests
}
Config::~Config() = default;
Config::Config(const Config& o) : impl_(std::make_unique<Impl>(*o.impl_)) {}
Config& Config::operator=(const Config& o) {
  if (this != &o) impl_ = std::make_unique<Impl>(*o.impl_);
  return *this;
}
Config::Config(Config&&) noexcept = default;
Config& Config::operator=(Config&&) noexcept = default;

std::string_view Config::default_toml() noexcept { return kDefaultToml; }

namespace {

// Parses TOML text; errors name source:line:column.
Result<toml::table> parse(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    Position p = position_of(e.source(), source);
    return Error{EINVAL, fmt::format("{}: {}", p.str(), e.description())};
  }
}

}  // namespace

Result<void> Config::merge_string(std::string_view toml_text, std::string_view source) {
  auto layer = parse(toml_text, std::string(source));
  if (!layer) return std::move(layer).error();
  LayerChecker checker{std::string(source)};
  if (auto r = checker.check(*layer); !r) return r;
  // Merge into a copy, so that a failure leaves this config as it was.
  auto next = std::make_unique<Impl>(*impl_);
  next->merge(next->root, *layer, "", std::string(source), true);
  impl_ = std::move(next);
  return ok();
}

Result<void> Config::merge_file(const std::string& path, bool optional) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (optional) return ok();
    return Error{ENOENT, fmt::format("config file '{}' does not exist", path)};
  }
  std::ifstream in(path);
  if (!in) return Error::from_errno(fmt::format("reading config file '{}'", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return merge_string(ss.str(), path);
}

Result<void> Config::apply_set(std::string_view assignment) {
  std::string source = fmt::format("--set {}", assignment);
  auto eq = assignment.find('=');
  if (eq == std::string_view::npos)
    return Error{EINVAL, fmt::format("{}: expected KEY=VALUE", source)};
  std::string key(assignment.substr(0, eq));
  std::string value(assignment.substr(eq + 1));
  while (!key.empty() && key.back() == ' ') key.pop_back();
  while (!key.empty() && key.front() == ' ') key.erase(0, 1);
  if (key.empty()) return Error{EINVAL, fmt::format("{}: empty key", source)};
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    auto dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (parts.back().empty()) return Error{EINVAL, fmt::format("{}: empty part in key '{}'", source, key)};
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // VALUE as TOML, or as a string when it does not parse as one.
  toml::table layer;
  toml::table* cur = &layer;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    cur->insert_or_assign(parts[i], toml::table{});
    cur = cur->get(parts[i])->as_table();
  }
  bool parsed = false;
  try {
    toml::table t = toml::parse("v = " + value, source);
    if (toml::node* n = t.get("v")) {
      cur->insert_or_assign(parts.back(), *n);
      parsed = true;
    }
  } catch (const toml::parse_error&) {
  }
  if (!parsed) cur->insert_or_assign(parts.back(), value);

  LayerChecker checker{source};
  if (auto r = checker.check(layer); !r) {
    // --set values have no line: replace the checker's position with the assignment itself.
    return r;
  }
  auto next = std::make_unique<Impl>(*impl_);
  next->merge(next->root, layer, "", source, false);
  impl_ = std::move(next);
  return ok();
}

Result<void> Config::merge_standard_files(const std::string& system_dir) {
  if (auto r = merge_file(system_dir + "/lxhost.toml", true); !r) return r;
  std::string user_dir;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) user_dir = x;
  else if (const char* h = std::getenv("HOME"); h && *h) user_dir = std::string(h) + "/.config";
  if (!user_dir.empty())
    if (auto r = merge_file(user_dir + "/lxhost/lxhost.toml", true); !r) return r;
  return ok();
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
    bool good = true;
    const char* want = "";
    switch (spec->type) {
      case sdk::ConfigType::kString: good = v.is_string(), want = "a string"; break;
      case sdk::ConfigType::kInteger: good = v.is_integer(), want = "an integer"; break;
      case sdk::ConfigType::kBoolean: good = v.is_boolean(), want = "a boolean"; break;
      case sdk::ConfigType::kStringArray:
        want = "an array of strings";
        good = v.is_array();
        if (good)
          for (const auto& e : *v.as_array()) good = good && e.is_string();
        break;
      case sdk::ConfigType::kTableArray:
        want = "an array of tables";
        good = v.is_array();
        if (good)
          for (const auto& e : *v.as_array()) good = good && e.is_table();
        break;
      case sdk::ConfigType::kAny: break;
    }
    if (!good) return Error{EINVAL, fmt::format("{}: '{}' must be {}, not {}", at, path, want, type_name(v))};
  }
  return ok();
}

Result<void> Config::check_tables_owned(std::span<const std::string> owned) const {
  static constexpr std::string_view kCore[] = {"plugins", "families", "driver", "service", "instance"};
  for (auto&& [k, v] : impl_->root) {
    std::string_view key = k.str();
    bool known = is_family(key);
    for (auto c : kCore) known = known || c == key;
    for (const auto& o : owned) known = known || o == key;
    if (!known)
      return Error{EINVAL, fmt::format("{}: unknown table '{}' (no loaded plugin reads it)", where(key).str(), key)};
  }
  return ok();
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
  for (auto name : kFamilyNames) {
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
