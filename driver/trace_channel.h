// The TRACE channel: the ptrace side of the driver. It seizes the guest's first process, takes
// the seccomp listener at the filter install, then follows every process of the guest tree
// (clone/fork/vfork/exec events, seccomp stops for the TRACE route, signal-delivery and
// group-stops passed through) until the first process exits, and ends the rest.
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
#include <vector>

#include "base/result.h"
#include "driver/dispatch_table.h"
#include "driver/launcher.h"
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

/// One guest thread the tracer follows.
struct Tracee {
  pid_t tid = 0;      ///< thread id
  pid_t tgid = 0;     ///< thread group (process) id
  pid_t parent = 0;   ///< the tracee that created it (0 for the first)
};

/// One process of the guest tree, as the process table shows it.
struct ProcessInfo {
  pid_t pid = 0;        ///< process id (thread group id)
  pid_t parent = 0;     ///< the guest process that created it (0 for the first)
  char state = '?';     ///< R, S, D, T, Z, ... from /proc/<pid>/stat
  int threads = 1;      ///< threads followed in it
  std::string command;  ///< its command line, arguments separated by spaces
  std::string cmdline;  ///< the same as /proc/<pid>/cmdline has it (NUL-terminated arguments)
};

/// Follows one guest tree with ptrace. All ptrace calls happen on the thread that calls run().
class TraceChannel {
 public:
  /// Called once with the seccomp listener (ownership passes) before the guest runs on.
  using ListenerHandler = std::function<Result<void>(int listener)>;

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
  const std::atomic<int>& live_threads() const noexcept { return live_; }
  /// The process table: every process of the guest tree (threads folded in). Safe from any thread.
  std::vector<ProcessInfo> processes() const;
  /// A snapshot of the followed threads. Safe from any thread.
  std::vector<Tracee> tracees() const;
  /// Number of PTRACE_EVENT_SECCOMP stops handled.
  std::uint64_t trace_stops() const noexcept { return trace_stops_; }

 private:
  Result<void> take_listener(Launcher& launcher, const ListenerHandler& on_listener);
  void handle_stop(pid_t tid, int status);
  void handle_seccomp_stop(pid_t tid);
  void add_tracee(pid_t tid, pid_t parent);
  void remove_tracee(pid_t tid, int status);
  pid_t tgid_of(pid_t tid);
  void kill_all() noexcept;

  const DispatchTable& table_;
  std::string instance_;
  EventSink* sink_;
  std::vector<sdk::Plugin*> plugins_;
  std::atomic<pid_t> main_pid_{0};
  mutable std::mutex mu_;
  std::unordered_map<pid_t, Tracee> tracees_;  // guarded by mu_ for readers; written by the tracer
  std::uint64_t trace_stops_ = 0;
  std::function<void(pid_t)> on_start_;
  std::function<void(const ExitStatus&)> on_main_exit_;
  std::atomic<int> live_{0};
  std::atomic<bool> ending_{false};
  std::mutex end_mu_;
  std::condition_variable end_cv_;
  bool finished_ = false;  // guarded by end_mu_
  std::thread end_timer_;
};

}  // namespace lx::driver
