// libFuzzer target for the config parser: TOML text merged over the defaults as a config file
// is, then --set KEY=VALUE strings applied, then everything that reads the merged result.
// Input: the TOML text, then each --set string after a NUL byte.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  for (;;) {
    auto nul = in.find('\0');
    parts.push_back(in.substr(0, nul));
    if (nul == std::string_view::npos) break;
    in.remove_prefix(nul + 1);
  }
  lx::config::Config cfg;
  (void)cfg.merge_string(parts[0], "fuzz.toml");
  for (std::size_t i = 1; i < parts.size(); ++i) {
    auto r = cfg.apply_set(parts[i]);
    if (!r) (void)r.error().message.size();
  }
  // Everything that reads the merged document.
  (void)cfg.to_toml();
  (void)cfg.families();
  (void)cfg.driver();
  (void)cfg.plugin_search_path();
  std::vector<std::string> owned{"fs", "proc", "net", "signal"};
  (void)cfg.check_tables_owned(owned);
  for (std::string_view key : {"fs.root", "proc.max_processes", "instance.linger", "families.fs.plugin"}) {
    (void)cfg.where(key).str();
  }
  if (const auto* t = cfg.table("instance")) (void)t;
  // A copy merges the same again (the layers keep their positions).
  lx::config::Config copy = cfg;
  (void)copy.to_toml();
  for (std::size_t i = 1; i < parts.size(); ++i) (void)lx::config::parse_duration(parts[i]);
  return 0;
}
