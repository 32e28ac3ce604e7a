// The `lx` subcommands. Each takes the arguments after its name and returns the exit code.
#pragma once

#include <string>
#include <vector>

namespace lx::cli {

/// `lx exec [--config FILE] [--set KEY=VALUE]... [--trace] [--] CMD [ARGS...]`.
int exec_command(const std::vector<std::string>& args);
/// `lx syscalls [--all] [--config FILE] [--set KEY=VALUE]...`.
int syscalls_command(const std::vector<std::string>& args);
/// `lx plugins [--config FILE] [--set KEY=VALUE]...`.
int plugins_command(const std::vector<std::string>& args);
/// `lx config check [FILE] [--set KEY=VALUE]...` and `lx config default`.
int config_command(const std::vector<std::string>& args);

/// `lx run [-d DISTRO] [--cd DIR] [--set KEY=VALUE]... [--] [CMD [ARGS...]]` (and `lx` alone).
int run_command(const std::vector<std::string>& args);
/// `lx service start|stop|status`.
int service_command(const std::vector<std::string>& args);
/// `lx status`: instances and their processes.
int status_command(const std::vector<std::string>& args);
/// `lx terminate DISTRO`.
int terminate_command(const std::vector<std::string>& args);
/// `lx shutdown`.
int shutdown_command(const std::vector<std::string>& args);
/// `lx install|import|export|uninstall|list|default ...`.
int distro_command(const std::string& verb, const std::vector<std::string>& args);

}  // namespace lx::cli
