// `lx exec`: run a command under the driver with the configured plugins.
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <climits>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include <fmt/format.h>

#include "base/dumpable.h"
#include "cli_options.h"
#include "commands.h"
#include "runtime/runner.h"

extern char** environ;

namespace lx::cli {
namespace {

constexpr const char* kExecUsage =
    "usage: lx exec [--config FILE] [--set KEY=VALUE]... [--trace] [--] CMD [ARGS...]\n"
    "Runs CMD under the lxhost driver. When CMD exits, every process it left behind is ended.\n";

// --trace output: one line per intercepted call and per process event, on stderr.
class TracePrinter final : public driver::EventSink {
 public:
  void on_syscall(const driver::SyscallEvent& ev) noexcept override {
    try {
      print(driver::format_event(ev));
    } catch (...) {
    }
  }
  void on_process_start(pid_t tid, pid_t parent) noexcept override {
    try {
      print(parent ? fmt::format("[pid {}] +++ started by {} +++", tid, parent) : fmt::format("[pid {}] +++ started +++", tid));
    } catch (...) {
    }
  }
  void on_process_exit(pid_t tid, int status) noexcept override {
    try {
      auto s = driver::ExitStatus::from_wait_status(status);
      print(s.signaled ? fmt::format("[pid {}] +++ killed by signal {} ({}) +++", tid, s.signal, strsignal(s.signal))
                       : fmt::format("[pid {}] +++ exited with {} +++", tid, s.code));
    } catch (...) {
    }
  }

 private:
  void print(const std::string& line) {
    std::lock_guard lock(mu_);
    std::fprintf(stderr, "lx: %s\n", line.c_str());
  }
  std::mutex mu_;
};

// The guest's first process, for signal forwarding.
std::atomic<pid_t> g_guest{0};

// Signals another process sent to lx are passed to the guest; terminal-generated ones (Ctrl-C)
// already reach the guest, which is in the same foreground process group.
void forward_signal(int sig, siginfo_t* info, void*) {
  pid_t g = g_guest.load();
  if (g > 0 && info && info->si_code != SI_KERNEL) kill(g, sig);
}

void install_forwarding() {
  struct sigaction sa {};
  sa.sa_sigaction = forward_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2}) sigaction(s, &sa, nullptr);
}

// Under the kernel backend the guest starts in its own mount namespace: in the directory lx runs
// in when the guest's root shows it (the host's root, or a directory under the guest root), else
// in "/".
std::string kernel_cwd(const runtime::Runtime& rt) {
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf)) return "/";
  std::string cwd = buf;
  auto plan = rt.kernel_plan();
  std::string root = plan ? plan->root : "/";
  if (root == "/") return cwd;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (cwd == root) return "/";
  if (cwd.rfind(root + "/", 0) == 0) return cwd.substr(root.size());
  return "/";
}

}  // namespace

int exec_command(const std::vector<std::string>& args) {
  lx::make_non_dumpable_except_forks();
  ConfigOptions copts;
  bool trace = false;
  auto cmd = parse_command_options(args, "exec", kExecUsage, copts, {{{"--trace"}, nullptr, &trace, ""}});
  if (!cmd) return kExitUsage;
  std::size_t i = *cmd;
  if (i >= args.size()) {
    print_error("exec: no command given");
    std::fputs(kExecUsage, stderr);
    return kExitUsage;
  }
  driver::LaunchSpec spec;
  spec.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  for (char** e = environ; e && *e; ++e) spec.env.emplace_back(*e);

  auto cfg = load_config(copts);
  if (!cfg) {
    print_error(cfg.error().message);
    return kExitFailure;
  }
  auto rt = runtime::Runtime::create(*cfg);
  if (!rt) {
    print_error(rt.error().message);
    return kExitFailure;
  }
  if ((*rt)->backend().backend == sdk::Backend::kKernel) spec.cwd = kernel_cwd(**rt);
  TracePrinter printer;
  auto drv = (*rt)->make_driver(trace ? &printer : nullptr, "exec", [](pid_t p) { g_guest.store(p); });
  if (!drv) {
    print_error(drv.error().message);
    return kExitFailure;
  }
  if (trace) {
    std::fprintf(stderr, "lx: backend: %s (%s)\n", sdk::to_string((*rt)->backend().backend), (*rt)->backend().why.c_str());
    for (const auto& f : (*rt)->dispatch().families)
      std::fprintf(stderr, "lx: family %s: %s\n", f.name.c_str(), f.summary.c_str());
    for (const auto& r : (*rt)->dispatch().rows)
      if (r.route.rfind("notify", 0) != 0 && r.route.rfind("trace", 0) != 0)
        std::fprintf(stderr, "lx: in kernel: %s -> %s (%s)\n", r.name.c_str(), r.route.c_str(), r.note.c_str());
    std::fprintf(stderr, "lx: seccomp filter: %zu instructions\n", (*drv)->filter().size());
  }
  install_forwarding();
  auto status = (*drv)->run(spec);
  g_guest = 0;
  if (trace) {
    const auto& st = (*drv)->stats();
    std::fprintf(stderr, "lx: %llu notifications, %llu trace stops, sync wake-up %s\n",
                 static_cast<unsigned long long>(st.notifications), static_cast<unsigned long long>(st.trace_stops),
                 st.sync_wakeup ? "on" : "off (kernel < 6.6 or disabled)");
  }
  if (!status) {
    print_error(status.error().message);
    int e = status.error().code;
    return e == ENOENT ? kExitNotFound : (e == EACCES || e == ENOEXEC || e == EISDIR) ? kExitCannotExec : kExitFailure;
  }
  return status->shell_status();
}

}  // namespace lx::cli
