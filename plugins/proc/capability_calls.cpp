// The fake root's capabilities: capget and capset on the emulated sets, prctl's keepcaps, and
// the sets across execve, as capabilities(7) describes them for root and the other uids.
#include <sys/prctl.h>

#include <cerrno>
#include <cstdint>

#include "handlers.h"

namespace lx::proc {
namespace {

using sdk::SyscallContext;
using sdk::SyscallResult;

// The linux/capability.h ABI of capget/capset.
constexpr std::uint32_t kCapV1 = 0x19980330, kCapV2 = 0x20071026, kCapV3 = 0x20080522;
struct CapHeader {
  std::uint32_t version;
  int pid;
};
struct CapData {
  std::uint32_t effective, permitted, inheritable;
};

// How many CapData a version has.
std::size_t data_count(std::uint32_t v) { return v == kCapV1 ? 1 : 2; }

// Reads the header at `addr`. An unknown version gets the preferred one written back and
// EINVAL, as from the kernel. Returns 0 or an errno.
int read_header(SyscallContext& c, std::uint64_t addr, CapHeader& h) {
  if (int e = c.read(addr, h); e != 0) return e;
  if (h.version == kCapV1 || h.version == kCapV2 || h.version == kCapV3) return 0;
  h.version = kCapV3;
  if (int e = c.write(addr, h); e != 0) return e;
  return EINVAL;
}

}  // namespace

// Implements capget(2) with the emulated sets.
SyscallResult handle_capget(ProcState& s, SyscallContext& c) {
  std::uint64_t header = c.ptr(0), data = c.ptr(1);
  CapHeader h;
  if (int e = read_header(c, header, h); e != 0)
    return e == EINVAL && !data ? SyscallResult::value(0) : sdk::fail(e);  // asked for the version
  if (!data) return SyscallResult::value(0);
  if (h.pid < 0) return sdk::fail(EINVAL);
  // Confined: the table holds the instance's threads only, so a pid outside it gets ESRCH
  // (with fake root this plugin owns capget; without it the signal family confines it).
  std::optional<Creds> cr = s.creds.find(h.pid == 0 ? c.tid() : h.pid);
  if (!cr) return sdk::fail(ESRCH);
  std::uint64_t eff = cr->cap_eff & s.all_caps, prm = cr->cap_prm & s.all_caps, inh = cr->cap_inh & s.all_caps;
  CapData d[2] = {
      {static_cast<std::uint32_t>(eff), static_cast<std::uint32_t>(prm), static_cast<std::uint32_t>(inh)},
      {static_cast<std::uint32_t>(eff >> 32), static_cast<std::uint32_t>(prm >> 32),
       static_cast<std::uint32_t>(inh >> 32)}};
  if (int e = c.write_memory(data, d, data_count(h.version) * sizeof(CapData)); e != 0) return sdk::fail(e);
  return SyscallResult::value(0);
}

// Implements capset(2) on the emulated sets (of the calling thread only).
SyscallResult handle_capset(ProcState& s, SyscallContext& c) {
  std::uint64_t header = c.ptr(0), data = c.ptr(1);
  CapHeader h;
  if (int e = read_header(c, header, h); e != 0) return sdk::fail(e);
  if (h.pid != 0 && h.pid != c.tid()) return sdk::fail(EPERM);
  CapData d[2]{};
  if (int e = c.read_memory(data, d, data_count(h.version) * sizeof(CapData)); e != 0) return sdk::fail(e);
  auto join = [&](std::uint32_t lo, std::uint32_t hi) { return ((std::uint64_t{hi} << 32) | lo) & s.all_caps; };
  std::uint64_t eff = join(d[0].effective, d[1].effective);
  std::uint64_t prm = join(d[0].permitted, d[1].permitted);
  std::uint64_t inh = join(d[0].inheritable, d[1].inheritable);
  return s.creds.with(c.tid(), [&](Creds& cr) {
    std::uint64_t old_prm = cr.cap_prm & s.all_caps;
    if ((prm & ~old_prm) || (eff & ~prm)) return sdk::fail(EPERM);
    if ((inh & ~(cr.cap_inh | old_prm)) && !capable(cr, CAP_SETPCAP)) return sdk::fail(EPERM);
    cr.cap_eff = eff;
    cr.cap_prm = prm;
    cr.cap_inh = inh;
    return SyscallResult::value(0);
  });
}

// Implements prctl(2) for the options that concern the emulated identity.
SyscallResult handle_prctl(ProcState& s, SyscallContext& c) {
  int option = c.int_arg(0);
  if (option == PR_GET_KEEPCAPS)
    return SyscallResult::value(s.creds.with(c.tid(), [](Creds& cr) { return cr.keepcaps ? 1 : 0; }));
  if (option != PR_SET_KEEPCAPS) return SyscallResult::continue_native();
  std::uint64_t keep = c.uint_arg(1);
  if (keep > 1) return sdk::fail(EINVAL);
  s.creds.with(c.tid(), [&](Creds& cr) { cr.keepcaps = keep == 1; });
  return SyscallResult::value(0);
}

// Capabilities across execve for root (capabilities(7)): a root uid gets the full permitted
// set, effective if the effective uid is root; others get none. keepcaps resets.
void caps_after_exec(ProcState& s, pid_t tid) {
  s.creds.with(tid, [](Creds& cr) {
    bool root = cr.ruid == 0 || cr.euid == 0;
    cr.cap_prm = root ? ~0ULL : 0;
    cr.cap_eff = cr.euid == 0 ? cr.cap_prm : 0;
    cr.keepcaps = false;
  });
}

}  // namespace lx::proc

namespace lx::proc {

// The capability each call that only it guards needs (capabilities(7)).
int guarding_capability(int nr) noexcept {
  namespace sys = sdk::sys;
  if (nr == sys::sethostname || nr == sys::setdomainname) return CAP_SYS_ADMIN;
  if (nr == sys::settimeofday || nr == sys::clock_settime) return CAP_SYS_TIME;
  if (nr == sys::reboot) return CAP_SYS_BOOT;
  return -1;
}

// Implements the calls a capability guards, under fake root: the emulated capability is checked
// (the kernel sees lx's identity: a privileged lx would let a guest that dropped it through),
// then the kernel does the call and makes its own checks.
SyscallResult handle_guarded_call(ProcState& s, SyscallContext& c) {
  int cap = guarding_capability(c.nr());
  bool allowed = s.creds.with(c.tid(), [&](Creds& cr) { return cap < 0 || capable(cr, cap); });
  return allowed ? SyscallResult::continue_native() : sdk::fail(EPERM);
}

}  // namespace lx::proc
