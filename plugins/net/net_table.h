// The net family's table: every syscall it may take on, with its policy, handler, support level
// and note, and the config that makes it take the row on.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <lxhost/plugin.h>

#include "net_state.h"

namespace lx::net {

/// What makes the plugin take a row on.
enum class When : std::uint8_t {
  kDomainsRestricted,  ///< allow_domains is set: decided in the kernel on the domain argument
  kAddresses,          ///< bind = "loopback", a port map, or an fs family that translates paths
};

/// One row of the table.
struct NetRow {
  When when;               ///< when the row is taken on
  sdk::Row<NetState> row;  ///< the syscall, its policy, handler, support and note
};

/// The policy of socket(2)/socketpair(2) that allows the domains `allowed` (AF_*), in the
/// kernel, and fails every other with EAFNOSUPPORT.
sdk::Policy domain_policy(std::span<const int> allowed);

/// The table under `state` (the domain rows' policy follows its allowed domains).
std::vector<NetRow> net_table(const NetState& state);

/// Whether `state` takes on the rows of `when`.
bool applies(const NetState& state, When when) noexcept;

}  // namespace lx::net
