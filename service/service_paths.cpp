// ServicePaths: the XDG lookups, and a runtime directory only its owner can use.
#include "service_paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace lx::service {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : "";
}

std::string service_key(const config::Config& config, const char* key) {
  if (const toml::table* t = config.table("service"))
    if (auto v = (*t)[key].value<std::string>()) return *v;
  return "";
}

}  // namespace

ServicePaths ServicePaths::resolve(const config::Config& config) {
  ServicePaths p;
  p.runtime_dir = service_key(config, "runtime_dir");
  if (p.runtime_dir.empty()) {
    std::string xdg = env("XDG_RUNTIME_DIR");
    std::string run_user = fmt::format("/run/user/{}", getuid());
    struct stat st;
    if (!xdg.empty()) p.runtime_dir = xdg + "/lxhost";
    else if (stat(run_user.c_str(), &st) == 0 && st.st_uid == getuid()) p.runtime_dir = run_user + "/lxhost";
    else p.runtime_dir = fmt::format("/tmp/lxhost-{}", getuid());
  }
  p.data_dir = service_key(config, "data_dir");
  if (p.data_dir.empty()) {
    std::string xdg = env("XDG_DATA_HOME");
    if (!xdg.empty()) p.data_dir = xdg + "/lxhost";
    else if (std::string home = env("HOME"); !home.empty()) p.data_dir = home + "/.local/share/lxhost";
    else p.data_dir = fmt::format("/tmp/lxhost-{}/data", getuid());
  }
  p.socket = p.runtime_dir + "/lxhostd.sock";
  p.lock = p.runtime_dir + "/lxhostd.lock";
  p.log = p.runtime_dir + "/lxhostd.log";
  return p;
}

Result<void> ServicePaths::prepare_runtime_dir() const {
  std::error_code ec;
  std::filesystem::path dir(runtime_dir);
  if (dir.has_parent_path() && !std::filesystem::exists(dir.parent_path(), ec))
    std::filesystem::create_directories(dir.parent_path(), ec);
  if (mkdir(runtime_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno(fmt::format("mkdir({})", runtime_dir));
  struct stat st;
  if (lstat(runtime_dir.c_str(), &st) != 0) return Error::from_errno(fmt::format("stat({})", runtime_dir));
  if (!S_ISDIR(st.st_mode)) return Error::msg(fmt::format("{} is not a directory", runtime_dir));
  if (st.st_uid != getuid())
    return Error::msg(fmt::format("{} belongs to uid {}, not to you (uid {}): refusing to use it", runtime_dir,
                                  st.st_uid, getuid()));
  if (st.st_mode & 077) chmod(runtime_dir.c_str(), 0700);
  return ok();
}

std::string executable_dir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : p.parent_path().string();
}

}  // namespace lx::service
