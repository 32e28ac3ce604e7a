// The NOTIFY channel: a small pool of worker threads serving seccomp user notifications,
// with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP where the kernel has it.
#pragma once

#include <linux/seccomp.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
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
  /// Lets the channel read how many guest threads are alive (helpers are pointless with one).
  void set_guest_threads(const std::atomic<int>* count) noexcept { guest_threads_ = count; }
  /// Starts `workers` threads.
  Result<void> start(int workers);
  /// Stops the workers and waits for them (idempotent).
  void stop() noexcept;
  /// Number of notifications served so far.
  std::uint64_t served() const noexcept { return served_.load(std::memory_order_relaxed); }
  /// Whether the guest tree is gone (no task uses the filter: the listener hung up), so the
  /// channel has nothing left to serve and may be stopped.
  bool finished() const noexcept { return finished_.load(std::memory_order_relaxed); }

 private:
  void run(bool primary) noexcept;
  void serve(const seccomp_notif& req) noexcept;
  void watch() noexcept;
  void hand_over() noexcept;
  bool spawn_worker(bool primary);

  int listener_;
  const DispatchTable& table_;
  std::string instance_;
  EventSink* sink_;
  bool sync_wakeup_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> served_{0};
  std::atomic<int> running_{0};
  std::atomic<bool> finished_{false};
  std::mutex mu_;
  std::condition_variable helper_cv_;
  int helper_requests_ = 0;
  const std::atomic<int>* guest_threads_ = nullptr;  // guarded by mu_: helpers asked to take one notification each
  std::vector<std::thread> workers_;              // grows only on the watcher thread (or in start)
  std::atomic<int> worker_count_{0};
  std::atomic<int> busy_helpers_{0};              // helpers inside a handler
  std::atomic<std::uint64_t> primary_serving_{0};  // id|1 of the call the primary serves; 0: none
  std::thread watcher_;
  std::condition_variable watcher_cv_;
};

}  // namespace lx::driver
