// The backend choice: the config's word, and a real attempt at a user namespace.
#include "runtime/backend.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include "driver/namespaces.h"

namespace lx::runtime {

Result<BackendChoice> choose_backend(const config::Config& config) {
  std::string asked = "auto";
  if (const toml::table* t = config.table("instance"))
    if (auto v = (*t)["backend"].value<std::string>()) asked = *v;
  auto where = [&] { return config.where("instance.backend").str(); };
  if (asked == "emulated") return BackendChoice{sdk::Backend::kEmulated, fmt::format("instance.backend = emulated ({})", where())};
  std::string refused = driver::probe_user_namespace();
  if (refused.empty())
    return BackendChoice{sdk::Backend::kKernel, asked == "kernel" ? fmt::format("instance.backend = kernel ({})", where())
                                                                  : "auto: this host lets the user create a user namespace"};
  if (asked == "kernel")
    return Error{EPERM, fmt::format("{}: instance.backend = kernel, but this host refuses a user namespace: {}", where(), refused)};
  return BackendChoice{sdk::Backend::kEmulated, fmt::format("auto: this host refuses a user namespace ({})", refused)};
}

}  // namespace lx::runtime
