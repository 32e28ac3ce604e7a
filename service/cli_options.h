// Command-line pieces shared by the `lx` subcommands: config options and config loading.
#pragma once

#include <optional>
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

/// Parses config options (into `copts`), the boolean `flags` a command accepts (those given go to
/// `seen_flags`) and --help (prints `usage`, exits 0); other arguments are positional. An unknown
/// option is an error: printed with the usage, and false returned.
bool parse_arguments(const std::vector<std::string>& args, ConfigOptions& copts, const std::vector<std::string>& flags,
                     std::vector<std::string>& seen_flags, std::vector<std::string>& positional, const char* usage);

/// An option of a command that runs CMD [ARGS...] (`lx exec`, `lx run`).
struct CommandOption {
  std::vector<std::string> names;  ///< its spellings, e.g. {"-d", "--distro"}
  std::string* value = nullptr;    ///< where its value goes (null: a flag)
  bool* flag = nullptr;            ///< set when the flag is given
  std::string missing;             ///< what a missing value is called, e.g. "needs a distro name"
};

/// Parses `[OPTIONS] [--] CMD [ARGS...]` for command `name`: config options (into `copts`),
/// `options` and --help (prints `usage`, exits 0), up to the first argument that is not an
/// option. Returns the index of CMD (args.size() when none), or nullopt after printing an error.
std::optional<std::size_t> parse_command_options(const std::vector<std::string>& args, const char* name,
                                                 const char* usage, ConfigOptions& copts,
                                                 const std::vector<CommandOption>& options);

/// Defaults ← /etc/lxhost/lxhost.toml ← $XDG_CONFIG_HOME/lxhost/lxhost.toml ← --config ← --set.
Result<config::Config> load_config(const ConfigOptions& opts);

/// Prints "lx: <message>" to stderr.
void print_error(const std::string& message);

}  // namespace lx::cli
