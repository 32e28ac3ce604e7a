// Config options and loading for the `lx` subcommands.
#include "cli_options.h"

#include <cstdio>

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

Result<config::Config> load_config(const ConfigOptions& opts) {
  config::Config c;
  if (auto r = c.merge_standard_files(); !r) return std::move(r).error();
  for (const auto& f : opts.config_files)
    if (auto r = c.merge_file(f); !r) return std::move(r).error();
  for (const auto& s : opts.sets)
    if (auto r = c.apply_set(s); !r) return std::move(r).error();
  return c;
}

void print_error(const std::string& message) { std::fprintf(stderr, "lx: %s\n", message.c_str()); }

}  // namespace lx::cli
