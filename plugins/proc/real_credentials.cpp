// The credentials guest threads act with, for the plugins that act on their behalf: the fake
// root's emulated ones (CredentialTable) or, when lx is privileged and fakes nothing, the real
// ones the kernel shows in /proc/<tid>/status (RealCredentials).
#include <linux/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <lxhost/plugin.h>
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

namespace {

// The withheld capabilities (sdk::kWithheldCapabilities) that a family emulates within the
// instance: CAP_SYS_ADMIN, for mount and umount2.
constexpr std::uint64_t kEmulatedWithheld = 1ull << CAP_SYS_ADMIN;

// Whether this process's bounding set has capability `cap` (read once: it never grows).
bool own_bounding_has(int cap) noexcept {
  static const bool has = prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1;
  return has;
}

}  // namespace

std::uint64_t emulated_withheld(std::uint64_t eff, std::uint64_t bnd) noexcept {
  // A thread that holds every capability left in its bounding set is an undiminished root: it
  // would hold the withheld ones too, had lx not dropped them. One that dropped any holds none.
  if (eff == 0 || (eff & bnd) != bnd || (bnd & kEmulatedWithheld) || !own_bounding_has(CAP_SYS_ADMIN)) return 0;
  return kEmulatedWithheld & sdk::kWithheldCapabilities;
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
    if (auto bnd = status->cap_bounding()) {
      std::uint64_t emulated = emulated_withheld(*eff, *bnd);
      c.cap_eff |= emulated;
      c.cap_prm |= emulated;
    }
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
