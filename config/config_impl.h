// Internal to config/: what a Config holds (the merged document and where each value was set)
// and how a checked layer is merged into it.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "config/config.h"

namespace lx::config {

struct Config::Impl {
  toml::table root;                       ///< the merged document
  std::map<std::string, Position> where;  ///< dotted key -> where it was last set

  /// Merges `layer` (already checked) into root: tables recursively, everything else replaced.
  /// `whole_layer` is false for --set, whose values have no line of their own.
  void merge(const toml::table& layer, const std::string& source, bool whole_layer);

 private:
  void merge_into(toml::table& into, const toml::table& layer, const std::string& prefix,
                  const std::string& source, bool whole_layer);
  void record(const std::string& path, const toml::node& node, const std::string& source, bool whole_layer);
};

/// Parses TOML text as a layer named `source`; a syntax error names source:line:column.
Result<toml::table> parse_layer(std::string_view text, const std::string& source);

}  // namespace lx::config
