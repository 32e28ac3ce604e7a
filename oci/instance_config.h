// lxhost-runc: the lxhost config of a container's instance, from its bundle — the root, the
// mounts (binds, a private directory per tmpfs, masked and read-only paths), hostname, process
// limit, the backend — and the io.lxhost.* annotations, less those a pod's author may not set.
#pragma once

#include <string>

#include "base/result.h"
#include "config/config.h"
#include "driver/ns_mounts.h"
#include "oci/spec.h"

namespace lx::oci {

/// The config of the instance of container `s`, whose state directory is `state_dir` (where
/// the private directories of its tmpfs mounts are made). With `exact_mounts`, for the kernel
/// backend (chosen): the bundle's own mounts are left to exact_mounts_of.
Result<config::Config> config_of(const Spec& s, const std::string& state_dir, bool exact_mounts = false);

/// The bundle's mounts as the kernel backend does them, exactly and in order (config_of with
/// `exact_mounts` leaves them out of the fs family's and turns its default mounts off).
std::vector<driver::ExactMount> exact_mounts_of(const Spec& s);

/// Why config key `key` may not be set by an annotation ("" when it may).
std::string annotation_refused(const std::string& key);

}  // namespace lx::oci
