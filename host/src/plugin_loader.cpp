// Plugin loading: find, open, ABI check, create.
#include "plugin_loader.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace lx::host {

LoadedPlugin::LoadedPlugin(boost::dll::shared_library lib, sdk::Plugin* object, std::string path)
    : lib_(std::move(lib)), object_(object), info_(object->info()), path_(std::move(path)) {}

LoadedPlugin::~LoadedPlugin() { object_.reset(); }

Result<std::string> find_plugin(const std::string& name, const std::vector<std::string>& search_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (name.find('/') != std::string::npos) {
    if (!fs::exists(name, ec)) return Error{ENOENT, fmt::format("plugin file '{}' does not exist", name)};
    return name;
  }
  std::string searched;
  for (const auto& dir : search_path) {
    fs::path p = fs::path(dir) / fmt::format("lxhost-{}.so", name);
    if (fs::exists(p, ec)) return p.string();
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  return Error{ENOENT, fmt::format("plugin '{}' not found (looked for lxhost-{}.so in: {})", name, name,
                                   searched.empty() ? "<empty search path>" : searched)};
}

Result<std::shared_ptr<LoadedPlugin>> load_plugin(const std::string& path) {
  boost::dll::shared_library lib;
  try {
    lib.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return Error::msg(fmt::format("cannot load plugin '{}': {}", path, e.what()));
  }
  if (!lib.has("lxhost_abi_version") || !lib.has("lxhost_create_plugin")) {
    return Error::msg(fmt::format("'{}' is not an lxhost plugin (it exports no lxhost_abi_version/lxhost_create_plugin; "
                                  "use LXHOST_PLUGIN)", path));
  }
  std::uint32_t abi = lib.get_alias<sdk::detail::AbiVersionFn>("lxhost_abi_version")();
  if (abi != sdk::kAbiVersion) {
    return Error::msg(fmt::format("plugin '{}' was built for plugin ABI {}, but this lxhost has ABI {}; rebuild it "
                                  "against this lxhost's SDK", path, abi, sdk::kAbiVersion));
  }
  sdk::Plugin* object = lib.get_alias<sdk::detail::PluginFactory>("lxhost_create_plugin")();
  if (!object) return Error::msg(fmt::format("plugin '{}' failed to create its object", path));
  return std::make_shared<LoadedPlugin>(std::move(lib), object, path);
}

std::string builtin_plugin_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return LXHOST_INSTALL_PLUGIN_DIR;
  auto dir = exe.parent_path().parent_path() / "lib" / "lxhost" / "plugins";
  if (std::filesystem::is_directory(dir, ec)) return dir.lexically_normal().string();
  return LXHOST_INSTALL_PLUGIN_DIR;
}

}  // namespace lx::host
