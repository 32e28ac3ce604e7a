// The driver: runs one guest tree under a compiled seccomp filter, serving the NOTIFY route
// with a worker pool and the TRACE route (and process lifecycle) with ptrace.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "driver/bpf_compiler.h"
#include "driver/dispatch_table.h"
#include "driver/filter_policy.h"
#include "driver/guest_runner.h"
#include "driver/launcher.h"
#include "driver/syscall_event.h"
#include "driver/trace_channel.h"

namespace lx::driver {

/// Driver settings.
struct DriverOptions {
  std::string instance = "default";  ///< instance name handlers see
  int notify_workers = 2;            ///< NOTIFY worker threads
  bool sync_wakeup = true;           ///< ask for SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
  EventSink* sink = nullptr;         ///< --trace and process events; may be null
  /// Called on the tracer thread with the first guest pid once it is seized (signal forwarding).
  std::function<void(pid_t)> on_guest_start;
  /// When set, the tree outlives its first process: this gets the first process's status when
  /// it exits, and run() goes on until the last process is gone or end() ends them.
  std::function<void(const ExitStatus&)> on_main_exit;
  /// Capabilities dropped from the guest's bounding, inheritable and ambient sets at launch
  /// (bit c: capability c), on top of what the launch itself asks.
  std::uint64_t withheld_caps = 0;
};

/// Runs guests under one policy and dispatch table.
class Driver final : public GuestRunner {
 public:
  /// Compiles `policy` (an Error when it is malformed) into a driver.
  static Result<std::unique_ptr<Driver>> create(const FilterPolicy& policy, DispatchTable table,
                                                std::vector<sdk::Plugin*> plugins, DriverOptions options);
  ~Driver() override;

  /// Runs `spec` until its first process exits; ends the rest of its tree; returns its status.
  /// The calling thread becomes the tracer; the guest's processes are its children.
  Result<ExitStatus> run(const LaunchSpec& spec) override;

  /// Ends the running guest tree (see TraceChannel::end); safe from any thread.
  void end(std::chrono::milliseconds grace) override;

  /// The running guest's process table (empty when nothing runs); safe from any thread.
  std::vector<ProcessInfo> processes() const override;

  /// The compiled filter.
  const BpfProgram& filter() const noexcept override { return filter_; }
  /// The pid of the running guest's first process, or 0. Safe from any thread (signal forwarding).
  pid_t main_pid() const noexcept override;
  /// Counters of the last run.
  const DriverStats& stats() const noexcept override { return stats_; }

 private:
  Driver(BpfProgram filter, DispatchTable table, std::vector<sdk::Plugin*> plugins, DriverOptions options);

  BpfProgram filter_;
  DispatchTable table_;
  std::vector<sdk::Plugin*> plugins_;
  DriverOptions options_;
  DriverStats stats_;
  std::unique_ptr<TraceChannel> trace_;  // set before run() launches; read by end()
  std::atomic<TraceChannel*> running_{nullptr};
};

}  // namespace lx::driver
