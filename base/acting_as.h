// Calls done on a guest thread's behalf are done with its credentials: its fsuid, fsgid,
// supplementary groups and effective capabilities (issue 12). Linux keeps credentials per
// thread, so the handler's thread takes the guest thread's for the one call, with the raw
// syscalls (glibc's setgroups would change every thread of the process), and the kernel makes
// every check itself: permission bits, ACLs, sticky directories, capabilities, LSMs. Checking
// permissions in the plugin instead would copy all of that, and miss some.
//
// Only a privileged lx (root, or with capabilities) can act as another identity, and only there
// can a guest thread have other credentials than lx's (under no_new_privs, a setuid program
// gives none): an unprivileged lx acts as itself, which is what its guests are.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include <lxhost/interfaces.h>
#include <lxhost/syscall_context.h>

namespace lx {

/// The credentials this process acts with when it acts as itself.
struct OwnCredentials {
  bool privileged = false;  ///< effective capabilities not empty: it can take other ones
  std::uint32_t fsuid = 0, fsgid = 0;
  std::vector<std::uint32_t> groups;
  std::uint64_t cap_eff = 0, cap_prm = 0, cap_inh = 0;

  /// This thread's, now.
  static OwnCredentials current();
  /// Whether capability `cap` is in the effective set.
  bool has(int cap) const noexcept { return (cap_eff >> cap) & 1; }
};

/// For its lifetime, the calling thread acts with the credentials guest thread `c.tid()` would
/// have in call `c` (the real ids for access(2) and faccessat(2) without AT_EACCESS, as the
/// kernel's own access check). Does nothing when `guest` is null, `own` is not privileged, or
/// the credentials are lx's own.
class ActingAs {
 public:
  ActingAs(sdk::GuestCredentials* guest, const OwnCredentials& own, sdk::SyscallContext& c) noexcept;
  ~ActingAs();
  ActingAs(const ActingAs&) = delete;
  ActingAs& operator=(const ActingAs&) = delete;

  /// False when the thread could not take the credentials: the call must not be done.
  bool ok() const noexcept { return ok_; }
  /// Whether the calling thread acts with a guest thread's credentials now.
  static bool active() noexcept;

  /// While acting, lx keeps CAP_SYS_PTRACE (when it has it) for its own reads of the guest (its
  /// memory, its /proc/<tid>/fd links: ptrace-mode checks). For the guest's own open or
  /// readlink of the object it named (a /proc/<pid>/mem of another member), this takes it away
  /// when the guest thread lacks it, for its lifetime.
  /// For its lifetime, the calling thread acts as lx again (when it acts as a guest thread): for
  /// lx's own look at the guest, /proc/<tid>/fd/N and /proc/<tid>/cwd, which a guest that
  /// changed its ids (no longer dumpable) closes to anyone but a privileged lx.
  class AsLx {
   public:
    AsLx() noexcept;
    ~AsLx();
    AsLx(const AsLx&) = delete;
    AsLx& operator=(const AsLx&) = delete;

   private:
    bool back_ = false;     // this plugin acted: back to what it acted as
    bool foreign_ = false;  // another plugin acts on this thread (its own copy of this state)
    std::uint32_t fsuid_ = 0, fsgid_ = 0;
    std::uint64_t eff_ = 0;
  };

  class GuestPtrace {
   public:
    GuestPtrace() noexcept;
    ~GuestPtrace();
    GuestPtrace(const GuestPtrace&) = delete;
    GuestPtrace& operator=(const GuestPtrace&) = delete;

   private:
    bool dropped_ = false;
  };

 private:
  const OwnCredentials* own_ = nullptr;  // set when switched
  bool ok_ = true;
};

}  // namespace lx
