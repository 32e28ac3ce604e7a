// Command-line pieces shared by the `lx` subcommands: config options and config loading.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"

namespace lx::cli {

/// Exit codes of `lx` itself (the guest's own status passes through otherwise).
enum ExitCode : int {
  kExitUsage = 2,        ///< bad command line
  kExitFailure = 125,    ///< lx could not run the guest (config, plugin, driver error)
  kExitCannotExec = 126, ///< the command exists but could not be executed
  kExitNotFound = 127,   ///< the command was not found
};

/// Options every config-reading subcommand accepts.
struct ConfigOptions {
  std::vector<std::string> config_files;  ///< --config FILE (in order)
  std::vector<std::string> sets;          ///< --set KEY=VALUE (in order)
};

/// If args[i] is --config/--set (as "--set X" or "--set=X"), consumes it (and its value) into
/// `opts`, advances `i` and returns true. A missing value is an error.
Result<bool> parse_config_option(const std::vector<std::string>& args, std::size_t& i, ConfigOptions& opts);

/// Defaults ← /etc/lxhost/lxhost.toml ← $XDG_CONFIG_HOME/lxhost/lxhost.toml ← --config ← --set.
Result<config::Config> load_config(const ConfigOptions& opts);

/// Prints "lx: <message>" to stderr.
void print_error(const std::string& message);

}  // namespace lx::cli
