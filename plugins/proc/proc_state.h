// What the proc family's handlers work on: the emulated credentials of every guest thread (fake
// root), which it offers other plugins as IdentityMap, LaunchIdentity and Credentials, and the
// plugin's settings ([proc]) and exec rewriter.
#pragma once

#include <linux/capability.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <lxhost/interfaces.h>

#include "base/acting_as.h"
#include "base/subordinate_ids.h"

#include "exec_rewriter.h"

namespace lx::proc {

/// The emulated credentials of one guest thread.
struct Creds {
  std::uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0;  ///< real, effective, saved, filesystem uid
  std::uint32_t rgid = 0, egid = 0, sgid = 0, fsgid = 0;  ///< the same gids
  std::vector<std::uint32_t> groups;                       ///< supplementary groups
  /// Capabilities (capabilities(7)): root's are all of them, as natively.
  std::uint64_t cap_eff = ~0ULL, cap_prm = ~0ULL, cap_inh = 0;
  bool keepcaps = false;  ///< prctl(PR_SET_KEEPCAPS)
};

/// Whether `cr` has capability `cap` in its effective set.
inline bool capable(const Creds& cr, int cap) { return (cr.cap_eff >> cap) & 1; }

/// The credentials of the instance's live threads, by host tid, under one lock; with fake root
/// the host user's files are root's (IdentityMap), as under fakeroot or proot -0.
class CredentialTable final : public sdk::IdentityMap,
                              public sdk::LaunchIdentity,
                              public sdk::Credentials,
                              public sdk::GuestCredentials {
 public:
  /// The host user's own ids are root's; ids in the user's delegated subordinate ranges (what
  /// guests of the kernel backend own there: it maps them from 1) are the ids they are inside.
  std::uint32_t guest_uid(std::uint32_t uid) noexcept override { return guest_id(uid, host_uid_, sub_uids_); }
  std::uint32_t guest_gid(std::uint32_t gid) noexcept override { return guest_id(gid, host_gid_, sub_gids_); }
  /// `lx run -u USER` starts the launch's first process as USER.
  int set_identity(pid_t pid, std::uint32_t uid, std::uint32_t gid, const std::uint32_t* groups,
                   std::size_t ngroups) noexcept override;
  /// Who a guest thread is on files, for the owners of the files it creates.
  bool fs_identity(pid_t tid, std::uint32_t& uid, std::uint32_t& gid) noexcept override;
  /// The emulated credentials of `tid`, for the checks of calls done on its behalf (a privileged
  /// lx, whose users' ids are host ids, acts as them).
  bool thread_credentials(pid_t tid, sdk::ThreadCredentials& out) noexcept override;

  /// Thread `tid` appeared: it starts with its parent's credentials (root's for the first).
  void start(pid_t tid, pid_t parent);
  /// Thread `tid` is gone.
  void exit(pid_t tid) noexcept;
  /// Runs `f(Creds&)` on the credentials of `tid` (root's if unknown) under the lock.
  template <class F>
  decltype(auto) with(pid_t tid, F&& f) {
    std::lock_guard lock(mu_);
    return f(creds_[tid]);
  }
  /// A copy of the credentials of `tid`, or nullopt when it is not a live guest thread.
  std::optional<Creds> find(pid_t tid) const;
  /// The live guest threads whose /proc/<tid>/task can still be reached (the process limit).
  std::size_t live_count() const;

 private:
  static std::uint32_t guest_id(std::uint32_t id, std::uint32_t own, const std::optional<SubordinateRange>& sub) noexcept {
    if (id == own) return 0;
    if (sub && id >= sub->start && id - sub->start < sub->count) return 1 + (id - sub->start);
    return id;
  }

  const std::uint32_t host_uid_ = getuid();
  const std::uint32_t host_gid_ = getgid();
  // Only an ordinary user has them mapped so (root's kernel-backend namespace maps every id to itself).
  const std::optional<SubordinateRange> sub_uids_ =
      host_uid_ == 0 ? std::nullopt : subordinate_range("/etc/subuid", real_user_name(), host_uid_);
  const std::optional<SubordinateRange> sub_gids_ =
      host_uid_ == 0 ? std::nullopt : subordinate_range("/etc/subgid", real_user_name(), host_uid_);
  mutable std::mutex mu_;
  std::unordered_set<pid_t> live_;
  std::unordered_map<pid_t, Creds> creds_;
};

/// The real credentials of the guest threads, when this process is privileged and acts on their
/// behalf with its own: read from /proc/<tid>/status once (~40 us) and kept until the thread
/// changes them (the setuid family, setgroups and capset are routed here, handle_credential_change),
/// execs (which can give root its capabilities back) or exits.
class RealCredentials final : public sdk::GuestCredentials {
 public:
  bool thread_credentials(pid_t tid, sdk::ThreadCredentials& out) noexcept override;
  /// Forgets what is kept for `tid`: it is changing its credentials, exec'd or exited.
  void forget(pid_t tid) noexcept;

 private:
  struct Known {
    ino_t user_ns = 0;              ///< the thread's user namespace when they were read
    sdk::ThreadCredentials creds;   ///< what it held then
  };
  std::mutex mu_;
  std::unordered_map<pid_t, Known> known_;
};

/// Whether this process could act as anyone: its effective capabilities are not empty.
bool privileged_process() noexcept;


/// The proc family's state: its settings and what its handlers keep.
struct ProcState {
  bool fake_root = false;                                     ///< [proc] fake_root
  std::uint64_t all_caps = (1ULL << (CAP_LAST_CAP + 1)) - 1;  ///< root's here: known and in the bounding set
  std::int64_t max_processes = 0;                             ///< [proc] max_processes (0: no limit)
  std::string hostname;                                       ///< [proc] hostname ("": the host's)
  std::string release;                                        ///< [proc] release ("": the host's)
  CredentialTable creds;                                      ///< per-thread credentials (fake root)
  RealCredentials real_creds;                                 ///< real ones, cached (privileged, no fake root)
  sdk::GuestCredentials* acting = nullptr;                    ///< the one of the two offered (execve acts as the guest)
  OwnCredentials own_creds;                                   ///< this process's, taken in configure()
  ExecRewriter exec;                                          ///< execve in a guest root
};

}  // namespace lx::proc
