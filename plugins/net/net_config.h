// The net family's config table ([net]): its keys, and reading them into the state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <lxhost/plugin.h>

#include "net_state.h"

namespace lx::net {

/// The keys of [net].
std::vector<sdk::ConfigKey> net_config_keys();

/// The AF_* a domain name of allow_domains means (unix, inet, inet6, netlink, packet).
std::optional<int> domain_named(std::string_view name) noexcept;

/// Reads `cfg` into the config part of `state` (domains, loopback, port map), replacing what was
/// there. Returns "" or one line saying what is wrong and where.
std::string read_config(const sdk::PluginConfig& cfg, NetState& state);

}  // namespace lx::net
