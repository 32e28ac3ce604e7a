// The fake root's identity: the get/set family of uids, gids and groups on the emulated
// credentials of the calling thread, with the kernel's rules (credentials(7)): a thread with
// CAP_SETUID/CAP_SETGID may set any id, others only to one of their own, and the capability
// sets follow the uid changes as natively.
#include <cerrno>
#include <cstdint>
#include <vector>

#include "handlers.h"

namespace lx::proc {
namespace {

using sdk::SyscallContext;
using sdk::SyscallResult;

// "Leave unchanged" for setre*id/setres*id; an invalid id for setuid/setgid and setfs*id.
constexpr std::uint32_t kKeep = static_cast<std::uint32_t>(-1);

// Which ids a call works on.
enum class Ids { kUid, kGid };

// The real, effective, saved and filesystem ids of one kind.
struct IdFields {
  std::uint32_t *real, *effective, *saved, *fs;
};
IdFields fields(Creds& cr, Ids which) {
  if (which == Ids::kUid) return {&cr.ruid, &cr.euid, &cr.suid, &cr.fsuid};
  return {&cr.rgid, &cr.egid, &cr.sgid, &cr.fsgid};
}
int set_capability(Ids which) { return which == Ids::kUid ? CAP_SETUID : CAP_SETGID; }

// The capability sets a thread has after its uids changed from `old` (capabilities(7), "Effect
// of user ID changes on capabilities").
void fix_caps_after_uid_change(const Creds& old, Creds& cr) {
  bool had_root = old.ruid == 0 || old.euid == 0 || old.suid == 0;
  bool has_root = cr.ruid == 0 || cr.euid == 0 || cr.suid == 0;
  if (had_root && !has_root && !cr.keepcaps) cr.cap_prm = cr.cap_eff = 0;
  if (old.euid == 0 && cr.euid != 0) cr.cap_eff = 0;
  if (old.euid != 0 && cr.euid == 0) cr.cap_eff = cr.cap_prm;
}

// Returns one id of the caller.
SyscallResult get_one(ProcState& s, SyscallContext& c, std::uint32_t Creds::*field) {
  return SyscallResult::value(s.creds.with(c.tid(), [&](Creds& cr) { return cr.*field; }));
}

// getresuid(2)/getresgid(2): the three ids written to the three pointers.
SyscallResult get_res(ProcState& s, SyscallContext& c, Ids which) {
  std::uint32_t v[3];
  s.creds.with(c.tid(), [&](Creds& cr) {
    IdFields f = fields(cr, which);
    v[0] = *f.real, v[1] = *f.effective, v[2] = *f.saved;
  });
  for (int i = 0; i < 3; ++i)
    if (int e = c.write(c.ptr(i), v[i]); e != 0) return sdk::fail(e);
  return SyscallResult::value(0);
}

// setuid(2)/setgid(2): with the capability, real, effective and saved; else only the effective,
// to the real or saved id.
SyscallResult set_one(ProcState& s, SyscallContext& c, Ids which) {
  auto id = static_cast<std::uint32_t>(c.uint_arg(0));
  if (id == kKeep) return sdk::fail(EINVAL);  // not a valid id, as natively
  return s.creds.with(c.tid(), [&](Creds& cr) {
    IdFields f = fields(cr, which);
    Creds old = cr;
    if (capable(cr, set_capability(which))) *f.real = *f.saved = id;
    else if (id != *f.real && id != *f.saved) return sdk::fail(EPERM);
    *f.effective = *f.fs = id;
    if (which == Ids::kUid) fix_caps_after_uid_change(old, cr);
    return SyscallResult::value(0);
  });
}

// setre[ug]id(2)/setres[ug]id(2): with the capability, anything; else only to the caller's own
// ids. kKeep leaves an id unchanged.
SyscallResult set_res(ProcState& s, SyscallContext& c, Ids which, std::uint64_t r, std::uint64_t e, std::uint64_t sv) {
  std::uint32_t want[3] = {static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(e), static_cast<std::uint32_t>(sv)};
  return s.creds.with(c.tid(), [&](Creds& cr) {
    IdFields f = fields(cr, which);
    std::uint32_t* ids[3] = {f.real, f.effective, f.saved};
    if (!capable(cr, set_capability(which)))
      for (auto w : want)
        if (w != kKeep && w != *ids[0] && w != *ids[1] && w != *ids[2]) return sdk::fail(EPERM);
    Creds old = cr;
    for (int i = 0; i < 3; ++i)
      if (want[i] != kKeep) *ids[i] = want[i];
    *f.fs = *f.effective;
    if (which == Ids::kUid) fix_caps_after_uid_change(old, cr);
    return SyscallResult::value(0);
  });
}

// setfsuid(2)/setfsgid(2): returns the old filesystem id; changes it when the caller may (an
// invalid id such as -1 changes nothing: the idiom that asks for the current one).
SyscallResult set_fs(ProcState& s, SyscallContext& c, Ids which) {
  auto id = static_cast<std::uint32_t>(c.uint_arg(0));
  return s.creds.with(c.tid(), [&](Creds& cr) {
    IdFields f = fields(cr, which);
    std::uint32_t old = *f.fs;
    bool own = id == *f.real || id == *f.effective || id == *f.saved;
    if (id != kKeep && (own || capable(cr, set_capability(which)))) *f.fs = id;
    return SyscallResult::value(old);
  });
}

}  // namespace

// Implements getuid(2).
SyscallResult handle_getuid(ProcState& s, SyscallContext& c) { return get_one(s, c, &Creds::ruid); }
// Implements geteuid(2).
SyscallResult handle_geteuid(ProcState& s, SyscallContext& c) { return get_one(s, c, &Creds::euid); }
// Implements getgid(2).
SyscallResult handle_getgid(ProcState& s, SyscallContext& c) { return get_one(s, c, &Creds::rgid); }
// Implements getegid(2).
SyscallResult handle_getegid(ProcState& s, SyscallContext& c) { return get_one(s, c, &Creds::egid); }
// Implements getresuid(2).
SyscallResult handle_getresuid(ProcState& s, SyscallContext& c) { return get_res(s, c, Ids::kUid); }
// Implements getresgid(2).
SyscallResult handle_getresgid(ProcState& s, SyscallContext& c) { return get_res(s, c, Ids::kGid); }
// Implements setuid(2).
SyscallResult handle_setuid(ProcState& s, SyscallContext& c) { return set_one(s, c, Ids::kUid); }
// Implements setgid(2).
SyscallResult handle_setgid(ProcState& s, SyscallContext& c) { return set_one(s, c, Ids::kGid); }
// Implements setfsuid(2).
SyscallResult handle_setfsuid(ProcState& s, SyscallContext& c) { return set_fs(s, c, Ids::kUid); }
// Implements setfsgid(2).
SyscallResult handle_setfsgid(ProcState& s, SyscallContext& c) { return set_fs(s, c, Ids::kGid); }

// Implements the setuid family, setgroups(2) and capset(2) with real credentials: the kernel
// does the call when this returns, and the next call done on the thread's behalf reads them anew.
SyscallResult handle_credential_change(ProcState& s, SyscallContext& c) {
  s.real_creds.forget(c.tid());
  return SyscallResult::continue_native();
}

// Implements setreuid(2).
SyscallResult handle_setreuid(ProcState& s, SyscallContext& c) {
  return set_res(s, c, Ids::kUid, c.uint_arg(0), c.uint_arg(1), kKeep);
}
// Implements setregid(2).
SyscallResult handle_setregid(ProcState& s, SyscallContext& c) {
  return set_res(s, c, Ids::kGid, c.uint_arg(0), c.uint_arg(1), kKeep);
}
// Implements setresuid(2).
SyscallResult handle_setresuid(ProcState& s, SyscallContext& c) {
  return set_res(s, c, Ids::kUid, c.uint_arg(0), c.uint_arg(1), c.uint_arg(2));
}
// Implements setresgid(2).
SyscallResult handle_setresgid(ProcState& s, SyscallContext& c) {
  return set_res(s, c, Ids::kGid, c.uint_arg(0), c.uint_arg(1), c.uint_arg(2));
}

// Implements getgroups(2).
SyscallResult handle_getgroups(ProcState& s, SyscallContext& c) {
  std::vector<std::uint32_t> g = s.creds.with(c.tid(), [](Creds& cr) { return cr.groups; });
  int size = c.int_arg(0);
  if (size == 0) return SyscallResult::value(static_cast<std::int64_t>(g.size()));
  if (size < static_cast<int>(g.size())) return sdk::fail(EINVAL);
  if (!g.empty())
    if (int e = c.write_memory(c.ptr(1), g.data(), g.size() * sizeof(std::uint32_t)); e != 0) return sdk::fail(e);
  return SyscallResult::value(static_cast<std::int64_t>(g.size()));
}

// Implements setgroups(2).
SyscallResult handle_setgroups(ProcState& s, SyscallContext& c) {
  auto size = static_cast<std::size_t>(c.uint_arg(0));
  if (size > 65536) return sdk::fail(EINVAL);
  std::vector<std::uint32_t> g(size);
  if (size)
    if (int e = c.read_memory(c.ptr(1), g.data(), size * sizeof(std::uint32_t)); e != 0) return sdk::fail(e);
  return s.creds.with(c.tid(), [&](Creds& cr) {
    if (!capable(cr, CAP_SETGID)) return sdk::fail(EPERM);
    cr.groups = std::move(g);
    return SyscallResult::value(0);
  });
}

}  // namespace lx::proc
