// One launch in a kernel-backed instance, as a GuestRunner (see guest_runner.h).
#pragma once

#include <atomic>
#include <functional>

#include "driver/guest_runner.h"
#include "driver/kernel_instance.h"

namespace lx::driver {

/// Runs launches in `instance` (which must outlive it).
class KernelRunner final : public GuestRunner {
 public:
  KernelRunner(KernelInstance& instance, const BpfProgram& filter, std::function<void(pid_t)> on_start,
               std::function<void(const ExitStatus&)> on_main_exit)
      : instance_(instance), filter_(filter), on_start_(std::move(on_start)), on_main_exit_(std::move(on_main_exit)) {}

  Result<ExitStatus> run(const LaunchSpec& spec) override {
    stats_ = {};
    std::uint64_t before = instance_.notifications();
    auto r = instance_.run(spec, [this](pid_t pid) {
      main_pid_.store(pid);
      if (on_start_) on_start_(pid);
    });
    stats_.notifications = instance_.notifications() - before;
    if (r && on_main_exit_) on_main_exit_(*r);
    return r;
  }
  /// Ends the whole instance: its processes are one PID namespace.
  void end(std::chrono::milliseconds grace) override { instance_.end(grace); }
  /// The instance's processes are listed once, by KernelInstance::processes().
  std::vector<ProcessInfo> processes() const override { return {}; }
  pid_t main_pid() const noexcept override { return main_pid_.load(); }
  const BpfProgram& filter() const noexcept override { return filter_; }
  const DriverStats& stats() const noexcept override { return stats_; }

 private:
  KernelInstance& instance_;
  const BpfProgram& filter_;
  std::function<void(pid_t)> on_start_;
  std::function<void(const ExitStatus&)> on_main_exit_;
  std::atomic<pid_t> main_pid_{0};
  DriverStats stats_;
};

}  // namespace lx::driver
