// Internal to config/: the schema of the core tables ([plugins], [families.<name>], [driver],
// [service], [instance]) checked layer by layer, and the helpers that name a node's place and
// type in an error.
#pragma once

#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "base/result.h"
#include "config/config.h"

namespace lx::config {

/// Where a node is: its file, line and column (`fallback_source` when the node has no file).
Position position_of(const toml::source_region& r, std::string_view fallback_source);
/// "a string", "an integer", "a table", ... for errors.
std::string type_name(const toml::node& n);
/// Whether `name` is a family a config may name (family_names()).
bool is_family(std::string_view name);
/// Whether `name` is one of the core's own top-level tables.
bool is_core_table(std::string_view name);

/// Checks one layer (a file's or --set's) against the schema of the core tables. `source` names
/// the layer for nodes without a file (--set). Plugin tables are checked later (validate_table).
Result<void> check_layer(const toml::table& layer, const std::string& source);

}  // namespace lx::config
