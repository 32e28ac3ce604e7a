// The NOTIFY channel: a small pool of worker threads serving seccomp user notifications,
// with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP where the kernel has it.
#pragma once

#include <linux/seccomp.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "driver/dispatch_table.h"
#include "driver/syscall_event.h"

namespace lx::driver {

/// Serves the seccomp listener of one guest tree.
class NotifyChannel {
 public:
  /// Serves `listener` (owned from now on) with `table`, reporting to `sink` (may be null).
  NotifyChannel(int listener, const DispatchTable& table, std::string instance, EventSink* sink);
  ~NotifyChannel();
  NotifyChannel(const NotifyChannel&) = delete;
  NotifyChannel& operator=(const NotifyChannel&) = delete;

  /// Asks for synchronous wake-ups (kernel ≥ 6.6). Returns whether the kernel accepted.
  bool enable_sync_wakeup() noexcept;
  /// Whether synchronous wake-ups are on.
  bool sync_wakeup() const noexcept { return sync_wakeup_; }
  /// Starts `workers` threads.
  Result<void> start(int workers);
  /// Stops the workers and waits for them (idempotent).
  void stop() noexcept;
  /// Number of notifications served so far.
  std::uint64_t served() const noexcept { return served_.load(std::memory_order_relaxed); }

 private:
  void run() noexcept;
  void serve(seccomp_notif& req, seccomp_notif_resp& resp) noexcept;

  int listener_;
  const DispatchTable& table_;
  std::string instance_;
  EventSink* sink_;
  bool sync_wakeup_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> served_{0};
  std::atomic<int> running_{0};
  std::vector<std::thread> workers_;
};

}  // namespace lx::driver
