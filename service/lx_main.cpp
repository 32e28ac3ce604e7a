// `lx`: the lxhost command-line client. It launches programs through the per-user service
// (`lx run`, `lx` alone), manages distros and the service, runs guests directly (`lx exec`) and
// inspects config, plugins and the syscall table.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli_options.h"
#include "commands.h"
#include "protocol.h"

namespace {

constexpr const char* kUsage = R"(usage: lx [COMMAND [ARGS...]]

Runs Linux programs under the lxhost dispatch core, with syscall families handled by plugins,
through the per-user service lxhostd (started on demand). 'lx' alone opens a login shell in the
default distro (the host root when none is installed).

Running:
  run [-d DISTRO] [-u USER] [--cd DIR] [--set KEY=VALUE]... [--] [CMD [ARGS...]]
                      run CMD in the distro's instance (a login shell without CMD); exits
                      with CMD's status (128+N when killed by signal N)
  exec [--trace] [--] CMD [ARGS...]
                      run CMD directly under the driver, without the service
  status [--json]     the running instances and their processes
  terminate DISTRO    end DISTRO's instance ('host': the host root's)
  shutdown            end every instance and stop lxhostd
  service start|stop|status
                      manage lxhostd itself

Distros (kept in $XDG_DATA_HOME/lxhost, ~/.local/share/lxhost):
  install NAME FILE.tar[.gz|.xz|.zst]   install a rootfs tarball, ownership kept as metadata
  import NAME DIR                       install a copy of a rootfs directory
  export NAME FILE.tar[.gz|.xz|.zst]    write a distro back to a tarball, with its owners
  uninstall NAME                        remove a distro
  list [--json]                         installed distros: name, state, size, default
  default [NAME]                        show or set the default distro

Inspecting:
  syscalls [--all]    print the compatibility table: syscall, family, route, support, note
  plugins             list the plugins the config loads
  config check [FILE] validate the merged config (defaults, system, user, FILE, --set)
                      and print it
  config default      print the embedded default config
  help, version

Options of most commands:
  --config FILE       merge FILE over the system and user config
  --set KEY=VALUE     set a config value, e.g. --set families.net.enabled=false
                      (VALUE is TOML, or a string when it does not parse as TOML)
Options of exec:
  --trace             print each intercepted syscall, its route and its result to stderr

Config layers: embedded defaults, /etc/lxhost/lxhost.toml,
$XDG_CONFIG_HOME/lxhost/lxhost.toml (~/.config/lxhost/lxhost.toml), the distro's own
lxhost.toml (instances), --config, --set. 'lx COMMAND --help' tells more.

Exit status of lx itself: 2 bad usage, 125 lx or the instance failed,
126 CMD cannot be executed, 127 CMD not found.
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return lx::cli::run_command({});
  if (args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "version" || cmd == "--version") {
    std::printf("lx %s (plugin ABI %u, protocol %d)\n", LXHOST_VERSION, lx::sdk::kAbiVersion, lx::service::kProtocolVersion);
    return 0;
  }
  if (cmd == "exec") return lx::cli::exec_command(rest);
  if (cmd == "run") return lx::cli::run_command(rest);
  if (cmd == "syscalls") return lx::cli::syscalls_command(rest);
  if (cmd == "plugins") return lx::cli::plugins_command(rest);
  if (cmd == "config") return lx::cli::config_command(rest);
  if (cmd == "service") return lx::cli::service_command(rest);
  if (cmd == "status") return lx::cli::status_command(rest);
  if (cmd == "terminate") return lx::cli::terminate_command(rest);
  if (cmd == "shutdown") return lx::cli::shutdown_command(rest);
  if (cmd == "install" || cmd == "import" || cmd == "export" || cmd == "uninstall" || cmd == "list" || cmd == "default")
    return lx::cli::distro_command(cmd, rest);
  lx::cli::print_error("unknown command '" + cmd + "' (see 'lx help')");
  return lx::cli::kExitUsage;
}
