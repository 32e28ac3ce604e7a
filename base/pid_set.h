// PidSet: a set of process or thread ids that several threads read and change at once (the
// guest threads an instance knows of, the groups its launches started in).
#pragma once

#include <sys/types.h>

#include <mutex>
#include <unordered_set>
#include <vector>

namespace lx {

/// A thread-safe set of pids.
class PidSet {
 public:
  /// Adds `pid` (no effect when present).
  void add(pid_t pid) {
    std::lock_guard lock(mu_);
    pids_.insert(pid);
  }
  /// Removes `pid` (no effect when absent).
  void remove(pid_t pid) noexcept {
    std::lock_guard lock(mu_);
    pids_.erase(pid);
  }
  /// Whether `pid` is in the set.
  bool contains(pid_t pid) const {
    std::lock_guard lock(mu_);
    return pids_.count(pid) != 0;
  }
  /// A copy of the set, in no particular order.
  std::vector<pid_t> snapshot() const {
    std::lock_guard lock(mu_);
    return {pids_.begin(), pids_.end()};
  }

 private:
  mutable std::mutex mu_;
  std::unordered_set<pid_t> pids_;
};

}  // namespace lx
