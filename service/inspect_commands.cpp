// `lx syscalls`, `lx plugins`, `lx config`: inspecting what the config and plugins make of the
// syscall table.
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "cli_options.h"
#include "commands.h"
#include <lxhost/plugin.h>
#include <lxhost/syscall_table.h>
#include "runtime/runner.h"

namespace lx::cli {
namespace {

Result<std::unique_ptr<runtime::Runtime>> load_runtime(const ConfigOptions& copts) {
  auto cfg = load_config(copts);
  if (!cfg) return std::move(cfg).error();
  return runtime::Runtime::create(*cfg);
}

}  // namespace

int syscalls_command(const std::vector<std::string>& args) {
  static const char* usage =
      "usage: lx syscalls [--all] [--config FILE] [--set KEY=VALUE]...\n"
      "Prints the compatibility table: how each syscall is handled under the config.\n"
      "Without --all, only syscalls not simply passed through natively are listed.\n";
  ConfigOptions copts;
  std::vector<std::string> flags, pos;
  if (!parse_arguments(args, copts, {"--all"}, flags, pos, usage)) return kExitUsage;
  if (!pos.empty()) {
    print_error(fmt::format("syscalls: unexpected argument '{}'", pos[0]));
    return kExitUsage;
  }
  auto rt = load_runtime(copts);
  if (!rt) {
    print_error(rt.error().message);
    return kExitFailure;
  }
  const auto& d = (*rt)->dispatch();
  // The routes below are those of this backend: Runtime::create configured the plugins for it.
  std::printf("backend: %s (%s)\n", sdk::to_string((*rt)->backend().backend), (*rt)->backend().why.c_str());
  for (const auto& f : d.families) std::printf("# family %-7s %s\n", f.name.c_str(), f.summary.c_str());
  if (d.withheld_caps) {
    std::string names;
    for (const auto& c : sdk::kWithheldCapabilityList)
      if ((d.withheld_caps >> c.cap) & 1) names += std::string(names.empty() ? "" : " ") + c.name;
    std::printf("# capabilities no guest holds (they act on the host as a whole): %s\n", names.c_str());
  }
  std::printf("%-4s %-24s %-7s %-22s %-8s %-10s %s\n", "NR", "SYSCALL", "FAMILY", "ROUTE", "SUPPORT", "PLUGIN", "NOTE");
  bool all = !flags.empty();
  std::size_t next = 0;
  for (const auto& info : sdk::SyscallTable::all()) {
    while (next < d.rows.size() && d.rows[next].nr < info.nr) ++next;
    if (next < d.rows.size() && d.rows[next].nr == info.nr) {
      const auto& r = d.rows[next];
      std::printf("%-4d %-24s %-7s %-22s %-8s %-10s %s\n", r.nr, r.name.c_str(), r.family.c_str(), r.route.c_str(),
                  r.support.c_str(), r.plugin.c_str(), r.note.c_str());
    } else if (all) {
      std::printf("%-4d %-24s %-7s %-22s %-8s %-10s %s\n", info.nr, std::string(info.name).c_str(),
                  std::string(sdk::to_string(info.family)).c_str(), "allow", "native", "-", "");
    }
  }
  return 0;
}

int plugins_command(const std::vector<std::string>& args) {
  static const char* usage =
      "usage: lx plugins [--config FILE] [--set KEY=VALUE]...\n"
      "Lists the plugins the config loads, with their families, files and config keys.\n";
  ConfigOptions copts;
  std::vector<std::string> flags, pos;
  if (!parse_arguments(args, copts, {}, flags, pos, usage)) return kExitUsage;
  auto rt = load_runtime(copts);
  if (!rt) {
    print_error(rt.error().message);
    return kExitFailure;
  }
  std::printf("plugin search path: %s\n", fmt::format("{}", fmt::join((*rt)->search_path(), ":")).c_str());
  if ((*rt)->plugins().empty()) std::printf("no plugins loaded (every enabled family passes through natively)\n");
  for (const auto& fp : (*rt)->plugins()) {
    const auto& info = fp.plugin->info();
    std::printf("%s %s  family=%s  %s\n  file: %s\n", info.name.c_str(), info.version.c_str(), fp.family.c_str(),
                info.description.c_str(), fp.plugin->path().c_str());
    auto specs = fp.plugin->plugin().syscalls();
    std::printf("  syscalls: %zu\n", specs.size());
    if (!info.config_table.empty())
      for (const auto& k : fp.plugin->plugin().config_keys())
        std::printf("  [%s] %s: %s\n", info.config_table.c_str(), k.name.c_str(), k.description.c_str());
  }
  return 0;
}

int config_command(const std::vector<std::string>& args) {
  static const char* usage =
      "usage: lx config check [FILE] [--config FILE] [--set KEY=VALUE]...\n"
      "       lx config default\n"
      "check: merges the defaults, /etc/lxhost/lxhost.toml, the user config, FILE and --set,\n"
      "validates the result (plugins' own tables included) and prints it.\n"
      "default: prints the embedded default config.\n";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(usage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "default") {
    std::fputs(std::string(config::Config::default_toml()).c_str(), stdout);
    return 0;
  }
  if (args[0] != "check") {
    print_error(fmt::format("config: unknown subcommand '{}'", args[0]));
    std::fputs(usage, stderr);
    return kExitUsage;
  }
  ConfigOptions copts;
  std::vector<std::string> flags, pos;
  if (!parse_arguments(rest, copts, {}, flags, pos, usage)) return kExitUsage;
  if (pos.size() > 1) {
    print_error("config check: at most one FILE");
    return kExitUsage;
  }
  if (!pos.empty()) copts.config_files.insert(copts.config_files.begin(), pos[0]);
  auto cfg = load_config(copts);
  if (!cfg) {
    print_error(cfg.error().message);
    return 1;
  }
  auto rt = runtime::Runtime::create(*cfg);
  if (!rt) {
    print_error(rt.error().message);
    return 1;
  }
  std::printf("%s\n", cfg->to_toml().c_str());
  std::fprintf(stderr, "lx: config ok\n");
  return 0;
}

}  // namespace lx::cli
