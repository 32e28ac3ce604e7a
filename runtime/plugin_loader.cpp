// Plugin loading: find, open, ABI check, create.
#include "runtime/plugin_loader.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace lx::runtime {

LoadedPlugin::LoadedPlugin(boost::dll::shared_library lib, sdk::Plugin* object, std::string path)
    : lib_(std::move(lib)), object_(object), info_(object->info()), path_(std::move(path)) {}

LoadedPlugin::~LoadedPlugin() { object_.reset(); }

namespace {

// Why `file` cannot be used as a plugin, in a few words; "" when it is a readable regular file.
// Sets *denied when the reason is a permission refusal.
std::string why_not(const std::string& file, bool* denied) {
  namespace fs = std::filesystem;
  struct stat st;
  if (stat(file.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    if (access(file.c_str(), R_OK) == 0) return "";
    int e = errno;
    *denied = e == EACCES;
    return fmt::format("{}: cannot read {}", e == EACCES ? "permission denied" : std::strerror(e),
                       fs::path(file).filename().string());
  }
  int e = errno;
  fs::path dir = fs::path(file).parent_path();
  if (e == EACCES) {
    // The first directory on the way that cannot be searched.
    *denied = true;
    fs::path prefix;
    for (const auto& part : dir) {
      prefix /= part;
      if (access(prefix.c_str(), X_OK) != 0 && errno == EACCES)
        return fmt::format("permission denied: cannot search {}", prefix.string());
    }
    return "permission denied";
  }
  if (e == ENOENT || e == ENOTDIR) {
    struct stat ds;
    if (stat(dir.c_str(), &ds) != 0) return errno == ENOTDIR ? "a parent is not a directory" : "no such directory";
    if (!S_ISDIR(ds.st_mode)) return "not a directory";
    return "no such file";
  }
  return std::strerror(e);
}

// The current user, for messages about permissions.
std::string who() {
  uid_t uid = geteuid();
  if (const passwd* pw = getpwuid(uid)) return fmt::format("uid {} ({})", uid, pw->pw_name);
  return fmt::format("uid {}", uid);
}

}  // namespace

Result<std::string> find_plugin(const std::string& name, const std::vector<std::string>& search_path) {
  namespace fs = std::filesystem;
  bool denied = false;
  if (name.find('/') != std::string::npos) {
    std::string why = why_not(name, &denied);
    if (why.empty()) return name;
    if (denied) return Error{EACCES, fmt::format("plugin file '{}': {} for {}", name, why, who())};
    if (why == "no such file" || why == "no such directory" || why == "a parent is not a directory")
      return Error{ENOENT, fmt::format("plugin file '{}' does not exist ({})", name, why)};
    return Error{EINVAL, fmt::format("plugin file '{}': {}", name, why)};
  }
  std::string file = fmt::format("lxhost-{}.so", name);
  std::string looked;
  std::vector<std::string> seen;
  for (const auto& dir : search_path) {
    if (std::find(seen.begin(), seen.end(), dir) != seen.end()) continue;
    seen.push_back(dir);
    fs::path p = fs::path(dir) / file;
    bool d = false;
    std::string why = why_not(p.string(), &d);
    if (why.empty()) return p.string();
    denied = denied || d;
    looked += fmt::format("{}{} ({})", looked.empty() ? "" : ", ", dir, why);
  }
  if (looked.empty()) looked = "<empty search path>";
  if (denied)
    return Error{EACCES, fmt::format("plugin '{}' cannot be loaded: permission denied for {}; looked for {} in: {}",
                                     name, who(), file, looked)};
  return Error{ENOENT, fmt::format("plugin '{}' not found (looked for {} in: {})", name, file, looked)};
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
  if (ec) return install_plugin_dir();
  return (exe.parent_path().parent_path() / "lib" / "lxhost" / "plugins").lexically_normal().string();
}

std::string install_plugin_dir() { return LXHOST_INSTALL_PLUGIN_DIR; }

std::vector<std::string> default_plugin_dirs() {
  std::vector<std::string> dirs = {builtin_plugin_dir()};
  if (install_plugin_dir() != dirs.front()) dirs.push_back(install_plugin_dir());
  return dirs;
}

}  // namespace lx::runtime
