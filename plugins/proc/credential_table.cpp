// CredentialTable: the emulated credentials of the instance's threads.
#include "proc_state.h"

#include <cerrno>
#include <string>

namespace lx::proc {

int CredentialTable::set_identity(pid_t pid, std::uint32_t uid, std::uint32_t gid, const std::uint32_t* groups,
                                  std::size_t ngroups) noexcept {
  try {
    Creds c{uid, uid, uid, uid, gid, gid, gid, gid, std::vector<std::uint32_t>(groups, groups + ngroups)};
    if (uid != 0) c.cap_eff = c.cap_prm = 0;
    std::lock_guard lock(mu_);
    creds_[pid] = std::move(c);
    return 0;
  } catch (...) {
    return ENOMEM;
  }
}

bool CredentialTable::fs_identity(pid_t tid, std::uint32_t& uid, std::uint32_t& gid) noexcept {
  std::lock_guard lock(mu_);
  auto it = creds_.find(tid);
  if (it == creds_.end()) return false;
  uid = it->second.fsuid;
  gid = it->second.fsgid;
  return true;
}

void CredentialTable::start(pid_t tid, pid_t parent) {
  std::lock_guard lock(mu_);
  live_.insert(tid);
  auto it = creds_.find(parent);
  creds_[tid] = it != creds_.end() ? it->second : Creds{};
}

void CredentialTable::exit(pid_t tid) noexcept {
  std::lock_guard lock(mu_);
  live_.erase(tid);
  creds_.erase(tid);
}

std::optional<Creds> CredentialTable::find(pid_t tid) const {
  std::lock_guard lock(mu_);
  auto it = creds_.find(tid);
  if (it == creds_.end()) return std::nullopt;
  return it->second;
}

std::size_t CredentialTable::live_count() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (pid_t t : live_)
    if (access(("/proc/" + std::to_string(t) + "/task").c_str(), F_OK) == 0) ++n;
  return n;
}

}  // namespace lx::proc
