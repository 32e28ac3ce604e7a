// The TRACE channel: the ptrace side of the driver. It has the launcher start and seize the
// guest's first process and take the seccomp listener, then follows every process of the guest
// tree (clone/fork/vfork/exec events, seccomp stops for the TRACE route, signal-delivery and
// group-stops passed through; the threads kept in a ProcessTable) until the first process exits,
// and ends the rest.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <thread>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/result.h"
#include "driver/dispatch_table.h"
#include "driver/ignored_signals.h"
#include "driver/launcher.h"
#include "driver/process_table.h"
#include "driver/syscall_event.h"

namespace lx::driver {

/// How a guest process ended.
struct ExitStatus {
  bool signaled = false;     ///< killed by a signal
  int code = 0;              ///< exit code when !signaled
  int signal = 0;            ///< signal number when signaled
  bool core_dumped = false;  ///< a core was dumped
  /// The status a shell reports: code, or 128 + signal.
  int shell_status() const noexcept { return signaled ? 128 + signal : code; }
  /// From a wait status.
  static ExitStatus from_wait_status(int status) noexcept;
};

/// Follows one guest tree with ptrace. All ptrace calls happen on the thread that calls run().
class TraceChannel {
 public:
  /// Called once with the seccomp listener (ownership passes) before the guest runs on.
  using ListenerHandler = Launcher::ListenerHandler;

  /// Dispatches TRACE-route calls with `table`; reports to `sink` (may be null); tells
  /// `plugins` about processes coming and going.
  TraceChannel(const DispatchTable& table, std::string instance, EventSink* sink,
               std::vector<sdk::Plugin*> plugins);

  /// Launches `spec` under `filter` and follows it until its first process exits; the other
  /// processes of the tree are then killed. Returns the first process's exit status.
  Result<ExitStatus> run(const LaunchSpec& spec, const BpfProgram& filter, const ListenerHandler& on_listener);

  /// Ends the guest tree from any thread: SIGTERM to every process now, SIGKILL to those left
  /// after `grace`; run() returns once the last one is gone (daemons included: every process of
  /// the tree is traced, orphans are reparented to us).
  void end(std::chrono::milliseconds grace);
  /// Sets a callback run with the first guest pid once it is seized.
  void set_on_start(std::function<void(pid_t)> f) { on_start_ = std::move(f); }
  /// Keeps following the tree after the first process exits (an instance's daemons live on):
  /// `f` gets the first process's status at once, and run() returns only when the whole tree is
  /// gone (see end()).
  void set_on_main_exit(std::function<void(const ExitStatus&)> f) { on_main_exit_ = std::move(f); }

  /// The pid of the guest's first process (0 before launch). Safe from any thread.
  pid_t main_pid() const noexcept { return main_pid_.load(); }
  /// The number of followed guest threads, kept current. Safe from any thread.
  const std::atomic<int>& live_threads() const noexcept { return table_.live(); }
  /// The process table: every process of the guest tree (threads folded in). Safe from any thread.
  std::vector<ProcessInfo> processes() const { return table_.processes(); }
  /// A snapshot of the followed threads. Safe from any thread.
  std::vector<Tracee> tracees() const { return table_.tracees(); }
  /// Number of PTRACE_EVENT_SECCOMP stops handled.
  std::uint64_t trace_stops() const noexcept { return trace_stops_; }

 private:
  /// What the loop knows of the first process.
  struct MainState {
    pid_t pid = 0;
    bool done = false;
    bool execd = false;
    ExitStatus status;
  };
  Result<Launcher> launch(const LaunchSpec& spec, const BpfProgram& filter, const ListenerHandler& on_listener);
  Result<void> follow(Launcher& launcher, const LaunchSpec& spec, MainState& main);
  Result<void> on_ended(Launcher& launcher, const LaunchSpec& spec, MainState& main, pid_t tid, int status);
  void finish();
  void handle_stop(pid_t tid, int status);
  void handle_seccomp_stop(pid_t tid);
  void handle_exec(pid_t tid);
  void check_return(pid_t tid);  // at a syscall-exit stop: the plugin's check of a rewritten call

  const DispatchTable& dispatch_;
  std::string instance_;
  EventSink* sink_;
  std::vector<sdk::Plugin*> plugins_;
  ProcessTable table_;
  std::atomic<pid_t> main_pid_{0};
  std::uint64_t trace_stops_ = 0;
  IgnoredSignals ignored_;                // signals the guest ignores: dropped (ignored_signals.h)
  std::unordered_set<pid_t> signalled_;  // threads resumed with a signal at their last stop
  std::unordered_map<pid_t, sdk::SyscallContext::ReturnCheck> returns_;  // rewritten calls to check
  std::function<void(pid_t)> on_start_;
  std::function<void(const ExitStatus&)> on_main_exit_;
  std::atomic<bool> ending_{false};
  std::mutex end_mu_;
  std::condition_variable end_cv_;
  bool finished_ = false;  // guarded by end_mu_
  std::thread end_timer_;
};

}  // namespace lx::driver
