// Runtime: plugin loading per family, config validation of plugin tables, dispatch building.
#include "runtime/runner.h"

#include <unistd.h>

#include <fmt/format.h>

#include "driver/kernel_runner.h"

#include "runtime/plugin_config_view.h"

namespace lx::runtime {

// The interfaces the loaded plugins offer each other.
class Runtime::Registry final : public sdk::PluginRegistry {
 public:
  explicit Registry(const std::vector<FamilyPlugin>& plugins) : plugins_(plugins) {}
  void* find_interface(std::string_view name) const noexcept override {
    for (const auto& fp : plugins_)
      if (void* p = fp.plugin->plugin().query_interface(name)) return p;
    return nullptr;
  }

 private:
  const std::vector<FamilyPlugin>& plugins_;
};

Runtime::Runtime(const config::Config& config, BackendChoice backend) : config_(config), backend_(std::move(backend)) {}
Runtime::~Runtime() = default;

namespace {

// The first syscall a plugin asks the TRACE route for, as "plugin 'x' asks the TRACE route for
// y"; "" when none does. The kernel backend traces nothing.
std::string trace_rows(const std::vector<FamilyPlugin>& plugins) {
  for (const auto& fp : plugins)
    for (const auto& spec : fp.plugin->plugin().syscalls()) {
      bool trace = spec.route == sdk::Route::kTrace;
      for (const auto& r : spec.arg_rules) trace |= r.route == sdk::Route::kTrace;
      if (trace)
        return fmt::format("plugin '{}' asks the TRACE route for {}", fp.plugin->info().name, sdk::SyscallTable::name(spec.nr));
    }
  return {};
}

// Whether any syscall of `policy` can take the NOTIFY route (then launches hand over a listener).
bool has_notify(const driver::FilterPolicy& policy) {
  for (const auto& [nr, p] : policy.syscalls) {
    if (p.fallback.route == sdk::Route::kNotify) return true;
    for (const auto& r : p.rules)
      if (r.route == sdk::Route::kNotify) return true;
  }
  return policy.default_action.route == sdk::Route::kNotify;
}

}  // namespace

Result<std::unique_ptr<Runtime>> Runtime::create(const config::Config& config) {
  LX_TRY_ASSIGN(choice, choose_backend(config));
  bool asked_kernel = choice.backend == sdk::Backend::kKernel && choice.why.rfind("auto", 0) != 0;
  LX_TRY_ASSIGN(rt, create(config, choice));
  if (rt->backend_.backend != sdk::Backend::kKernel) return std::move(rt);
  std::string trace = trace_rows(rt->plugins_);
  if (trace.empty()) return std::move(rt);
  if (asked_kernel) return Error{EINVAL, fmt::format("instance.backend = kernel: {}, which the kernel backend does not serve", trace)};
  rt.reset();
  return create(config, BackendChoice{sdk::Backend::kEmulated, fmt::format("auto: {}, which only the emulated backend serves", trace)});
}

Result<sdk::KernelPlan> Runtime::kernel_plan() const {
  sdk::KernelPlan plan;
  for (const auto& fp : plugins_) {
    auto* k = static_cast<sdk::KernelConfigurator*>(fp.plugin->plugin().query_interface(sdk::KernelConfigurator::kName));
    if (!k) continue;
    if (std::string err = k->configure_kernel(plan); !err.empty())
      return Error{EINVAL, fmt::format("plugin '{}' cannot configure the kernel backend: {}", fp.plugin->info().name, err)};
  }
  return plan;
}

Result<std::unique_ptr<Runtime>> Runtime::create(const config::Config& config, BackendChoice backend) {
  std::unique_ptr<Runtime> rt(new Runtime(config, std::move(backend)));
  rt->search_path_ = config.plugin_search_path();
  for (auto& dir : default_plugin_dirs()) rt->search_path_.push_back(std::move(dir));

  for (const auto& [name, fc] : config.families()) {
    if (!fc.enabled || fc.plugin.empty()) continue;
    auto where = config.where(fmt::format("families.{}.plugin", name)).str();
    auto path = find_plugin(fc.plugin, rt->search_path_);
    if (!path) return Error{path.error().code, fmt::format("{}: {}", where, path.error().message)};
    auto loaded = load_plugin(*path);
    if (!loaded) return Error{loaded.error().code, fmt::format("{}: {}", where, loaded.error().message)};
    auto& plugin = (*loaded)->plugin();
    const auto& info = (*loaded)->info();
    if (!info.config_table.empty()) {
      auto keys = plugin.config_keys();
      LX_TRY(rt->config_.validate_table(info.config_table, keys));
    }
    PluginConfigView view(rt->config_, info.config_table, rt->backend_.backend);
    if (std::string err = plugin.configure(view); !err.empty())
      return Error::msg(fmt::format("plugin '{}' ({}) refused its config: {}", info.name, *path, err));
    rt->plugins_.push_back(FamilyPlugin{name, std::move(*loaded)});
  }
  rt->registry_ = std::make_unique<Registry>(rt->plugins_);
  for (const auto& fp : rt->plugins_) fp.plugin->plugin().connect(*rt->registry_);
  std::vector<std::string> owned;
  for (const auto& fp : rt->plugins_)
    if (!fp.plugin->info().config_table.empty()) owned.push_back(fp.plugin->info().config_table);
  LX_TRY(rt->config_.check_tables_owned(owned));
  LX_TRY_ASSIGN(dispatch, build_dispatch(rt->config_, rt->plugins_));
  rt->dispatch_ = std::move(dispatch);
  return rt;
}

void* Runtime::find_interface(std::string_view name) const noexcept {
  return registry_ ? registry_->find_interface(name) : nullptr;
}

Result<driver::KernelInstance*> Runtime::kernel_instance(const std::string& name, driver::EventSink* sink, bool distro) {
  if (kernel_) return kernel_.get();
  if (backend_.backend != sdk::Backend::kKernel) return Error{EINVAL, "this instance runs on the emulated backend"};
  LX_TRY_ASSIGN(plan, kernel_plan());
  LX_TRY_ASSIGN(filter, driver::compile_filter(dispatch_.policy));
  kernel_filter_ = std::move(filter);
  driver::KernelInstance::Options o;
  o.plan = std::move(plan);
  o.maps = driver::id_maps_of_this_user();
  o.filter = kernel_filter_;
  o.listener = has_notify(dispatch_.policy);
  o.table = &dispatch_.table;
  o.name = name;
  o.sink = sink;
  o.distro = distro;
  o.new_ipc_and_uts = !keep_ipc_uts_;
  o.exact_mounts = exact_mounts_;
  o.read_only_root = read_only_root_;
  auto dc = config_.driver();
  o.notify_workers = dc.notify_workers;
  o.sync_wakeup = dc.sync_wakeup;
  LX_TRY_ASSIGN(k, driver::KernelInstance::start(std::move(o)));
  kernel_ = std::move(k);
  return kernel_.get();
}

Result<std::unique_ptr<driver::GuestRunner>> Runtime::make_driver(driver::EventSink* sink, std::string instance,
                                                                  std::function<void(pid_t)> on_guest_start,
                                                                  std::function<void(const driver::ExitStatus&)> on_main_exit) {
  if (backend_.backend == sdk::Backend::kKernel) {
    LX_TRY_ASSIGN(k, kernel_instance(instance, sink));
    return std::unique_ptr<driver::GuestRunner>(
        std::make_unique<driver::KernelRunner>(*k, kernel_filter_, std::move(on_guest_start), std::move(on_main_exit)));
  }
  std::vector<sdk::Plugin*> plugins;
  for (const auto& fp : plugins_) plugins.push_back(&fp.plugin->plugin());
  auto dc = config_.driver();
  driver::DriverOptions opts{std::move(instance), dc.notify_workers, dc.sync_wakeup, sink, std::move(on_guest_start),
                             std::move(on_main_exit), dispatch_.withheld_caps};
  auto d = driver::Driver::create(dispatch_.policy, dispatch_.table, std::move(plugins), opts);
  if (!d) return Error::msg(fmt::format("compiling the seccomp filter failed: {}", d.error().message));
  return std::unique_ptr<driver::GuestRunner>(std::move(*d));
}

}  // namespace lx::runtime
