// The filesystem family plugin: a guest root that is a host directory, plus bind mounts.
// Every path-taking call is resolved in the guest's namespace (GuestRoot) and done on behalf
// of the guest on the NOTIFY route (opened files are installed with ADDFD); chdir, which must
// change the guest itself, is rewritten on the TRACE route. execve belongs to the proc plugin,
// which resolves programs and interpreters through the PathResolver this plugin offers.
// The guest's /proc shows its instance only ([fs] proc = "instance", the default): /proc/<pid>
// of any other process does not exist, wherever a procfs is reached, and listing /proc shows
// the instance's pids. With root "/" and no mounts that still takes every path call (resolved
// and done on behalf, as with a guest root, with nothing translated); with proc = "host" too,
// the plugin asks for no syscalls at all.
//
// Under the kernel backend ([instance] backend) the plugin takes on no syscall: paths resolve in
// the instance's mount namespace and its /proc is its PID namespace's; it offers the root and the
// mounts as its KernelConfigurator part (kernel_part.h) instead of a PathResolver.
//
// This file is the plugin: its config, its connection to the proc family and the process hooks.
// The rows are in fs_table.cpp, the handlers in the topic files of handlers.h.
#include <unistd.h>

#include <cerrno>

#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <lxhost/interfaces.h>
#include <lxhost/plugin.h>

#include "fs_state.h"
#include "fs_table.h"
#include "kernel_part.h"
#include "path_resolver.h"

namespace lx::fs {
namespace {

// The [[fs.mount]] tables as mounts; "" or what is wrong.
std::string read_mounts(const sdk::PluginConfig& cfg, std::vector<Mount>& mounts) {
  for (const sdk::ConfigTable& t : cfg.get_table_array("mount").value_or(std::vector<sdk::ConfigTable>{})) {
    Mount mount;
    mount.host = t.get_string("host").value_or("");
    mount.guest = t.get_string("guest").value_or(mount.host);
    mount.read_only = t.get_bool("read_only").value_or(false);
    if (mount.host.empty()) return "every [[fs.mount]] needs host = \"...\" (" + cfg.where("mount") + ")";
    mounts.push_back(std::move(mount));
  }
  return {};
}

// Adds the default bind mounts (/dev, /proc, /sys, /tmp) that `mounts` does not configure.
void add_default_mounts(std::vector<Mount>& mounts) {
  for (const char* d : {"/dev", "/proc", "/sys", "/tmp"}) {
    bool configured = false;
    for (const auto& m : mounts) configured |= m.guest == d;
    if (!configured) mounts.push_back(Mount{d, d, false, {}});
  }
}

// The sidecar directory for guest root `root` when [fs] metadata_dir is not set.
std::string default_metadata_dir(std::string root) {
  std::string base;
  if (const char* x = getenv("XDG_DATA_HOME"); x && *x) base = x;
  else if (const char* h = getenv("HOME"); h && *h) base = std::string(h) + "/.local/share";
  else base = "/tmp/lxhost-" + std::to_string(getuid());
  for (char& ch : root)
    if (ch == '/') ch = '_';
  return base + "/lxhost/metadata/" + root;
}

// Configures where `store` keeps metadata ([fs] metadata, metadata_dir); "" or what is wrong.
std::string configure_metadata(const sdk::PluginConfig& cfg, const std::string& root, fsmeta::MetadataStore& store) {
  using Mode = fsmeta::MetadataStore::Mode;
  std::string mode = cfg.get_string("metadata").value_or("auto");
  Mode m = Mode::kAuto;
  if (mode == "xattr") m = Mode::kXattr;
  else if (mode == "sidecar") m = Mode::kSidecar;
  else if (mode != "auto") return "metadata must be auto, xattr or sidecar, not '" + mode + "' (" + cfg.where("metadata") + ")";
  std::string dir = cfg.get_string("metadata_dir").value_or("");
  store.configure(m, dir.empty() ? default_metadata_dir(root) : dir);
  return {};
}

class FsPlugin final : public sdk::PluginBase {
 public:
  sdk::PluginInfo info() const noexcept override {
    return {"fs", "0.1.0", "fs", "guest root directory, bind mounts, paths resolved in the guest's namespace", "fs"};
  }

  std::vector<sdk::ConfigKey> config_keys() const noexcept override {
    using T = sdk::ConfigType;
    return {{"root", T::kString, "host directory that is the guest's / (default \"/\")"},
            {"mount", T::kTableArray, "bind mounts: { host = \"...\", guest = \"...\", read_only = false }"},
            {"default_mounts", T::kBoolean, "bind /dev, /proc, /sys and /tmp from the host (default true)"},
            {"metadata", T::kString, "where emulated ownership is kept: auto (xattrs, else sidecar), xattr, sidecar"},
            {"metadata_dir", T::kString, "sidecar directory (default $XDG_DATA_HOME/lxhost/metadata/<root>)"},
            {"proc", T::kString, "what the guest's /proc shows: instance (its own processes only, default) or host"}};
  }

