// ActingAs: a handler thread takes a guest thread's credentials for one call (acting_as.h).
#include "base/acting_as.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include <lxhost/syscall_table.h>

namespace lx {
namespace {

thread_local bool g_active = false;
thread_local std::uint64_t g_eff = 0;      // the effective set acted with
thread_local bool g_ptrace_kept = false;   // CAP_SYS_PTRACE in g_eff for lx only
thread_local const OwnCredentials* g_own = nullptr;
thread_local std::uint32_t g_fsuid = 0, g_fsgid = 0;  // the ids acted with
// This process's own credentials, as first read (in a plugin's configure(), before any call is
// served): what AsLx goes back to when another plugin acts on the thread.
OwnCredentials g_process_own;
bool g_process_known = false;

bool set_caps(std::uint64_t eff, std::uint64_t prm, std::uint64_t inh) noexcept {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2]{};
  d[0].effective = static_cast<std::uint32_t>(eff);
  d[1].effective = static_cast<std::uint32_t>(eff >> 32);
  d[0].permitted = static_cast<std::uint32_t>(prm);
  d[1].permitted = static_cast<std::uint32_t>(prm >> 32);
  d[0].inheritable = static_cast<std::uint32_t>(inh);
  d[1].inheritable = static_cast<std::uint32_t>(inh >> 32);
  return syscall(SYS_capset, &h, d) == 0;
}

// Sets this thread's filesystem ids, groups and effective capabilities (raw syscalls: this
// thread only). The ids first, while it still has CAP_SETUID and CAP_SETGID.
bool take(std::uint32_t fsuid, std::uint32_t fsgid, const std::vector<std::uint32_t>& groups, std::uint64_t eff,
          const OwnCredentials& own) noexcept {
  if (syscall(SYS_setgroups, groups.size(), groups.data()) != 0) return false;
  syscall(SYS_setfsgid, fsgid);
  if (static_cast<std::uint32_t>(syscall(SYS_setfsgid, -1)) != fsgid) return false;
  syscall(SYS_setfsuid, fsuid);
  if (static_cast<std::uint32_t>(syscall(SYS_setfsuid, -1)) != fsuid) return false;
  return set_caps(eff & own.cap_prm, own.cap_prm, own.cap_inh);
}

// Whether call `c` checks access with the real ids (access(2), faccessat(2), faccessat2(2)
// without AT_EACCESS).
bool real_id_check(sdk::SyscallContext& c) noexcept {
  int nr = c.nr();
  if (nr == sdk::sys::access || nr == sdk::sys::faccessat) return true;
  if (nr == sdk::sys::faccessat2) return !(static_cast<int>(c.arg(3)) & AT_EACCESS);
  return false;
}

}  // namespace

OwnCredentials OwnCredentials::current() {
  OwnCredentials o;
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2]{};
  if (syscall(SYS_capget, &h, d) == 0) {
    o.cap_eff = d[0].effective | (std::uint64_t{d[1].effective} << 32);
    o.cap_prm = d[0].permitted | (std::uint64_t{d[1].permitted} << 32);
    o.cap_inh = d[0].inheritable | (std::uint64_t{d[1].inheritable} << 32);
  }
  o.privileged = o.cap_eff != 0;
  o.fsuid = static_cast<std::uint32_t>(syscall(SYS_setfsuid, -1));
  o.fsgid = static_cast<std::uint32_t>(syscall(SYS_setfsgid, -1));
  int n = getgroups(0, nullptr);
  if (n > 0) {
    std::vector<gid_t> g(static_cast<std::size_t>(n));
    n = getgroups(n, g.data());
    if (n > 0) o.groups.assign(g.begin(), g.begin() + n);
  }
  if (!g_process_known && !g_active) {
    g_process_own = o;
    g_process_known = true;
  }
  return o;
}

