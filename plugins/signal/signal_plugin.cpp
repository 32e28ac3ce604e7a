// The signal family plugin: kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo,
// pidfd_open and pidfd_send_signal reach only processes of the same instance; a target outside
// it gets ESRCH, as if it did not exist. Process groups and kill(-1, sig) are confined the same
// way: they are delivered, on behalf of the guest, to the instance's members only.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include <lxhost/plugin.h>

namespace lx::signal {
namespace {

using sdk::Route;
using sdk::Support;
using sdk::SyscallContext;
using sdk::SyscallResult;

SyscallResult fail(int e) { return SyscallResult::error(e); }

// The pid a pidfd of process `tid` refers to, from /proc/<tid>/fdinfo/<fd> ("Pid:"); 0 if none.
pid_t pidfd_target(pid_t tid, int fd) {
  std::string p = "/proc/" + std::to_string(tid) + "/fdinfo/" + std::to_string(fd);
  FILE* f = std::fopen(p.c_str(), "re");
  if (!f) return 0;
  char line[128];
  pid_t pid = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "Pid:", 4) == 0) {
      pid = static_cast<pid_t>(std::atoi(line + 4));
      break;
    }
  std::fclose(f);
  return pid;
}

class SignalPlugin final : public sdk::PluginBase {
 public:
  sdk::PluginInfo info() const noexcept override {
    return {"signal", "0.1.0", "signal", "signals confined to the instance's processes", "signal"};
  }
  std::vector<sdk::ConfigKey> config_keys() const noexcept override {
    return {{"confine", sdk::ConfigType::kBoolean, "signals reach only the instance's processes (default true)"}};
  }

  std::string configure(const sdk::PluginConfig& cfg) noexcept override {
    try {
      clear_syscalls();
      if (!cfg.get_bool("confine").value_or(true)) return {};
      const char* note = "targets outside the instance: ESRCH";
      on(SYS_kill, "process groups and -1: delivered to the instance's members only",
         [this](SyscallContext& c) { return kill_(c); });
      on(SYS_tkill, note, [this](SyscallContext& c) { return member_or_esrch(static_cast<pid_t>(c.arg(0))); });
      on(SYS_tgkill, note, [this](SyscallContext& c) {
        return member_or_esrch(static_cast<pid_t>(c.arg(0)), static_cast<pid_t>(c.arg(1)));
      });
      on(SYS_rt_sigqueueinfo, note,
         [this](SyscallContext& c) { return member_or_esrch(static_cast<pid_t>(c.arg(0))); });
      on(SYS_rt_tgsigqueueinfo, note, [this](SyscallContext& c) {
        return member_or_esrch(static_cast<pid_t>(c.arg(0)), static_cast<pid_t>(c.arg(1)));
      });
      on(SYS_pidfd_open, note, [this](SyscallContext& c) { return member_or_esrch(static_cast<pid_t>(c.arg(0))); });
      on(SYS_pidfd_send_signal, note, [this](SyscallContext& c) {
        pid_t target = pidfd_target(c.tid(), static_cast<int>(c.arg(0)));
        if (target <= 0) return SyscallResult::continue_native();  // not a pidfd: the kernel says EBADF
        return member_or_esrch(target);
      });
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  void on_process_start(pid_t tid, pid_t) noexcept override {
    try {
      std::lock_guard lock(mu_);
      members_.insert(tid);
    } catch (...) {
    }
  }
  void on_process_exit(pid_t tid) noexcept override {
    std::lock_guard lock(mu_);
    members_.erase(tid);
  }

 private:
  void on(int nr, std::string note, Handler h) {
    sdk::SyscallSpec s;
    s.nr = nr;
    s.route = Route::kNotify;
    s.support = Support::kFull;
    s.note = std::move(note);
    add(std::move(s), std::move(h));
  }

  bool member(pid_t pid) {
    std::lock_guard lock(mu_);
    return members_.count(pid) != 0;
  }

  // Lets the call run natively when its target(s) belong to the instance.
  SyscallResult member_or_esrch(pid_t a, pid_t b = 0) {
    if (a <= 0) return SyscallResult::continue_native();  // the kernel's own EINVAL
    if (!member(a) || (b > 0 && !member(b))) return fail(ESRCH);
    return SyscallResult::continue_native();
  }

  // The instance's thread-group leaders (processes), optionally only those in group `pgid`.
  std::vector<pid_t> processes(pid_t pgid) {
    std::vector<pid_t> tids;
    {
      std::lock_guard lock(mu_);
      tids.assign(members_.begin(), members_.end());
    }
    std::vector<pid_t> out;
    for (pid_t t : tids) {
      // A process is a member whose tid is its own thread group id: /proc/<tid> exists as a process.
      if (access(("/proc/" + std::to_string(t) + "/task").c_str(), F_OK) != 0) continue;
      if (getpgid(t) < 0) continue;
      if (pgid > 0 && getpgid(t) != pgid) continue;
      out.push_back(t);
    }
    return out;
  }

  // Implements kill(2).
  SyscallResult kill_(SyscallContext& c) {
    pid_t pid = static_cast<pid_t>(c.arg(0));
    int sig = static_cast<int>(c.arg(1));
    if (pid > 0) return member_or_esrch(pid);
    if (sig < 0 || sig >= NSIG) return fail(EINVAL);
    // A group, or everybody: delivered to the instance's members of it, on the guest's behalf.
    pid_t self = c.pid();
    pid_t pgid = pid == 0 ? getpgid(self) : pid == -1 ? 0 : -pid;
    int sent = 0;
    for (pid_t p : processes(pgid)) {
      if (pid == -1 && p == self) continue;  // kill(-1) spares the caller
      if (::kill(p, sig) == 0) ++sent;
    }
    return sent ? SyscallResult::value(0) : fail(ESRCH);
  }

  std::mutex mu_;
  std::unordered_set<pid_t> members_;
};

}  // namespace
}  // namespace lx::signal

LXHOST_PLUGIN(lx::signal::SignalPlugin)
