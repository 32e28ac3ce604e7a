// What runs one launch, on either backend: the emulated Driver (ptrace + NOTIFY, driver.h) or a
// launch in a kernel-backed instance (KernelRunner, kernel_runner.h). The service's instances and
// `lx exec` hold launches through this.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <vector>

#include "base/result.h"
#include "driver/launcher.h"
#include "driver/process_table.h"
#include "driver/trace_channel.h"

namespace lx::driver {

/// Counters of one run.
struct DriverStats {
  bool sync_wakeup = false;         ///< the kernel accepted synchronous wake-ups
  std::uint64_t notifications = 0;  ///< NOTIFY calls served
  std::uint64_t trace_stops = 0;    ///< TRACE calls handled
};

/// One launch's runner.
class GuestRunner {
 public:
  virtual ~GuestRunner() = default;
  /// Runs `spec` until its first process exits; returns its status. The emulated driver goes on
  /// until its whole tree is gone when told so (DriverOptions::on_main_exit).
  virtual Result<ExitStatus> run(const LaunchSpec& spec) = 0;
  /// Ends the launch's processes (SIGTERM, SIGKILL after `grace`); safe from any thread.
  virtual void end(std::chrono::milliseconds grace) = 0;
  /// Its processes (empty when nothing runs); safe from any thread.
  virtual std::vector<ProcessInfo> processes() const = 0;
  /// The host pid of its first process, or 0. Safe from any thread.
  virtual pid_t main_pid() const noexcept = 0;
  /// The compiled filter.
  virtual const BpfProgram& filter() const noexcept = 0;
  /// Counters of the last run.
  virtual const DriverStats& stats() const noexcept = 0;
};

}  // namespace lx::driver
