// The credentials guest threads act with, for the plugins that act on their behalf: the fake
// root's emulated ones (CredentialTable) or, when lx is privileged and fakes nothing, the real
// ones the kernel shows in /proc/<tid>/status (RealCredentials).
#include <linux/capability.h>
#include <unistd.h>

#include <lxhost/syscall_table.h>

#include "base/proc_status.h"
#include "proc_state.h"

namespace lx::proc {

bool CredentialTable::thread_credentials(pid_t tid, sdk::ThreadCredentials& out) noexcept {
  try {
    std::lock_guard lock(mu_);
    auto it = creds_.find(tid);
    if (it == creds_.end()) return false;
    const Creds& c = it->second;
    out.ruid = c.ruid;
    out.euid = c.euid;
    out.suid = c.suid;
    out.rgid = c.rgid;
    out.fsuid = c.fsuid;
    out.fsgid = c.fsgid;
    out.groups = c.groups;
    out.cap_eff = c.cap_eff;
    out.cap_prm = c.cap_prm;
    return true;
  } catch (...) {
    return false;
  }
}

bool RealCredentials::thread_credentials(pid_t tid, sdk::ThreadCredentials& out) noexcept {
  try {
    {
      std::lock_guard lock(mu_);
      if (auto it = known_.find(tid); it != known_.end()) {
        out = it->second;
        return true;
      }
    }
    // Read outside the lock: a thread's credentials change only in its own calls, and it is
    // stopped in the one being served.
    auto status = ProcStatus::read(tid);
    if (!status) return false;
    auto uid = status->uid();
    auto gid = status->gid();
    auto eff = status->cap_effective();
    auto prm = status->cap_permitted();
    if (!uid || !gid || !eff || !prm) return false;
    sdk::ThreadCredentials c;
    c.ruid = uid->real;
    c.euid = uid->effective;
    c.suid = uid->saved;
    c.fsuid = uid->fs;
    c.rgid = gid->real;
    c.fsgid = gid->fs;
    for (gid_t g : status->groups()) c.groups.push_back(g);
    c.cap_eff = *eff;
    c.cap_prm = *prm;
    std::lock_guard lock(mu_);
    out = known_.insert_or_assign(tid, std::move(c)).first->second;
    return true;
  } catch (...) {
    return false;
  }
}

void RealCredentials::forget(pid_t tid) noexcept {
  std::lock_guard lock(mu_);
  known_.erase(tid);
}

bool privileged_process() noexcept {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2]{};
  if (syscall(sdk::sys::capget, &h, d) != 0) return geteuid() == 0;
  return d[0].effective != 0 || d[1].effective != 0;
}

}  // namespace lx::proc
