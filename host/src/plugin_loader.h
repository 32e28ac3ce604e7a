// Loading plugins with Boost.DLL: search path, ABI version check before anything else, the
// factory call, and a handle that keeps the library alive as long as the plugin object.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include <lxhost/plugin.h>

#include "base/result.h"

namespace lx::host {

/// A plugin object together with the library that made it; the library outlives the object.
class LoadedPlugin {
 public:
  /// Takes `lib` and the object it created.
  LoadedPlugin(boost::dll::shared_library lib, sdk::Plugin* object, std::string path);
  ~LoadedPlugin();
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  /// The plugin object.
  sdk::Plugin& plugin() noexcept { return *object_; }
  /// Its self-description (read once at load).
  const sdk::PluginInfo& info() const noexcept { return info_; }
  /// The library file it came from.
  const std::string& path() const noexcept { return path_; }

 private:
  boost::dll::shared_library lib_;  // declared first: destroyed after object_
  std::unique_ptr<sdk::Plugin> object_;
  sdk::PluginInfo info_;
  std::string path_;
};

/// The file a plugin name resolves to: a path if `name` contains '/', else the first
/// `<dir>/lxhost-<name>.so` that exists in `search_path`. Error lists the searched places.
Result<std::string> find_plugin(const std::string& name, const std::vector<std::string>& search_path);

/// Loads the plugin library at `path`: checks its ABI version first, then creates the object.
Result<std::shared_ptr<LoadedPlugin>> load_plugin(const std::string& path);

/// The directory of built-in plugins: <dir of the running executable>/../lib/lxhost/plugins.
std::string builtin_plugin_dir();

}  // namespace lx::host
