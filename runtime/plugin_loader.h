// Loading plugins with Boost.DLL: search path, ABI version check before anything else, the
// factory call, and a handle that keeps the library alive as long as the plugin object.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include <lxhost/plugin.h>

#include "base/result.h"

namespace lx::runtime {

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

/// The file a plugin name resolves to: a path if `name` contains '/', else the first readable
/// `<dir>/lxhost-<name>.so` in `search_path`. The error lists every place looked and why each
/// failed; when one of them was refused (a directory that cannot be searched, a file that cannot
/// be read) it is EACCES and says "permission denied" first, naming the refusing directory or file.
Result<std::string> find_plugin(const std::string& name, const std::vector<std::string>& search_path);

/// Loads the plugin library at `path`: checks its ABI version first, then creates the object.
Result<std::shared_ptr<LoadedPlugin>> load_plugin(const std::string& path);

/// The directory of built-in plugins: <dir of the running executable>/../lib/lxhost/plugins,
/// whether or not it exists or can be reached (the install dir if the executable is unknown).
std::string builtin_plugin_dir();

/// The directory plugins are installed to (<prefix>/lib/lxhost/plugins).
std::string install_plugin_dir();

/// Where plugins are looked for after the config's search path: builtin_plugin_dir(), then
/// install_plugin_dir() when it is another directory.
std::vector<std::string> default_plugin_dirs();

}  // namespace lx::runtime