ActingAs::ActingAs(sdk::GuestCredentials* guest, const OwnCredentials& own, sdk::SyscallContext& c) noexcept {
  if (!guest || !own.privileged || g_active) return;
  try {
    sdk::ThreadCredentials t;
    if (!guest->thread_credentials(c.tid(), t)) {  // gone (or never known): nothing is done as lx
      ok_ = false;
      return;
    }
    std::uint32_t uid = t.fsuid, gid = t.fsgid;
    std::uint64_t eff = t.cap_eff;
    if (real_id_check(c)) {
      // As the kernel's access_override_creds: the real ids, and root's permitted capabilities
      // for a real root, none for anyone else.
      uid = t.ruid;
      gid = t.rgid;
      eff = t.ruid == 0 ? t.cap_prm : 0;
    }
    eff &= own.cap_prm;
    if (uid == own.fsuid && gid == own.fsgid && eff == own.cap_eff && t.groups == own.groups) return;
    constexpr std::uint64_t kPtrace = 1ULL << CAP_SYS_PTRACE;
    g_ptrace_kept = !(eff & kPtrace) && (own.cap_eff & kPtrace);
    g_eff = eff | (g_ptrace_kept ? kPtrace : 0);
    g_own = own_ = &own;
    g_fsuid = uid;
    g_fsgid = gid;
    g_active = true;
    if (!take(uid, gid, t.groups, g_eff, own)) ok_ = false;
  } catch (...) {
    ok_ = false;
  }
}

ActingAs::~ActingAs() {
  if (!own_) return;
  int saved = errno;
  // Capabilities back first (CAP_SETUID, CAP_SETGID), then the ids, then the capabilities again:
  // setfsuid changes the effective set when it leaves or returns to 0.
  set_caps(own_->cap_eff, own_->cap_prm, own_->cap_inh);
  syscall(SYS_setfsuid, own_->fsuid);
  syscall(SYS_setfsgid, own_->fsgid);
  syscall(SYS_setgroups, own_->groups.size(), own_->groups.data());
  set_caps(own_->cap_eff, own_->cap_prm, own_->cap_inh);
  g_active = false;
  g_own = nullptr;
  errno = saved;
}

bool ActingAs::active() noexcept { return g_active; }

ActingAs::AsLx::AsLx() noexcept {
  if (!g_active) {
    // Plugins link this file each in their own copy: the proc plugin may act as the guest on
    // this thread while the fs plugin resolves an exec for it. The thread's credentials say so.
    if (!g_process_known || !g_process_own.privileged) return;
    fsuid_ = static_cast<std::uint32_t>(syscall(SYS_setfsuid, -1));
    fsgid_ = static_cast<std::uint32_t>(syscall(SYS_setfsgid, -1));
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (syscall(SYS_capget, &h, d) != 0) return;
    eff_ = d[0].effective | (std::uint64_t{d[1].effective} << 32);
    const OwnCredentials& o = g_process_own;
    if (fsuid_ == o.fsuid && fsgid_ == o.fsgid && eff_ == o.cap_eff) return;
    foreign_ = true;
    set_caps(o.cap_eff, o.cap_prm, o.cap_inh);
    syscall(SYS_setfsuid, o.fsuid);
    syscall(SYS_setfsgid, o.fsgid);
    set_caps(o.cap_eff, o.cap_prm, o.cap_inh);
    return;
  }
  back_ = true;
  set_caps(g_own->cap_eff, g_own->cap_prm, g_own->cap_inh);
  syscall(SYS_setfsuid, g_own->fsuid);
  syscall(SYS_setfsgid, g_own->fsgid);
  set_caps(g_own->cap_eff, g_own->cap_prm, g_own->cap_inh);
  g_active = false;
}

ActingAs::AsLx::~AsLx() {
  if (foreign_) {
    int saved = errno;
    const OwnCredentials& o = g_process_own;
    syscall(SYS_setfsgid, fsgid_);
    syscall(SYS_setfsuid, fsuid_);
    set_caps(eff_, o.cap_prm, o.cap_inh);
    errno = saved;
    return;
  }
  if (!back_) return;
  int saved = errno;  // what the look at the guest failed with
  syscall(SYS_setfsgid, g_fsgid);
  syscall(SYS_setfsuid, g_fsuid);
  set_caps(g_eff, g_own->cap_prm, g_own->cap_inh);
  g_active = true;
  errno = saved;
}

ActingAs::GuestPtrace::GuestPtrace() noexcept {
  if (!g_active || !g_ptrace_kept) return;
  dropped_ = set_caps(g_eff & ~(1ULL << CAP_SYS_PTRACE), g_own->cap_prm, g_own->cap_inh);
}

ActingAs::GuestPtrace::~GuestPtrace() {
  int saved = errno;
  if (dropped_) set_caps(g_eff, g_own->cap_prm, g_own->cap_inh);
  errno = saved;
}

}  // namespace lx
