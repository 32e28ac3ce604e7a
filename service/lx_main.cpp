// `lx`: the lxhost command-line client. Until the service exists it runs guests directly
// (`lx exec`) and inspects config, plugins and the syscall table.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli_options.h"
#include "commands.h"

namespace {

constexpr const char* kUsage = R"(usage: lx COMMAND [ARGS...]

Runs Linux programs under the lxhost dispatch core, with syscall families handled by plugins.

Commands:
  exec [OPTIONS] [--] CMD [ARGS...]
                      run CMD under the driver with the configured plugins; exits with
                      CMD's status (128+N when killed by signal N)
  syscalls [--all]    print the compatibility table: syscall, family, route, support, note
  plugins             list the plugins the config loads
  config check [FILE] validate the merged config (defaults, system, user, FILE, --set)
                      and print it
  config default      print the embedded default config
  help                show this help
  version             show the version

Options of exec, syscalls, plugins and config check:
  --config FILE       merge FILE over the system and user config
  --set KEY=VALUE     set a config value, e.g. --set families.net.enabled=false
                      (VALUE is TOML, or a string when it does not parse as TOML)
Options of exec:
  --trace             print each intercepted syscall, its route and its result to stderr

Config layers: embedded defaults, /etc/lxhost/lxhost.toml,
$XDG_CONFIG_HOME/lxhost/lxhost.toml (~/.config/lxhost/lxhost.toml), --config, --set.

Exit status of lx itself: 2 bad usage, 125 lx failed (config, plugin, driver),
126 CMD cannot be executed, 127 CMD not found.
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? lx::cli::kExitUsage : 0;
  }
  std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "version" || cmd == "--version") {
    std::printf("lx %s (plugin ABI %u)\n", LXHOST_VERSION, lx::sdk::kAbiVersion);
    return 0;
  }
  if (cmd == "exec") return lx::cli::exec_command(rest);
  if (cmd == "syscalls") return lx::cli::syscalls_command(rest);
  if (cmd == "plugins") return lx::cli::plugins_command(rest);
  if (cmd == "config") return lx::cli::config_command(rest);
  lx::cli::print_error("unknown command '" + cmd + "' (see 'lx help')");
  return lx::cli::kExitUsage;
}
