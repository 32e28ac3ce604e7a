// Internal to config/: `--set KEY=VALUE` read into a one-value layer (families.fs.enabled=false
// becomes [families.fs] enabled = false).
#pragma once

#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "base/result.h"

namespace lx::config {

/// The layer that "KEY=VALUE" sets: KEY dotted, VALUE a TOML value, or a string when it does not
/// parse as one. `source` ("--set KEY=VALUE") starts every error.
Result<toml::table> parse_assignment(std::string_view assignment, const std::string& source);

}  // namespace lx::config
