// The net family's config table (see net_config.h).
#include "net_config.h"

#include <sys/socket.h>

#include <cstdint>

namespace lx::net {
namespace {

struct DomainName {
  std::string_view name;
  int af;
};
constexpr DomainName kDomains[] = {
    {"unix", AF_UNIX}, {"inet", AF_INET}, {"inet6", AF_INET6}, {"netlink", AF_NETLINK}, {"packet", AF_PACKET},
};

bool is_port(std::optional<std::int64_t> p) { return p && *p >= 1 && *p <= 65535; }

std::string read_domains(const sdk::PluginConfig& cfg, NetState& state) {
  auto names = cfg.get_string_list("allow_domains");
  state.restrict_domains = names.has_value();
  if (!names) return {};
  for (const auto& d : *names) {
    auto af = domain_named(d);
    if (!af)
      return "allow_domains: unknown domain '" + d + "' (unix, inet, inet6, netlink, packet) (" +
             cfg.where("allow_domains") + ")";
    state.domains.push_back(*af);
  }
  return {};
}

std::string read_port_map(const sdk::PluginConfig& cfg, NetState& state) {
  auto maps = cfg.get_table_array("port_map");
  if (!maps) return {};
  for (const sdk::ConfigTable& m : *maps) {
    auto guest = m.get_int("guest");
    auto host = m.get_int("host");
    if (!is_port(guest) || !is_port(host))
      return "every [[net.port_map]] needs guest and host ports in 1..65535 (" + cfg.where("port_map") + ")";
    state.ports[static_cast<in_port_t>(*guest)] = static_cast<in_port_t>(*host);
  }
  return {};
}

}  // namespace

std::vector<sdk::ConfigKey> net_config_keys() {
  using T = sdk::ConfigType;
  return {{"allow_domains", T::kStringArray, "socket domains allowed: unix, inet, inet6, netlink, packet (default all)"},
          {"bind", T::kString, "\"any\" or \"loopback\": only 127.0.0.0/8 and ::1 for bind/connect/sendto"},
          {"port_map", T::kTableArray, "[[net.port_map]] guest = 80, host = 8080"}};
}

std::optional<int> domain_named(std::string_view name) noexcept {
  for (const DomainName& d : kDomains)
    if (d.name == name) return d.af;
  return std::nullopt;
}

std::string read_config(const sdk::PluginConfig& cfg, NetState& state) {
  state.domains.clear();
  state.ports.clear();
  if (std::string e = read_domains(cfg, state); !e.empty()) return e;
  std::string bind = cfg.get_string("bind").value_or("any");
  if (bind != "any" && bind != "loopback") return "bind must be \"any\" or \"loopback\", not '" + bind + "'";
  state.loopback_only = bind == "loopback";
  return read_port_map(cfg, state);
}

}  // namespace lx::net
