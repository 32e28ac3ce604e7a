// The credentials guest threads act with, for the plugins that act on their behalf: the fake
// root's emulated ones (CredentialTable) or, when lx is privileged and fakes nothing, the real
// ones the kernel shows in /proc/<tid>/status (RealCredentials).
#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <lxhost/syscall_table.h>

#include "base/proc_status.h"
#include "proc_state.h"

namespace lx::proc {

namespace {

// The inode of user namespace file `path` (/proc/<tid>/ns/user), 0 when it cannot be read.
ino_t user_ns_of(const std::string& path) noexcept {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// The user namespace of guest thread `tid`, and whether it is lx's own. A thread in one of its
// own (unshare, setns) holds its capabilities there only, though /proc shows them as if they
// were the host's: here it holds none.
ino_t user_ns(pid_t tid, bool& own) noexcept {
  static const ino_t own_ns = user_ns_of("/proc/self/ns/user");
  ino_t ns = user_ns_of("/proc/" + std::to_string(tid) + "/ns/user");
  own = ns != 0 && ns == own_ns;
  return ns;
}

}  // namespace

bool CredentialTable::thread_credentials(pid_t tid, sdk::ThreadCredentials& out) noexcept {
  try {
    bool own = false;
    if (user_ns(tid, own) == 0) return false;
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
    out.cap_eff = own ? c.cap_eff : 0;
    out.cap_prm = own ? c.cap_prm : 0;
    return true;
  } catch (...) {
    return false;
  }
}

bool RealCredentials::thread_credentials(pid_t tid, sdk::ThreadCredentials& out) noexcept {
  try {
    // Its user namespace is looked at on every call: a thread changes it without changing its
    // credentials.
    bool here = false;
    ino_t ns = user_ns(tid, here);
    if (ns == 0) return false;
    {
      std::lock_guard lock(mu_);
      if (auto it = known_.find(tid); it != known_.end() && it->second.user_ns == ns) {
        out = it->second.creds;
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
    c.cap_eff = here ? *eff : 0;
    c.cap_prm = here ? *prm : 0;
    std::lock_guard lock(mu_);
    out = known_.insert_or_assign(tid, Known{ns, std::move(c)}).first->second.creds;
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
