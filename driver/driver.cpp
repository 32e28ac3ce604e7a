// Driver: compiles the filter, then runs the trace channel and, once the listener is taken, the
// NOTIFY worker pool.
#include "driver/driver.h"

#include "driver/notify_channel.h"

namespace lx::driver {

Result<std::unique_ptr<Driver>> Driver::create(const FilterPolicy& policy, DispatchTable table,
                                               std::vector<sdk::Plugin*> plugins, DriverOptions options) {
  LX_TRY_ASSIGN(filter, compile_filter(policy));
  return std::unique_ptr<Driver>(new Driver(std::move(filter), table, std::move(plugins), std::move(options)));
}

Driver::Driver(BpfProgram filter, DispatchTable table, std::vector<sdk::Plugin*> plugins, DriverOptions options)
    : filter_(std::move(filter)),
      table_(table),
      plugins_(std::move(plugins)),
      options_(std::move(options)) {}

Driver::~Driver() = default;

pid_t Driver::main_pid() const noexcept { return trace_ ? trace_->main_pid() : 0; }

namespace {

// `spec` without the capabilities in `withheld`.
LaunchSpec without_caps(const LaunchSpec& spec, std::uint64_t withheld) {
  LaunchSpec s = spec;
  s.bounding_caps = spec.bounding_caps.value_or(~0ull) & ~withheld;
  if (s.inheritable_caps) *s.inheritable_caps &= ~withheld;
  if (s.ambient_caps) *s.ambient_caps &= ~withheld;
  return s;
}

}  // namespace

Result<ExitStatus> Driver::run(const LaunchSpec& given) {
  const LaunchSpec& spec = options_.withheld_caps ? without_caps(given, options_.withheld_caps) : given;
  stats_ = {};
  trace_ = std::make_unique<TraceChannel>(table_, options_.instance, options_.sink, plugins_);
  trace_->set_on_start(options_.on_guest_start);
  if (options_.on_main_exit) trace_->set_on_main_exit(options_.on_main_exit);
  running_.store(trace_.get());
  std::unique_ptr<NotifyChannel> notify;
  auto on_listener = [&](int listener) -> Result<void> {
    notify = std::make_unique<NotifyChannel>(listener, table_, options_.instance, options_.sink);
    if (options_.sync_wakeup) stats_.sync_wakeup = notify->enable_sync_wakeup();
    notify->set_guest_threads(&trace_->live_threads());
    return notify->start(options_.notify_workers < 1 ? 1 : options_.notify_workers);
  };
  auto result = trace_->run(spec, filter_, on_listener);
  if (notify) {
    notify->stop();
    stats_.notifications = notify->served();
  }
  stats_.trace_stops = trace_->trace_stops();
  running_.store(nullptr);
  return result;
}

std::vector<ProcessInfo> Driver::processes() const {
  if (TraceChannel* t = running_.load()) return t->processes();
  return {};
}

void Driver::end(std::chrono::milliseconds grace) {
  if (TraceChannel* t = running_.load()) t->end(grace);
}

}  // namespace lx::driver
