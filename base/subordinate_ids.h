// An ordinary user's delegated subordinate id ranges (/etc/subuid, /etc/subgid, shadow's
// format NAME_OR_UID:START:COUNT): the kernel backend maps them from 1 in its user namespace, so
// what its guests own there lies in them on the host, and the emulated backend reads them back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace lx {

/// One delegated range: host ids [start, start+count).
struct SubordinateRange {
  std::uint32_t start = 0;
  std::uint32_t count = 0;
};

/// The first range of `user` (by name, or by `id` in decimal) in `file`; nullopt when none.
std::optional<SubordinateRange> subordinate_range(const std::string& file, const std::string& user, std::uint32_t id);

/// The name of the real user of this process from the password database (its uid when none).
std::string real_user_name();

}  // namespace lx
