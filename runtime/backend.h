// Which backend an instance runs on: [instance] backend = "auto" | "kernel" | "emulated", tried
// on this host (a user namespace is created, not guessed from the distro), with the reason.
#pragma once

#include <string>

#include <lxhost/plugin.h>

#include "base/result.h"
#include "config/config.h"

namespace lx::runtime {

/// The backend chosen for an instance and one line saying why.
struct BackendChoice {
  sdk::Backend backend = sdk::Backend::kEmulated;
  std::string why;
};

/// The backend `config` asks for ([instance] backend). "kernel" on a host that refuses a user
/// namespace is an Error naming why; "auto" falls back to emulated and says why.
Result<BackendChoice> choose_backend(const config::Config& config);

}  // namespace lx::runtime
