// The pre-exec steps of a guest's first process (see child_setup.h).
#include "driver/child_setup.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace lx::driver {

ChildSetup child_setup_of(const LaunchSpec& spec) {
  ChildSetup s;
  for (std::size_t i = 0; i < spec.stdio.size() && i < 3; ++i) s.stdio[i] = spec.stdio[i];
  for (std::size_t i = 0; i < spec.extra_fds.size() && i < static_cast<std::size_t>(kMaxExtraFds); ++i)
    s.extra_fds[s.nextra++] = spec.extra_fds[i];
  s.new_session = spec.new_session;
  s.only_stdio = spec.only_stdio;
  s.set_signals = spec.set_signals;
  sigemptyset(&s.blocked);
  for (int sig : spec.ignored_signals)
    if (sig > 0 && sig <= 64 && sig != SIGKILL && sig != SIGSTOP) s.ignored |= 1ULL << (sig - 1);
  for (int sig : spec.blocked_signals)
    if (sig > 0 && sig <= 64) sigaddset(&s.blocked, sig);
  s.listen_pid = spec.listen_pid;
  for (const auto& r : spec.rlimits)
    if (s.nrlimits < kMaxRlimits) s.rlimits[s.nrlimits++] = r;
  if (spec.inheritable_caps) {
    s.set_inheritable = true;
    s.inheritable = *spec.inheritable_caps;
  }
  if (spec.ambient_caps) {
    s.raise_ambient = true;
    s.ambient = *spec.ambient_caps;
  }
  if (spec.bounding_caps) {
    s.drop_bounding = true;
    s.bounding = *spec.bounding_caps;
  }
  if (!spec.extra_filter.empty())
    s.extra = sock_fprog{static_cast<unsigned short>(spec.extra_filter.size()), const_cast<sock_filter*>(spec.extra_filter.data())};
  return s;
}

namespace {

// Child: undoes the parent's signal handlers until exec (which would reset them anyway); the
// mask and ignored signals are inherited as a native exec inherits them.
void reset_handlers() noexcept {
  for (int s = 1; s < NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    struct sigaction sa;
    if (sigaction(s, nullptr, &sa) == 0 && sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL) {
      sa.sa_handler = SIG_DFL;
      sa.sa_flags = 0;
      sigaction(s, &sa, nullptr);
    }
  }
}

// Child: the client's dispositions, through the raw syscall, which also reaches the signals glibc
// keeps for itself.
void set_dispositions(std::uint64_t ignored) noexcept {
  struct {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    std::uint64_t mask;
  } ksa{};
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ksa.handler = (ignored >> (sig - 1)) & 1 ? SIG_IGN : SIG_DFL;
    syscall(SYS_rt_sigaction, sig, &ksa, nullptr, sizeof ksa.mask);
  }
}

}  // namespace

void prepare_child(const ChildSetup& p) noexcept {
  reset_handlers();
  // The standard fds given (a client's terminal or pipes): moved out of the way first, so that
  // one given as 1 is not overwritten by the dup2 onto 0.
  // The extra fds likewise, above every place one of them goes.
  int moved[3 + kMaxExtraFds];
  int first_free = 10 + kMaxExtraFds;
  for (int i = 0; i < 3; ++i) moved[i] = p.stdio[i] >= 0 ? fcntl(p.stdio[i], F_DUPFD_CLOEXEC, first_free) : -1;
  for (int i = 0; i < p.nextra; ++i) moved[3 + i] = fcntl(p.extra_fds[i], F_DUPFD_CLOEXEC, first_free);
  for (int i = 0; i < 3 + p.nextra; ++i)
    if ((i < 3 ? p.stdio[i] >= 0 : true) && (moved[i] < 0 || dup2(moved[i], i) < 0)) _exit(125);
  if (p.only_stdio) syscall(SYS_close_range, 3u + static_cast<unsigned>(p.nextra), ~0u, CLOSE_RANGE_CLOEXEC);
  if (p.new_session) {
    setsid();
    if (isatty(0)) ioctl(0, TIOCSCTTY, 0);
  }
  if (p.set_signals) set_dispositions(p.ignored);
}

void fill_listen_pid(const ChildSetup& s, char* const* envp) noexcept {
  if (!s.listen_pid || !envp || !envp[0]) return;
  char* const* last = envp;
  while (last[1]) ++last;
  static constexpr char kName[] = "LISTEN_PID=";
  if (std::strncmp(*last, kName, sizeof kName - 1) != 0) return;
  char digits[16];
  int n = 0;
  for (unsigned long v = static_cast<unsigned long>(getpid()); v > 0 && n < kListenPidWidth; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  char* out = *last + sizeof kName - 1;
  for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  out[n] = '\0';
}

namespace {
bool no_new_privs() noexcept { return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1; }
}  // namespace

int restrict_child(const ChildSetup& p) noexcept {
  for (int i = 0; i < p.nrlimits; ++i) {
    rlimit rl{static_cast<rlim_t>(p.rlimits[i].soft), static_cast<rlim_t>(p.rlimits[i].hard)};
    if (setrlimit(p.rlimits[i].resource, &rl) != 0) return 8;
  }
  if (p.drop_bounding) {
    for (int cap = 0; cap < 64; ++cap) {
      if ((p.bounding >> cap) & 1) continue;
      if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;  // not in the set, or past the last
      // Without CAP_SETPCAP (an ordinary user's guest) the set cannot change and need not:
      // under no_new_privs, which every launch has, no capability is gained at exec.
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && !(errno == EPERM && no_new_privs())) return 6;
    }
  }
  if (p.set_inheritable) {
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (syscall(SYS_capget, &h, d) != 0) return 6;
    d[0].inheritable = static_cast<std::uint32_t>(p.inheritable);
    d[1].inheritable = static_cast<std::uint32_t>(p.inheritable >> 32);
    if (syscall(SYS_capset, &h, d) != 0 && !(errno == EPERM && no_new_privs())) return 6;
  }
  if (p.raise_ambient)
    for (int cap = 0; cap < 64; ++cap)
      // Where the capability is not permitted (an ordinary user's guest) it cannot be raised,
      // and gives nothing either way.
      if (((p.ambient >> cap) & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0 &&
          !(errno == EPERM && no_new_privs()))
        return 6;
  if (p.extra.len > 0 && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p.extra) != 0) return 7;
  return 0;
}

}  // namespace lx::driver
