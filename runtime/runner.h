// The runtime: config + loaded, configured plugins + dispatch, and running a guest under the
// driver with them. `lx exec` uses it directly; the service's instances will use it too.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "runtime/backend.h"
#include "runtime/dispatch_builder.h"
#include "driver/driver.h"
#include "driver/kernel_instance.h"
#include "runtime/plugin_loader.h"

namespace lx::runtime {

/// Loaded plugins and the dispatch built from them under one config.
class Runtime {
 public:
  /// Loads and configures the plugins `config` names for the backend [instance] backend asks
  /// for (choose_backend), and builds the dispatch. Errors name the plugin file or config
  /// position and the reason. Under "auto", a plugin that asks the TRACE route of the kernel
  /// backend sends the instance to the emulated one (the reason says which).
  static Result<std::unique_ptr<Runtime>> create(const config::Config& config);
  /// The same for a backend already chosen.
  static Result<std::unique_ptr<Runtime>> create(const config::Config& config, BackendChoice backend);

  ~Runtime();

  /// The dispatch (policy, handlers, compatibility rows).
  const Dispatch& dispatch() const noexcept { return dispatch_; }
  /// The loaded plugins, by family.
  const std::vector<FamilyPlugin>& plugins() const noexcept { return plugins_; }
  /// The plugin search path used (config's, then the built-in and the install directory).
  const std::vector<std::string>& search_path() const noexcept { return search_path_; }
  /// An interface a loaded plugin offers (sdk::LaunchIdentity::kName, ...), or nullptr.
  void* find_interface(std::string_view name) const noexcept;
  /// The interface I (a class of lxhost/interfaces.h) a loaded plugin offers, or nullptr.
  template <class I>
  I* find() const noexcept {
    return static_cast<I*>(find_interface(I::kName));
  }
  /// The config it was made from.
  const config::Config& config() const noexcept { return config_; }
  /// The backend the plugins were configured for, and why it was chosen.
  const BackendChoice& backend() const noexcept { return backend_; }
  /// What the plugins ask of the kernel (kernel backend): every KernelConfigurator's part.
  Result<sdk::KernelPlan> kernel_plan() const;

  /// Kernel backend: the instance's namespaces and init, started on the first call (call it
  /// while the process is single-threaded: it forks), then the same one. An Error under the
  /// emulated backend. `distro`: the root is a store's distro (its recorded owners may be made
  /// real, see driver/ns_owners.h).
  Result<driver::KernelInstance*> kernel_instance(const std::string& name = "default", driver::EventSink* sink = nullptr,
                                                  bool distro = false);
  /// Kernel backend: keep the IPC and UTS namespaces of this process instead of making new ones
  /// (call before the instance starts). For a launcher that made or joined them itself, as
  /// lxhost-runc does for a bundle whose containers share them (a Kubernetes pod).
  void keep_ipc_and_uts() noexcept { keep_ipc_uts_ = true; }
  /// Kernel backend: mounts done exactly as given, in order, before the families' (call before
  /// the instance starts). lxhost-runc's bundle mounts.
  void set_exact_mounts(std::vector<driver::ExactMount> m) { exact_mounts_ = std::move(m); }
  /// Kernel backend: the root read-only (call before the instance starts).
  void set_read_only_root() noexcept { read_only_root_ = true; }

  /// Makes a runner of one launch for this dispatch (the caller runs it and may read
  /// main_pid()): the emulated driver, or a launch in the kernel instance. With `on_main_exit`,
  /// the emulated guest tree outlives its first process (see DriverOptions).
  Result<std::unique_ptr<driver::GuestRunner>> make_driver(driver::EventSink* sink, std::string instance = "default",
                                                      std::function<void(pid_t)> on_guest_start = {},
                                                      std::function<void(const driver::ExitStatus&)> on_main_exit = {});

 private:
  class Registry;
  Runtime(const config::Config& config, BackendChoice backend);
  config::Config config_;
  BackendChoice backend_;
  std::vector<std::string> search_path_;
  std::vector<FamilyPlugin> plugins_;
  Dispatch dispatch_;
  std::unique_ptr<Registry> registry_;  // declared after plugins_: destroyed before them
  driver::BpfProgram kernel_filter_;
  bool keep_ipc_uts_ = false;
  std::vector<driver::ExactMount> exact_mounts_;
  bool read_only_root_ = false;
  std::unique_ptr<driver::KernelInstance> kernel_;  // destroyed first: it serves the plugins' rows
};

}  // namespace lx::runtime
