// The process family plugin: execve/execveat of programs in the guest root (through the fs
// family's PathResolver), fake root identity with per-process credentials that the setuid
// family changes consistently, a per-instance process limit, and the uname personality.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <lxhost/interfaces.h>
#include <lxhost/plugin.h>

#include "exec_rewriter.h"

namespace lx::proc {
namespace {

using sdk::Route;
using sdk::Support;
using sdk::SyscallContext;
using sdk::SyscallResult;

SyscallResult fail(int e) { return SyscallResult::error(e); }

// The emulated credentials of one guest thread.
struct Creds {
  std::uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0;
  std::uint32_t rgid = 0, egid = 0, sgid = 0, fsgid = 0;
  std::vector<std::uint32_t> groups;
  // Capabilities (capabilities(7)): root's are all of them, as natively.
  std::uint64_t cap_eff = ~0ULL, cap_prm = ~0ULL, cap_inh = 0;
  bool keepcaps = false;
};

// The capability sets a thread has after its uids changed from `old` (capabilities(7), "Effect
// of user ID changes on capabilities").
void fix_caps_after_uid_change(const Creds& old, Creds& cr) {
  bool had_root = old.ruid == 0 || old.euid == 0 || old.suid == 0;
  bool has_root = cr.ruid == 0 || cr.euid == 0 || cr.suid == 0;
  if (had_root && !has_root && !cr.keepcaps) cr.cap_prm = cr.cap_eff = 0;
  if (old.euid == 0 && cr.euid != 0) cr.cap_eff = 0;
  if (old.euid != 0 && cr.euid == 0) cr.cap_eff = cr.cap_prm;
}

bool capable(const Creds& cr, int cap) { return (cr.cap_eff >> cap) & 1; }

// The linux/capability.h ABI of capget/capset.
constexpr std::uint32_t kCapV1 = 0x19980330, kCapV2 = 0x20071026, kCapV3 = 0x20080522;
struct CapHeader {
  std::uint32_t version;
  int pid;
};
struct CapData {
  std::uint32_t effective, permitted, inheritable;
};

constexpr std::uint32_t kKeep = static_cast<std::uint32_t>(-1);

class ProcPlugin final : public sdk::PluginBase, private sdk::IdentityMap, private sdk::LaunchIdentity,
                         private sdk::Credentials {
 public:
  sdk::PluginInfo info() const noexcept override {
    return {"proc", "0.1.0", "proc", "fake root identity, process limit, uname personality", "proc"};
  }
  std::vector<sdk::ConfigKey> config_keys() const noexcept override {
    using T = sdk::ConfigType;
    return {{"fake_root", T::kBoolean, "getuid() == 0; the setuid family succeeds and stays consistent"},
            {"max_processes", T::kInteger, "processes per instance; fork past it fails with EAGAIN (0: no limit)"},
            {"hostname", T::kString, "uname nodename the guest sees"},
            {"release", T::kString, "uname release the guest sees"}};
  }

  std::string configure(const sdk::PluginConfig& cfg) noexcept override {
    try {
      clear_syscalls();
      fake_root_ = cfg.get_bool("fake_root").value_or(false);
      if (FILE* f = std::fopen("/proc/sys/kernel/cap_last_cap", "re")) {
        int last = 0;
        if (std::fscanf(f, "%d", &last) == 1 && last > 0 && last < 64) all_caps_ = (1ULL << (last + 1)) - 1;
        std::fclose(f);
      }
      max_processes_ = cfg.get_int("max_processes").value_or(0);
      if (max_processes_ < 0) return "max_processes must be 0 (no limit) or more (" + cfg.where("max_processes") + ")";
      hostname_ = cfg.get_string("hostname").value_or("");
      release_ = cfg.get_string("release").value_or("");
      if (hostname_.size() >= 65 || release_.size() >= 65) return "hostname and release must be shorter than 65 bytes";
      if (fake_root_) register_identity();
      if (max_processes_ > 0) {
        for (int nr : {SYS_fork, SYS_vfork, SYS_clone, SYS_clone3})
          on(nr, Support::kFull, "limited by [proc] max_processes", [this](SyscallContext& c) { return fork_(c); });
      }
      if (!hostname_.empty() || !release_.empty())
        on(SYS_uname, Support::kFull, "hostname/release from [proc]", [this](SyscallContext& c) { return uname_(c); });
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  void connect(const sdk::PluginRegistry& registry) noexcept override {
    try {
      auto* paths = static_cast<sdk::PathResolver*>(registry.find_interface(sdk::PathResolver::kName));
      if (!paths) return;  // the host's own root: execve means the same natively
      exec_ = std::make_unique<ExecRewriter>(*paths);
      sdk::SyscallSpec s;
      s.nr = SYS_execve;
      s.route = Route::kTrace;
      s.support = Support::kPartial;
      s.note = "program, #! and ELF interpreters from the guest root; argv[0], AT_EXECFN, /proc/self/exe as native";
      add(s, [this](SyscallContext& c) { return exec_->rewrite(c, AT_FDCWD, c.arg(0), c.arg(1), false); });
      s.nr = SYS_execveat;
      s.note = "as execve; AT_EMPTY_PATH runs the fd natively";
      add(s, [this](SyscallContext& c) {
        if (static_cast<int>(c.arg(4)) & AT_EMPTY_PATH) {
          std::string path;
          if (int e = c.read_string(c.arg(1), path); e != 0) return fail(e);
          if (path.empty()) return SyscallResult::continue_native();
        }
        return exec_->rewrite(c, static_cast<int>(c.arg(0)), c.arg(1), c.arg(2), true);
      });
    } catch (...) {
    }
  }

  void on_exec(SyscallContext& ctx) noexcept override {
    if (fake_root_) {
      // Capabilities across execve for root (capabilities(7)): a root uid gets the full
      // permitted set, effective if the effective uid is root; others get none. keepcaps resets.
      std::lock_guard lock(mu_);
      Creds& cr = creds_of(ctx.tid());
      bool root = cr.ruid == 0 || cr.euid == 0;
      cr.cap_prm = root ? ~0ULL : 0;
      cr.cap_eff = cr.euid == 0 ? cr.cap_prm : 0;
      cr.keepcaps = false;
    }
    if (exec_) exec_->fix_execfn(ctx);
  }

  void* query_interface(std::string_view name) noexcept override {
    if (name == sdk::ProgramNames::kName && exec_) return static_cast<sdk::ProgramNames*>(exec_.get());
    if (name == sdk::IdentityMap::kName && fake_root_) return static_cast<sdk::IdentityMap*>(this);
    if (name == sdk::LaunchIdentity::kName && fake_root_) return static_cast<sdk::LaunchIdentity*>(this);
    if (name == sdk::Credentials::kName && fake_root_) return static_cast<sdk::Credentials*>(this);
    return nullptr;
  }

  // IdentityMap: with fake root, the host user's files are root's, as under fakeroot or proot -0.
  std::uint32_t guest_uid(std::uint32_t uid) noexcept override { return uid == host_uid_ ? 0 : uid; }
  std::uint32_t guest_gid(std::uint32_t gid) noexcept override { return gid == host_gid_ ? 0 : gid; }

  // LaunchIdentity: `lx run -u USER` starts the launch's first process as USER.
  int set_identity(pid_t pid, std::uint32_t uid, std::uint32_t gid, const std::uint32_t* groups,
                   std::size_t ngroups) noexcept override {
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

  // Credentials: who a guest thread is on files, for the owners of the files it creates.
  bool fs_identity(pid_t tid, std::uint32_t& uid, std::uint32_t& gid) noexcept override {
    std::lock_guard lock(mu_);
    auto it = creds_.find(tid);
    if (it == creds_.end()) return false;
    uid = it->second.fsuid;
    gid = it->second.fsgid;
    return true;
  }

  void on_process_start(pid_t tid, pid_t parent) noexcept override {
    try {
      std::lock_guard lock(mu_);
      live_.insert(tid);
      auto it = creds_.find(parent);
      creds_[tid] = it != creds_.end() ? it->second : Creds{};
    } catch (...) {
    }
  }
  void on_process_exit(pid_t tid) noexcept override {
    if (exec_) exec_->forget(tid);
    std::lock_guard lock(mu_);
    live_.erase(tid);
    creds_.erase(tid);
  }

 private:
  void on(int nr, Support support, std::string note, Handler h) {
    sdk::SyscallSpec s;
    s.nr = nr;
    s.route = Route::kNotify;
    s.support = support;
    s.note = std::move(note);
    add(std::move(s), std::move(h));
  }

  Creds& creds_of(pid_t tid) { return creds_[tid]; }  // mu_ held

  void register_identity() {
    using C = SyscallContext;
    const Support F = Support::kFull;
    auto get = [this](std::uint32_t Creds::*field) {
      return [this, field](C& c) {
        std::lock_guard lock(mu_);
        return SyscallResult::value(creds_of(c.tid()).*field);
      };
    };
    on(SYS_getuid, F, "fake root", get(&Creds::ruid));
    on(SYS_geteuid, F, "fake root", get(&Creds::euid));
    on(SYS_getgid, F, "fake root", get(&Creds::rgid));
    on(SYS_getegid, F, "fake root", get(&Creds::egid));
    on(SYS_getresuid, F, "fake root", [this](C& c) { return getres_(c, true); });
    on(SYS_getresgid, F, "fake root", [this](C& c) { return getres_(c, false); });
    on(SYS_setuid, F, "fake root: succeeds, remembered", [this](C& c) {
      std::lock_guard lock(mu_);
      Creds& cr = creds_of(c.tid());
      auto u = static_cast<std::uint32_t>(c.arg(0));
      Creds old = cr;
      if (capable(cr, CAP_SETUID)) cr.ruid = cr.suid = u;
      else if (u != cr.ruid && u != cr.suid) return fail(EPERM);
      cr.euid = cr.fsuid = u;
      fix_caps_after_uid_change(old, cr);
      return SyscallResult::value(0);
    });
    on(SYS_setgid, F, "fake root: succeeds, remembered", [this](C& c) {
      std::lock_guard lock(mu_);
      Creds& cr = creds_of(c.tid());
      auto g = static_cast<std::uint32_t>(c.arg(0));
      if (capable(cr, CAP_SETGID)) cr.rgid = cr.sgid = g;
      else if (g != cr.rgid && g != cr.sgid) return fail(EPERM);
      cr.egid = cr.fsgid = g;
      return SyscallResult::value(0);
    });
    on(SYS_setreuid, F, "fake root", [this](C& c) { return setres_(c, true, c.arg(0), c.arg(1), kKeep); });
    on(SYS_setregid, F, "fake root", [this](C& c) { return setres_(c, false, c.arg(0), c.arg(1), kKeep); });
    on(SYS_setresuid, F, "fake root", [this](C& c) { return setres_(c, true, c.arg(0), c.arg(1), c.arg(2)); });
    on(SYS_setresgid, F, "fake root", [this](C& c) { return setres_(c, false, c.arg(0), c.arg(1), c.arg(2)); });
    on(SYS_setfsuid, F, "fake root", [this](C& c) {
      std::lock_guard lock(mu_);
      Creds& cr = creds_of(c.tid());
      std::uint32_t old = cr.fsuid, u = static_cast<std::uint32_t>(c.arg(0));
      if (capable(cr, CAP_SETUID) || u == cr.ruid || u == cr.euid || u == cr.suid) cr.fsuid = u;
      return SyscallResult::value(old);
    });
    on(SYS_setfsgid, F, "fake root", [this](C& c) {
      std::lock_guard lock(mu_);
      Creds& cr = creds_of(c.tid());
      std::uint32_t old = cr.fsgid, g = static_cast<std::uint32_t>(c.arg(0));
      if (capable(cr, CAP_SETGID) || g == cr.rgid || g == cr.egid || g == cr.sgid) cr.fsgid = g;
      return SyscallResult::value(old);
    });
    on(SYS_getgroups, F, "fake root", [this](C& c) { return getgroups_(c); });
    on(SYS_setgroups, F, "fake root", [this](C& c) { return setgroups_(c); });
    on(SYS_capget, F, "fake root: the emulated capability sets; pids outside the instance: ESRCH",
       [this](C& c) { return capget_(c); });
    on(SYS_capset, F, "fake root: the emulated capability sets", [this](C& c) { return capset_(c); });
    on(SYS_prctl, Support::kPartial, "fake root: PR_SET_KEEPCAPS/PR_GET_KEEPCAPS emulated; the rest native",
       [this](C& c) { return prctl_(c); });
  }

  // Implements capget(2) with the emulated sets.
  SyscallResult capget_(SyscallContext& c) {
    CapHeader h;
    if (int e = c.read(c.arg(0), h); e != 0) return fail(e);
    if (h.version != kCapV1 && h.version != kCapV2 && h.version != kCapV3) {
      h.version = kCapV3;
      if (int e = c.write(c.arg(0), h); e != 0) return fail(e);
      return c.arg(1) ? fail(EINVAL) : SyscallResult::value(0);
    }
    if (!c.arg(1)) return SyscallResult::value(0);
    if (h.pid < 0) return fail(EINVAL);
    CapData d[2]{};
    {
      std::lock_guard lock(mu_);
      pid_t who = h.pid == 0 ? c.tid() : h.pid;
      // Confined: creds_ holds the instance's threads only, so a pid outside it gets ESRCH
      // (with fake root this plugin owns capget; without it the signal family confines it).
      auto it = creds_.find(who);
      if (it == creds_.end()) return fail(ESRCH);
      const Creds& cr = it->second;
      std::uint64_t eff = cr.cap_eff & all_caps_, prm = cr.cap_prm & all_caps_, inh = cr.cap_inh & all_caps_;
      d[0] = {static_cast<std::uint32_t>(eff), static_cast<std::uint32_t>(prm), static_cast<std::uint32_t>(inh)};
      d[1] = {static_cast<std::uint32_t>(eff >> 32), static_cast<std::uint32_t>(prm >> 32),
              static_cast<std::uint32_t>(inh >> 32)};
    }
    std::size_t n = h.version == kCapV1 ? 1 : 2;
    if (int e = c.write_memory(c.arg(1), d, n * sizeof(CapData)); e != 0) return fail(e);
    return SyscallResult::value(0);
  }

  // Implements capset(2) on the emulated sets (of the calling thread only).
  SyscallResult capset_(SyscallContext& c) {
    CapHeader h;
    if (int e = c.read(c.arg(0), h); e != 0) return fail(e);
    if (h.version != kCapV1 && h.version != kCapV2 && h.version != kCapV3) {
      h.version = kCapV3;
      (void)c.write(c.arg(0), h);
      return fail(EINVAL);
    }
    if (h.pid != 0 && h.pid != c.tid()) return fail(EPERM);
    CapData d[2]{};
    std::size_t n = h.version == kCapV1 ? 1 : 2;
    if (int e = c.read_memory(c.arg(1), d, n * sizeof(CapData)); e != 0) return fail(e);
    auto join = [](std::uint32_t lo, std::uint32_t hi) { return (static_cast<std::uint64_t>(hi) << 32) | lo; };
    std::uint64_t eff = join(d[0].effective, d[1].effective) & all_caps_;
    std::uint64_t prm = join(d[0].permitted, d[1].permitted) & all_caps_;
    std::uint64_t inh = join(d[0].inheritable, d[1].inheritable) & all_caps_;
    std::lock_guard lock(mu_);
    Creds& cr = creds_of(c.tid());
    std::uint64_t old_prm = cr.cap_prm & all_caps_;
    if ((prm & ~old_prm) || (eff & ~prm)) return fail(EPERM);
    if ((inh & ~(cr.cap_inh | old_prm)) && !capable(cr, CAP_SETPCAP)) return fail(EPERM);
    cr.cap_eff = eff;
    cr.cap_prm = prm;
    cr.cap_inh = inh;
    return SyscallResult::value(0);
  }

  // Implements prctl(2) for the options that concern the emulated identity.
  SyscallResult prctl_(SyscallContext& c) {
    int option = static_cast<int>(c.arg(0));
    if (option == PR_GET_KEEPCAPS) {
      std::lock_guard lock(mu_);
      return SyscallResult::value(creds_of(c.tid()).keepcaps ? 1 : 0);
    }
    if (option == PR_SET_KEEPCAPS) {
      if (c.arg(1) > 1) return fail(EINVAL);
      std::lock_guard lock(mu_);
      creds_of(c.tid()).keepcaps = c.arg(1) == 1;
      return SyscallResult::value(0);
    }
    return SyscallResult::continue_native();
  }

  // Implements getresuid(2)/getresgid(2).
  SyscallResult getres_(SyscallContext& c, bool uid) {
    std::uint32_t v[3];
    {
      std::lock_guard lock(mu_);
      Creds& cr = creds_of(c.tid());
      v[0] = uid ? cr.ruid : cr.rgid;
      v[1] = uid ? cr.euid : cr.egid;
      v[2] = uid ? cr.suid : cr.sgid;
    }
    for (int i = 0; i < 3; ++i)
      if (int e = c.write(c.arg(i), v[i]); e != 0) return fail(e);
    return SyscallResult::value(0);
  }

  // Implements setre[ug]id(2)/setres[ug]id(2): root may set anything; others only to their own ids.
  SyscallResult setres_(SyscallContext& c, bool uid, std::uint64_t r, std::uint64_t e, std::uint64_t s) {
    std::lock_guard lock(mu_);
    Creds& cr = creds_of(c.tid());
    std::uint32_t* f[3] = {uid ? &cr.ruid : &cr.rgid, uid ? &cr.euid : &cr.egid, uid ? &cr.suid : &cr.sgid};
    std::uint32_t want[3] = {static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(e), static_cast<std::uint32_t>(s)};
    if (!capable(cr, uid ? CAP_SETUID : CAP_SETGID))
      for (auto w : want)
        if (w != kKeep && w != *f[0] && w != *f[1] && w != *f[2]) return fail(EPERM);
    Creds old = cr;
    for (int i = 0; i < 3; ++i)
      if (want[i] != kKeep) *f[i] = want[i];
    if (uid) {
      cr.fsuid = cr.euid;
      fix_caps_after_uid_change(old, cr);
    } else {
      cr.fsgid = cr.egid;
    }
    return SyscallResult::value(0);
  }

  // Implements getgroups(2).
  SyscallResult getgroups_(SyscallContext& c) {
    std::vector<std::uint32_t> g;
    {
      std::lock_guard lock(mu_);
      g = creds_of(c.tid()).groups;
    }
    auto size = static_cast<int>(c.arg(0));
    if (size == 0) return SyscallResult::value(static_cast<std::int64_t>(g.size()));
    if (size < static_cast<int>(g.size())) return fail(EINVAL);
    if (!g.empty())
      if (int e = c.write_memory(c.arg(1), g.data(), g.size() * sizeof(std::uint32_t)); e != 0) return fail(e);
    return SyscallResult::value(static_cast<std::int64_t>(g.size()));
  }

  // Implements setgroups(2).
  SyscallResult setgroups_(SyscallContext& c) {
    auto size = static_cast<std::size_t>(c.arg(0));
    if (size > 65536) return fail(EINVAL);
    std::vector<std::uint32_t> g(size);
    if (size)
      if (int e = c.read_memory(c.arg(1), g.data(), size * sizeof(std::uint32_t)); e != 0) return fail(e);
    std::lock_guard lock(mu_);
    Creds& cr = creds_of(c.tid());
    if (!capable(cr, CAP_SETGID)) return fail(EPERM);
    cr.groups = std::move(g);
    return SyscallResult::value(0);
  }

  // Implements the process limit on fork(2), vfork(2), clone(2), clone3(2); threads are not counted.
  SyscallResult fork_(SyscallContext& c) {
    std::uint64_t flags = 0;
    if (c.nr() == SYS_clone) {
      flags = c.arg(0);
    } else if (c.nr() == SYS_clone3) {
      if (int e = c.read(c.arg(0), flags); e != 0) return fail(e);
    }
    if (flags & CLONE_THREAD) return SyscallResult::continue_native();
    std::size_t processes = 0;
    {
      std::lock_guard lock(mu_);
      for (pid_t t : live_)
        if (access(("/proc/" + std::to_string(t) + "/task").c_str(), F_OK) == 0) ++processes;
    }
    if (static_cast<std::int64_t>(processes) >= max_processes_) return fail(EAGAIN);
    return SyscallResult::continue_native();
  }

  // Implements uname(2) with the configured hostname and release.
  SyscallResult uname_(SyscallContext& c) {
    utsname u;
    if (::uname(&u) != 0) return fail(errno);
    if (!hostname_.empty()) {
      std::memset(u.nodename, 0, sizeof u.nodename);
      std::memcpy(u.nodename, hostname_.data(), hostname_.size());
    }
    if (!release_.empty()) {
      std::memset(u.release, 0, sizeof u.release);
      std::memcpy(u.release, release_.data(), release_.size());
    }
    if (int e = c.write(c.arg(0), u); e != 0) return fail(e);
    return SyscallResult::value(0);
  }

  std::unique_ptr<ExecRewriter> exec_;
  const std::uint32_t host_uid_ = getuid();
  const std::uint32_t host_gid_ = getgid();
  bool fake_root_ = false;
  std::uint64_t all_caps_ = (1ULL << (CAP_LAST_CAP + 1)) - 1;  // what this kernel knows
  std::int64_t max_processes_ = 0;
  std::string hostname_, release_;
  std::mutex mu_;
  std::unordered_set<pid_t> live_;
  std::unordered_map<pid_t, Creds> creds_;
};

}  // namespace
}  // namespace lx::proc

LXHOST_PLUGIN(lx::proc::ProcPlugin)
