// Config: toml++ layers (the embedded defaults, files, --set) each checked against the schema,
// then merged into one document with a side map of where every value was set.
#include "config/config.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "config/config_impl.h"
#include "config/default_config.h"
#include "config/schema.h"
#include "config/set_assignment.h"

namespace lx::config {

void Config::Impl::merge(const toml::table& layer, const std::string& source, bool whole_layer) {
  merge_into(root, layer, "", source, whole_layer);
}

void Config::Impl::merge_into(toml::table& into, const toml::table& layer, const std::string& prefix,
                              const std::string& source, bool whole_layer) {
  for (auto&& [k, v] : layer) {
    std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    toml::node* existing = into.get(k.str());
    if (v.is_table() && existing && existing->is_table()) {
      where[path] = whole_layer ? position_of(v.source(), source) : Position{source, 1, 1};
      merge_into(*existing->as_table(), *v.as_table(), path, source, whole_layer);
    } else {
      into.insert_or_assign(k.str(), v);
      record(path, v, source, whole_layer);
    }
  }
}

// Records the position of every value under `node` (at dotted `path`).
void Config::Impl::record(const std::string& path, const toml::node& node, const std::string& source,
                          bool whole_layer) {
  Position p = whole_layer ? position_of(node.source(), source) : Position{source, 1, 1};
  // A value replaced whole forgets the positions of what it replaced.
  auto it = where.lower_bound(path + ".");
  while (it != where.end() && it->first.rfind(path + ".", 0) == 0) it = where.erase(it);
  where[path] = p;
  if (const toml::table* t = node.as_table())
    for (auto&& [k, v] : *t) record(path + "." + std::string(k.str()), v, source, whole_layer);
}

Result<toml::table> parse_layer(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return Error{EINVAL, fmt::format("{}: {}", position_of(e.source(), source).str(), e.description())};
  }
}

Config::Config(Empty) : impl_(std::make_unique<Impl>()) {}

// The embedded defaults are parsed once per process (a client makes a Config for each --set it
// checks, and every instance several), then copied.
Config::Config() {
  static const Config* const defaults = [] {
    auto* c = new Config(Empty{});
    if (!c->merge_string(kDefaultToml, "<defaults>")) std::abort();  // the tests check them
    return c;
  }();
  impl_ = std::make_unique<Impl>(*defaults->impl_);
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

Result<void> Config::merge_string(std::string_view toml_text, std::string_view source) {
  std::string name(source);
  LX_TRY_ASSIGN(layer, parse_layer(toml_text, name));
  return add_layer(layer, name, true);
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
  LX_TRY_ASSIGN(layer, parse_assignment(assignment, source));
  return add_layer(layer, source, false);
}

Result<void> Config::add_layer(const toml::table& layer, const std::string& source, bool whole_layer) {
  LX_TRY(check_layer(layer, source));
  // Merge into a copy, so that a failure leaves this config as it was.
  auto next = std::make_unique<Impl>(*impl_);
  next->merge(layer, source, whole_layer);
  impl_ = std::move(next);
  return ok();
}

Result<void> Config::merge_standard_files(const std::string& system_dir) {
  LX_TRY(merge_file(system_dir + "/lxhost.toml", true));
  std::string user_dir;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) user_dir = x;
  else if (const char* h = std::getenv("HOME"); h && *h) user_dir = std::string(h) + "/.config";
  if (!user_dir.empty()) LX_TRY(merge_file(user_dir + "/lxhost/lxhost.toml", true));
  return ok();
}

}  // namespace lx::config
