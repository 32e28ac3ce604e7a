// Config options and loading for the `lx` subcommands.
#include "cli_options.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

namespace lx::cli {

Result<bool> parse_config_option(const std::vector<std::string>& args, std::size_t& i, ConfigOptions& opts) {
  const std::string& a = args[i];
  for (const char* name : {"--config", "--set"}) {
    std::string n(name);
    std::vector<std::string>& dest = n == "--config" ? opts.config_files : opts.sets;
    if (a == n) {
      if (i + 1 >= args.size()) return Error::msg(fmt::format("{} needs a value", n));
      dest.push_back(args[++i]);
      ++i;
      return true;
    }
    if (a.rfind(n + "=", 0) == 0) {
      dest.push_back(a.substr(n.size() + 1));
      ++i;
      return true;
    }
  }
  return false;
}

bool parse_arguments(const std::vector<std::string>& args, ConfigOptions& copts, const std::vector<std::string>& flags,
                     std::vector<std::string>& seen_flags, std::vector<std::string>& positional, const char* usage) {
  std::size_t i = 0;
  while (i < args.size()) {
    auto consumed = parse_config_option(args, i, copts);
    if (!consumed) {
      print_error(consumed.error().message);
      return false;
    }
    if (*consumed) continue;
    const std::string& a = args[i++];
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (std::find(flags.begin(), flags.end(), a) != flags.end()) {
      seen_flags.push_back(a);
    } else if (a.size() > 1 && a[0] == '-') {
      print_error(fmt::format("unknown option '{}'", a));
      std::fputs(usage, stderr);
      return false;
    } else {
      positional.push_back(a);
    }
  }
  return true;
}

std::optional<std::size_t> parse_command_options(const std::vector<std::string>& args, const char* name,
                                                 const char* usage, ConfigOptions& copts,
                                                 const std::vector<CommandOption>& options) {
  std::size_t i = 0;
  while (i < args.size()) {
    auto consumed = parse_config_option(args, i, copts);
    if (!consumed) {
      print_error(consumed.error().message);
      return std::nullopt;
    }
    if (*consumed) continue;
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (a == "--") return i + 1;
    auto opt = std::find_if(options.begin(), options.end(), [&](const CommandOption& o) {
      return std::find(o.names.begin(), o.names.end(), a) != o.names.end();
    });
    if (opt != options.end()) {
      if (opt->flag) *opt->flag = true;
      if (opt->value) {
        if (i + 1 >= args.size()) {
          print_error(fmt::format("{}: {} {}", name, a, opt->missing));
          return std::nullopt;
        }
        *opt->value = args[++i];
      }
      ++i;
    } else if (a.size() > 1 && a[0] == '-') {
      print_error(fmt::format("{}: unknown option '{}'", name, a));
      std::fputs(usage, stderr);
      return std::nullopt;
    } else {
      return i;
    }
  }
  return i;
}

Result<config::Config> load_config(const ConfigOptions& opts) {
  config::Config c;
  LX_TRY(c.merge_standard_files());
  for (const auto& f : opts.config_files) LX_TRY(c.merge_file(f));
  for (const auto& s : opts.sets) LX_TRY(c.apply_set(s));
  return c;
}

void print_error(const std::string& message) { std::fprintf(stderr, "lx: %s\n", message.c_str()); }

}  // namespace lx::cli
