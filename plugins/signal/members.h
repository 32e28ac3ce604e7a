// The instance's members (every guest thread, by host tid) and the questions confinement asks
// about them: is a pid a member, which members form a process group or run as a uid, whether a
// whole process group lies inside the instance, and which process a pidfd names.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <unordered_set>
#include <vector>

#include <lxhost/interfaces.h>

#include "base/pid_set.h"

namespace lx::signal {

/// The set of guest threads of one instance, kept by on_process_start/on_process_exit.
class Members {
 public:
  /// Each guest thread's credentials (proc family), when lx is privileged and signals on a
  /// guest's behalf with more than the guest may: kill(2)'s permission check is made here then.
  sdk::GuestCredentials* creds = nullptr;
  /// The credentials are emulated (fake root): the kernel, seeing lx's real root in every guest,
  /// permits every signal, so even the kills it does itself are checked here first.
  bool emulated = false;

  /// A guest thread appeared; `launch`: a launch's first process, which is lx's own (every
  /// capability, the instance's fds) and no member to a guest until its first exec (launched()).
  void add(pid_t tid, bool launch = false);
  /// Launch process `pid` has exec'd its program.
  void launched(pid_t pid) noexcept;
  /// A guest thread is gone.
  void remove(pid_t tid) noexcept;
  /// Whether `tid` is a guest thread (or process) of the instance.
  bool contains(pid_t tid) const;
  /// The instance's processes (thread-group leaders), only those in group `pgid` when it is > 0.
  std::vector<pid_t> processes(pid_t pgid = 0) const;
  /// Every guest thread in process group `pgid`.
  std::vector<pid_t> threads_in_group(pid_t pgid) const;
  /// Every guest thread whose real uid is `uid`.
  std::vector<pid_t> threads_of_uid(uid_t uid) const;
  /// Whether some guest process is in group `pgid`.
  bool group_has_member(pid_t pgid) const;
  /// Whether group `pgid` has a guest process and no process outside the instance (a scan of /proc).
  bool group_inside(pid_t pgid) const;
  /// Remembers the process group a launch's first process started in (job control may give
  /// the terminal back to it).
  void add_launch_group(pid_t pgid);
  /// Whether `pgid` is a group a launch started in.
  bool is_launch_group(pid_t pgid) const;

 private:
  std::vector<pid_t> snapshot() const;
  PidSet tids_;
  PidSet launching_;
  PidSet launch_groups_;
};

/// The process a pidfd (or a /proc/<pid> directory fd) of guest thread `tid` refers to, read
/// from /proc/<tid>/fdinfo/<fd> ("Pid:", -1 once the process is gone, 0 when it is not
/// visible) or from the fd's /proc path; nullopt when `fd` is neither (the kernel says EBADF).
std::optional<pid_t> pidfd_target(pid_t tid, int fd);

/// The real uid of thread `tid` (from /proc/<tid>/status), or nullopt once it is gone.
std::optional<uid_t> real_uid(pid_t tid);

}  // namespace lx::signal
