// Owners made real. A distro the store installed for an ordinary user keeps the owners, groups
// and modes that user could not set as fs metadata (fsmeta: user.lxhost.meta): every file is the
// user's on disk, and a setuid-root program is kept without its setuid bit (on the host it would
// be a setuid program of the user's). In a user namespace that maps the user's delegated
// subordinate ranges, they can be real: the instance's init, root of that namespace, applies
// them once before it pivots into the tree — chown to the mapped ids, then the mode with its
// setuid/setgid bits — after making the distro's directory (the store's, above the root)
// reachable by the user only, and drops each record it applied: the emulated backend reads owners
// in the user's ranges back as the ids they are inside, so both backends show the same owners,
// and later real changes are never hidden by a stale record. Records it cannot apply (ids
// outside the ranges, device nodes) stay.
// The root then carries user.lxhost.owners = the maps it was converted for, and a later start
// with the same maps skips the walk: a guest could set user.lxhost.meta on its own files under
// the kernel backend (xattr calls are the kernel's there), and nothing ever reads it back.
#pragma once

#include <cstddef>
#include <string>

namespace lx::driver {

/// What one conversion did.
struct OwnersApplied {
  bool walked = false;       ///< false: the root was converted for these maps already
  std::size_t changed = 0;   ///< files whose owner or mode was applied
  std::size_t unmapped = 0;  ///< files whose recorded owner the namespace does not map (kept as metadata)
};

/// Applies the recorded metadata under `root` (not crossing into other filesystems) for the
/// maps described by `maps_key`. Call as root of the user namespace, before the pivot. Returns
/// "" and fills `out`, or why it could not (the first error; what was applied stays applied).
std::string apply_recorded_owners(const std::string& root, const std::string& maps_key, OwnersApplied& out);

}  // namespace lx::driver
