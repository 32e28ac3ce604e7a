// --set KEY=VALUE: the dotted key split into its parts, the value read as TOML (or taken as a
// string), and the two built into a layer like any file's.
#include "config/set_assignment.h"

#include <cerrno>
#include <vector>

#include <fmt/format.h>

namespace lx::config {
namespace {

// The parts of dotted `key` ("families.fs.enabled"); an empty part is an error.
Result<std::vector<std::string>> split_key(const std::string& key, const std::string& source) {
  if (key.empty()) return Error{EINVAL, fmt::format("{}: empty key", source)};
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    auto dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (parts.back().empty()) return Error{EINVAL, fmt::format("{}: empty part in key '{}'", source, key)};
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

// `text` without the spaces around it.
std::string trim_spaces(std::string_view text) {
  auto first = text.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  return std::string(text.substr(first, text.find_last_not_of(' ') - first + 1));
}

// Sets `into[key]` to VALUE read as TOML, or to the string itself when it does not parse as one.
void insert_value(toml::table& into, const std::string& key, const std::string& value, const std::string& source) {
  try {
    toml::table t = toml::parse("v = " + value, source);
    if (toml::node* n = t.get("v")) {
      into.insert_or_assign(key, *n);
      return;
    }
  } catch (const toml::parse_error&) {
  }
  into.insert_or_assign(key, value);
}

}  // namespace

Result<toml::table> parse_assignment(std::string_view assignment, const std::string& source) {
  auto eq = assignment.find('=');
  if (eq == std::string_view::npos) return Error{EINVAL, fmt::format("{}: expected KEY=VALUE", source)};
  LX_TRY_ASSIGN(parts, split_key(trim_spaces(assignment.substr(0, eq)), source));
  toml::table layer;
  toml::table* cur = &layer;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    cur->insert_or_assign(parts[i], toml::table{});
    cur = cur->get(parts[i])->as_table();
  }
  insert_value(*cur, parts.back(), std::string(assignment.substr(eq + 1)), source);
  return layer;
}

}  // namespace lx::config