  std::string configure(const sdk::PluginConfig& cfg) noexcept override {
    try {
      clear_syscalls();
      state_.own_creds = OwnCredentials::current();
      offer<sdk::PathResolver>(nullptr);
      offer<sdk::KernelConfigurator>(nullptr);
      if (cfg.backend() == sdk::Backend::kKernel) return configure_kernel_part(cfg);
      if (std::string err = configure_state(cfg); !err.empty()) return err;
      if (state_.translating) offer<sdk::PathResolver>(&resolver_);
      // The host's own root and its /proc: nothing to intercept.
      if (!state_.translating && !state_.host_root) return {};
      add_rows<FsState>(state_, fs_rows(state_));
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  void connect(const sdk::PluginRegistry& registry) noexcept override {
    state_.credentials = registry.find<sdk::Credentials>();
    state_.identity = registry.find<sdk::IdentityMap>();
    state_.programs = registry.find<sdk::ProgramNames>();
    state_.guest_creds = registry.find<sdk::GuestCredentials>();
  }

  // Every call is done with the calling guest thread's credentials (acting_as.h).
  sdk::SyscallResult handle(sdk::SyscallContext& ctx) noexcept override {
    ActingAs as(state_.guest_creds, state_.own_creds, ctx);
    if (!as.ok()) return sdk::fail(EPERM);
    return PluginBase::handle(ctx);
  }

  void on_process_start(pid_t tid, pid_t parent) noexcept override {
    try {
      state_.add_member(tid, parent == 0);
      state_.root.jails().inherit(tid, parent);
    } catch (...) {
    }
  }
  void on_exec(sdk::SyscallContext& ctx) noexcept override { state_.launched(ctx.pid()); }
  void on_process_exit(pid_t tid) noexcept override {
    state_.remove_member(tid);
    state_.root.jails().forget(tid);
  }

 private:
  // Reads root, the mounts and proc of the config; "" or what is wrong.
  static std::string read_settings(const sdk::PluginConfig& cfg, std::string& root, std::vector<Mount>& mounts,
                                   bool& proc_view) {
    root = cfg.get_string("root").value_or("/");
    if (root.empty() || root[0] != '/') return "root must be an absolute path, not '" + root + "' (" + cfg.where("root") + ")";
    if (std::string err = read_mounts(cfg, mounts); !err.empty()) return err;
    std::string proc = cfg.get_string("proc").value_or("instance");
    if (proc != "instance" && proc != "host")
      return "proc must be instance or host, not '" + proc + "' (" + cfg.where("proc") + ")";
    proc_view = proc == "instance";
    return {};
  }

  // The kernel backend: the config checked as for the emulated one (the root and every mount's
  // host opened), and the root and mounts offered as this plugin's KernelConfigurator part.
  std::string configure_kernel_part(const sdk::PluginConfig& cfg) {
    std::string root;
    std::vector<Mount> mounts;
    bool proc_view = true;
    if (std::string err = read_settings(cfg, root, mounts, proc_view); !err.empty()) return err;
    bool translating = root != "/" || !mounts.empty();
    std::vector<Mount> plain;  // the mounts without their fds, for the plan
    for (const Mount& m : mounts) plain.push_back(Mount{m.guest, m.host, m.read_only, {}});
    GuestRoot check;
    if (std::string err = check.open(root, std::move(mounts)); !err.empty()) return err;
    if (translating)
      if (std::string err = configure_metadata(cfg, check.root(), state_.store); !err.empty()) return err;
    bool defaults = cfg.get_bool("default_mounts").value_or(true);
    kernel_.set(check.root(), kernel_mounts(check.root(), plain, defaults, !proc_view));
    offer<sdk::KernelConfigurator>(&kernel_);
    return {};
  }

  // Reads the config into state_; "" or what is wrong.
  std::string configure_state(const sdk::PluginConfig& cfg) {
    state_.translating = state_.host_root = state_.proc_view = false;
    state_.root.set_membership({});
    state_.own_umask = guest_umask(getpid());
    std::string root;
    std::vector<Mount> mounts;
    if (std::string err = read_settings(cfg, root, mounts, state_.proc_view); !err.empty()) return err;
    if (state_.proc_view) state_.root.set_membership([this](pid_t pid) { return state_.member(pid); });
    if (root == "/" && mounts.empty()) {
      if (!state_.proc_view) return {};
      // The host's root, with the instance's /proc: every path call is resolved and done on
      // behalf of the guest (never checked and then let through: the guest could rewrite the
      // path in between), with nothing translated and no ownership emulated.
      if (std::string err = state_.root.open("/", {}); !err.empty()) return err;
      state_.host_root = true;
      return {};
    }
    state_.translating = true;
    if (cfg.get_bool("default_mounts").value_or(true) && root != "/") add_default_mounts(mounts);
    if (std::string err = state_.root.open(root, std::move(mounts)); !err.empty()) return err;
    return configure_metadata(cfg, state_.root.root(), state_.store);
  }

  FsState state_;
  FsPathResolver resolver_{state_};
  FsKernelPart kernel_;
};

}  // namespace
}  // namespace lx::fs

LXHOST_PLUGIN(lx::fs::FsPlugin)
