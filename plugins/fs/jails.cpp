// JailTable: each guest thread's root after chroot(2).
#include "jails.h"

namespace lx::fs {

std::shared_ptr<const Jail> JailTable::of(pid_t tid) const {
  if (!any_.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard lock(mu_);
  auto it = jails_.find(tid);
  return it == jails_.end() ? nullptr : it->second;
}

void JailTable::enter(const std::vector<pid_t>& tids, std::shared_ptr<const Jail> jail) {
  std::lock_guard lock(mu_);
  for (pid_t t : tids) {
    if (jail) jails_[t] = jail;
    else jails_.erase(t);
  }
  any_.store(!jails_.empty(), std::memory_order_release);
}

void JailTable::inherit(pid_t child, pid_t parent) {
  if (!any_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(mu_);
  auto it = jails_.find(parent);
  if (it == jails_.end()) jails_.erase(child);
  else jails_[child] = it->second;
  any_.store(!jails_.empty(), std::memory_order_release);
}

void JailTable::forget(pid_t tid) {
  if (!any_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(mu_);
  jails_.erase(tid);
  any_.store(!jails_.empty(), std::memory_order_release);
}

bool is_under(const std::string& path, const std::string& dir) {
  if (dir == "/") return !path.empty() && path[0] == '/';
  return path.compare(0, dir.size(), dir) == 0 && (path.size() == dir.size() || path[dir.size()] == '/');
}

std::string view_from(const Jail* jail, const std::string& guest, bool* reachable) {
  if (reachable) *reachable = true;
  if (!jail) return guest;
  if (!is_under(guest, jail->guest)) {
    if (reachable) *reachable = false;
    return guest;
  }
  return guest.size() == jail->guest.size() ? "/" : guest.substr(jail->guest.size());
}

}  // namespace lx::fs
