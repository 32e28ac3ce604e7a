// The kernel backend's host side: one instance as a set of namespaces (user, mount, PID, UTS,
// IPC) with its own init (ns_init.h), and its launches. The kernel resolves paths and confines
// processes; what the families keep (NOTIFY rows: net policy, uname release, out-of-tree
// plugins' rows) is served here from each launch's seccomp listener, taken with pidfd_getfd —
// no ptrace anywhere, so the guest may trace its own processes (gdb, strace -f).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <lxhost/interfaces.h>

#include "base/result.h"
#include "base/unique_fd.h"
#include "driver/bpf_compiler.h"
#include "driver/dispatch_table.h"
#include "driver/launcher.h"
#include "driver/namespaces.h"
#include "driver/ns_mounts.h"
#include "driver/ns_cgroup.h"
#include "driver/ns_wire.h"
#include "driver/process_table.h"
#include "driver/syscall_event.h"
#include "driver/trace_channel.h"

namespace lx::driver {

class NotifyChannel;

/// One kernel-backed instance.
class KernelInstance {
 public:
  /// What it is made of.
  struct Options {
    sdk::KernelPlan plan;              ///< root, mounts, hostname, limits (from the families)
    IdMaps maps;                       ///< its user namespace's id maps
    BpfProgram filter;                 ///< every launch's seccomp filter
    bool listener = false;             ///< the filter has NOTIFY routes
    const DispatchTable* table = nullptr;  ///< serves them (must outlive the instance)
    std::string name = "default";      ///< instance name handlers see
    int notify_workers = 2;            ///< per launch
    bool sync_wakeup = true;           ///< SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
    EventSink* sink = nullptr;         ///< may be null
    /// The root is a store's distro: with subordinate ranges mapped, its recorded owners are
    /// made real once (ns_owners.h).
    bool distro = false;
    /// New IPC and UTS namespaces in its user namespace (the hostname set there); false keeps
    /// the starting process's, whose hostname its launcher set.
    bool new_ipc_and_uts = true;
    /// Mounts done exactly as given, in order, before the plan's (lxhost-runc: a bundle's).
    std::vector<ExactMount> exact_mounts;
    /// The root's mount made read-only once everything is mounted (root.readonly).
    bool read_only_root = false;
  };

  /// Creates the namespaces and starts init; returns once init has set up the mount namespace.
  /// Call while the process is single-threaded (it forks; the child goes on without exec).
  static Result<std::unique_ptr<KernelInstance>> start(Options options);
  /// Ends the instance at once (SIGKILL to init: its PID namespace ends with it).
  ~KernelInstance();
  KernelInstance(const KernelInstance&) = delete;
  KernelInstance& operator=(const KernelInstance&) = delete;

  /// Runs one launch: init forks it inside, it installs the filter, takes `spec.ids` and execs.
  /// `on_start` gets its host pid before it execs; returns its status when it exits (its
  /// children live on in the instance).
  Result<ExitStatus> run(const LaunchSpec& spec, const std::function<void(pid_t)>& on_start);
  /// Asks init to end every process (SIGTERM, then SIGKILL after `grace`); safe from any thread.
  void end(std::chrono::milliseconds grace);
  /// Whether init is gone (the instance has ended).
  bool gone() const;
  /// Calls `f` (from another thread) once init is gone, so the owner need not poll gone().
  void set_on_gone(std::function<void()> f);
  /// Every process of the instance's PID namespace (host pids), init included.
  std::vector<ProcessInfo> processes() const;
  /// init's host pid.
  pid_t init_pid() const noexcept { return init_pid_; }
  /// The id maps of its user namespace.
  const IdMaps& maps() const noexcept { return options_.maps; }
  /// "" or one line on what starting it converted (the distro's owners).
  const std::string& start_note() const noexcept { return start_note_; }
  /// The instance's root directory (O_PATH), to open files in as its processes see them
  /// (openat2 with RESOLVE_IN_ROOT); -1 if init did not send it.
  int root_fd() const noexcept { return root_.get(); }
  /// NOTIFY calls served so far.
  std::uint64_t notifications() const;

 private:
  struct Waiter {
    bool exited = false, failed = false;
    int err = 0, status = 0;
  };
  struct Reported {
    nswire::Report report;
    pid_t pid = 0;  ///< the reporting process, in our PID namespace
  };
  explicit KernelInstance(Options options);
  Result<void> handshake(pid_t child);
  void read_events();
  Result<void> send_launch(std::uint32_t id, const LaunchSpec& spec, int report_w, int go_r);
  static Result<Reported> read_report(int fd);
  Result<ExitStatus> no_report(std::uint32_t id);
  Result<void> take_listener(int pidfd, int child_fd);
  Result<ExitStatus> wait_exit(std::uint32_t id);

  Options options_;
  UniqueFd ctl_, init_pidfd_;
  pid_t init_pid_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool gone_ = false;
  std::map<std::uint32_t, Waiter> waiters_;
  std::uint32_t next_id_ = 1;
  std::vector<std::unique_ptr<NotifyChannel>> channels_;
  std::uint64_t served_before_ = 0;
  std::string start_note_;
  UniqueFd root_;
  std::function<void()> on_gone_;
  PidsCgroup pids_;  // max_processes where RLIMIT_NPROC does not bind (root)
  std::thread events_;
};

}  // namespace lx::driver
