// Each guest process's own root, after chroot(2): the fs family emulates it, since the host's
// chroot needs CAP_SYS_CHROOT and would act on the host. A jail is a directory of the guest's
// namespace; paths a jailed thread resolves start there, `..` stays there, absolute symlinks
// lead back there. It only narrows what the guest root already bounds.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/unique_fd.h"

namespace lx::fs {

/// A process's root other than the guest root.
struct Jail {
  std::string guest;       ///< its guest path (absolute, normalized, never "/")
  UniqueFd fd;             ///< O_PATH fd of the directory
  bool read_only = false;  ///< inside a read-only mount
};

/// The jails of the instance's threads. Threads are keyed one by one: a new thread or child
/// process starts in its creator's jail (CLONE_FS sharing is not followed: a chroot applies to
/// every thread of the calling process, and a child made with CLONE_FS but not CLONE_THREAD
/// keeps its own copy).
class JailTable {
 public:
  /// The jail of thread `tid`, or null (the guest root). Costs nothing while nobody is jailed.
  std::shared_ptr<const Jail> of(pid_t tid) const;
  /// Puts every thread of `tids` in `jail` (null: back to the guest root).
  void enter(const std::vector<pid_t>& tids, std::shared_ptr<const Jail> jail);
  /// New thread or process `child` starts in the jail of `parent`.
  void inherit(pid_t child, pid_t parent);
  /// Thread `tid` is gone.
  void forget(pid_t tid);

 private:
  mutable std::mutex mu_;
  std::unordered_map<pid_t, std::shared_ptr<const Jail>> jails_;
  std::atomic<bool> any_{false};
};

/// `guest` seen from `jail`: its path below the jail ("/" for the jail itself), or unchanged
/// with `*reachable` false when it lies outside.
std::string view_from(const Jail* jail, const std::string& guest, bool* reachable = nullptr);
/// Whether guest path `path` is `dir` or below it.
bool is_under(const std::string& path, const std::string& dir);

}  // namespace lx::fs
