// The process table: every guest thread the tracer follows, with who created it, folded into
// processes for `lx ps`. Plugins and the event sink hear of each thread coming and going from
// here. Written by the tracer thread only; readable from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <lxhost/plugin.h>

#include "driver/syscall_event.h"

namespace lx::driver {

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

/// The followed threads of one guest tree.
/// Whether thread `tid` is traced by a thread of this process: a tracee stays one until its
/// tracer reaps it, so a number that is not is no longer the tracee it was (pid reuse).
bool traced_by_this_process(pid_t tid) noexcept;

class ProcessTable {
 public:
  /// Tells `plugins` and `sink` (may be null) of every thread added and removed.
  ProcessTable(std::vector<sdk::Plugin*> plugins, EventSink* sink)
      : plugins_(std::move(plugins)), sink_(sink) {}

  /// Adds thread `tid`, created by tracee `parent` (0: none).
  void add(pid_t tid, pid_t parent);
  /// Adds `tid`, seen at a stop, unless known: a new child's first stop can come before its
  /// creator's clone/fork event, so its creator is read from /proc.
  void add_seen(pid_t tid);
  /// Records that tracee `parent` created `child` (its clone/fork event), adding it if new.
  void set_parent(pid_t child, pid_t parent);
  /// Removes `tid` (which ended with wait status `status`); nothing when unknown.
  void remove(pid_t tid, int status);

  /// The thread group of tracee `tid`, read from /proc once and kept.
  pid_t tgid_of(pid_t tid);
  /// Whether no thread is left.
  bool empty() const;
  /// The followed thread ids.
  std::vector<pid_t> tids() const;
  /// A snapshot of the followed threads.
  std::vector<Tracee> tracees() const;
  /// Every process of the tree (threads folded in), with its state and command line.
  std::vector<ProcessInfo> processes() const;
  /// The number of followed threads, kept current.
  const std::atomic<int>& live() const noexcept { return live_; }
  /// SIGKILL to every followed thread this process still traces (never to a number reused).
  void kill_all() const noexcept;

 private:
  std::vector<sdk::Plugin*> plugins_;
  EventSink* sink_;
  mutable std::mutex mu_;
  std::unordered_map<pid_t, Tracee> tracees_;  // guarded by mu_
  std::atomic<int> live_{0};
};

}  // namespace lx::driver
