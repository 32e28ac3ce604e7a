// TraceChannel: PTRACE_SEIZE of the first guest process, listener hand-over, and the event loop
// that follows the guest tree.
#include "driver/trace_channel.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "driver/syscall_context_impl.h"

#include <chrono>
#include <map>

namespace lx::driver {
namespace {

// The tracee that created `tid`, for a new tracee whose first stop came before its creator's
// clone/fork event: its thread group leader for a thread, else its parent process (0 when
// unknown). Plugins inherit per-process state (credentials) from it.
pid_t creator_of(pid_t tid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", tid);
  FILE* f = std::fopen(path, "re");
  if (!f) return 0;
  char line[256];
  pid_t tgid = tid, ppid = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "Tgid:", 5) == 0) tgid = static_cast<pid_t>(std::atoi(line + 5));
    else if (std::strncmp(line, "PPid:", 5) == 0) {
      ppid = static_cast<pid_t>(std::atoi(line + 5));
      break;
    }
  }
  std::fclose(f);
  return tgid != tid ? tgid : ppid;
}

constexpr unsigned long kTraceOptions = PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE |
                                        PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC |
                                        PTRACE_O_TRACESECCOMP;

// Resumes a stopped tracee, delivering `sig` (0: none). ESRCH (killed meanwhile) is fine.
void resume(pid_t tid, int sig = 0) noexcept { ptrace(PTRACE_CONT, tid, 0, sig); }

bool is_stopping_signal(int sig) noexcept {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

}  // namespace

ExitStatus ExitStatus::from_wait_status(int status) noexcept {
  ExitStatus s;
  if (WIFSIGNALED(status)) {
    s.signaled = true;
    s.signal = WTERMSIG(status);
    s.core_dumped = WCOREDUMP(status);
  } else {
    s.code = WEXITSTATUS(status);
  }
  return s;
}

TraceChannel::TraceChannel(const DispatchTable& table, std::string instance, EventSink* sink,
                           std::vector<sdk::Plugin*> plugins)
    : table_(table), instance_(std::move(instance)), sink_(sink), plugins_(std::move(plugins)) {}

std::vector<Tracee> TraceChannel::tracees() const {
  std::lock_guard lock(mu_);
  std::vector<Tracee> out;
  out.reserve(tracees_.size());
  for (const auto& [tid, t] : tracees_) out.push_back(t);
  return out;
}

std::vector<ProcessInfo> TraceChannel::processes() const {
  std::vector<Tracee> threads = tracees();
  std::map<pid_t, ProcessInfo> by_pid;
  for (const auto& t : threads) {
    pid_t tgid = t.tgid ? t.tgid : thread_group_of(t.tid);
    auto [it, fresh] = by_pid.try_emplace(tgid);
    if (!fresh) {
      ++it->second.threads;
      continue;
    }
    ProcessInfo& p = it->second;
    p.pid = tgid;
    if (tgid == t.tid) p.parent = t.parent;
    std::string base = "/proc/" + std::to_string(tgid);
    if (FILE* f = std::fopen((base + "/cmdline").c_str(), "re")) {
      char buf[4096];
      std::size_t n = std::fread(buf, 1, sizeof buf, f);
      std::fclose(f);
      p.cmdline.assign(buf, n);
      for (std::size_t i = 0; i < n; ++i) p.command += buf[i] ? buf[i] : ' ';
      while (!p.command.empty() && p.command.back() == ' ') p.command.pop_back();
    }
    if (FILE* f = std::fopen((base + "/stat").c_str(), "re")) {
      char buf[512];
      std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
      std::fclose(f);
      buf[n] = 0;
      if (const char* close = std::strrchr(buf, ')'); close && close[1] == ' ') p.state = close[2];
    }
  }
  // A thread created before its leader was seen: fix the parent from the leader's entry.
  for (const auto& t : threads)
    if (auto it = by_pid.find(t.tid); it != by_pid.end() && t.parent) it->second.parent = t.parent;
  std::vector<ProcessInfo> out;
  for (auto& [pid, p] : by_pid) out.push_back(std::move(p));
  return out;
}

Result<ExitStatus> TraceChannel::run(const LaunchSpec& spec, const BpfProgram& filter,
                                     const ListenerHandler& on_listener) {
  // Orphaned guest processes (daemons) are reparented to us, so we can reap and end them.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  auto launched = Launcher::spawn(spec, filter);
  if (!launched) return std::move(launched).error();
  Launcher& launcher = *launched;
  pid_t pid = launcher.pid();
  if (ptrace(PTRACE_SEIZE, pid, 0, kTraceOptions) != 0) {
    int e = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return Error::from_errno(fmt::format("ptrace(PTRACE_SEIZE, pid={})", pid), e);
  }
  main_pid_ = pid;
  add_tracee(pid, 0);  // plugins know the process before the start hook sets anything up for it
  if (on_start_) on_start_(pid);
  if (auto r = launcher.release(); !r) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, __WALL);
    return std::move(r).error();
  }
  if (auto r = take_listener(launcher, on_listener); !r) {
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
    }
    remove_tracee(pid, 0);
    return std::move(r).error();
  }

  bool main_done = false;
  bool main_execd = false;
  ExitStatus main_status;
  for (;;) {
    int status = 0;
    // __WNOTHREAD: only this thread's tracees, so several trace channels (an instance's
    // launches) can run side by side in one process, each on its own thread.
    pid_t tid = waitpid(-1, &status, __WALL | __WNOTHREAD);
    if (tid < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) break;
      return Error::from_errno("waitpid(-1, __WALL)");
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      remove_tracee(tid, status);
      if (tid == pid && !main_done) {
        main_done = true;
        main_status = ExitStatus::from_wait_status(status);
        // A graceful end() leaves the rest to its grace period; a kept tree lives on.
        if (!ending_.load() && !on_main_exit_) kill_all();
        if (!main_execd) {
          // Failed before exec: report what the launcher child said.
          Error e = launcher.child_error();
          if (!e.message.empty()) {
            e.message = fmt::format("cannot run '{}': {}", spec.argv[0], e.message);
            return e;
          }
        }
        if (on_main_exit_) on_main_exit_(main_status);
      }
    } else if (WIFSTOPPED(status)) {
      if (tid == pid && (status >> 16) == PTRACE_EVENT_EXEC) main_execd = true;
      if (main_done && !ending_.load() && !on_main_exit_) {
        // Ending the tree: stops no longer matter; SIGKILL is already pending.
        kill(tid, SIGKILL);
        resume(tid);
        continue;
      }
      handle_stop(tid, status);
    }
    if (main_done) {
      std::lock_guard lock(mu_);
      if (tracees_.empty()) break;
    }
  }
  main_pid_ = 0;
  {
    std::lock_guard lock(end_mu_);
    finished_ = true;
  }
  end_cv_.notify_all();
  if (end_timer_.joinable()) end_timer_.join();
  return main_status;
}

void TraceChannel::end(std::chrono::milliseconds grace) {
  if (ending_.exchange(true)) return;
  // SIGTERM once per process (not per thread), then SIGKILL for whatever is left after `grace`.
  std::vector<pid_t> tids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [tid, t] : tracees_) tids.push_back(tid);
  }
  std::vector<pid_t> processes;
  for (pid_t t : tids)
    if (thread_group_of(t) == t) processes.push_back(t);
  std::lock_guard timer_lock(end_mu_);
  if (finished_) return;  // run() is past its loop: nothing is left to end, nor to join a timer
  for (pid_t p : processes) kill(p, SIGTERM);
  end_timer_ = std::thread([this, grace] {
    std::unique_lock lock(end_mu_);
    if (end_cv_.wait_for(lock, grace, [this] { return finished_; })) return;
    lock.unlock();
    kill_all();
  });
}

Result<void> TraceChannel::take_listener(Launcher& launcher, const ListenerHandler& on_listener) {
  pid_t pid = launcher.pid();
  bool stepping = false;
  long entry_nr = -1;
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, __WALL) < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(fmt::format("waitpid(pid={})", pid));
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      Error e = launcher.child_error();
      if (e.message.empty()) e.message = fmt::format("guest pid {} ended before its filter was installed", pid);
      return e;
    }
    if (!WIFSTOPPED(status)) continue;
    int sig = WSTOPSIG(status);
    int event = status >> 16;
    if (!stepping && event == 0 && sig == SIGSTOP) {
      stepping = true;  // the launcher's own stop: from here, step syscall by syscall
      ptrace(PTRACE_SYSCALL, pid, 0, 0);
      continue;
    }
    if (event == 0 && sig == (SIGTRAP | 0x80)) {
      __ptrace_syscall_info info{};
      if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof info, &info) < 0)
        return Error::from_errno(fmt::format("ptrace(PTRACE_GET_SYSCALL_INFO, pid={})", pid));
      if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
        entry_nr = static_cast<long>(info.entry.nr);
      } else if (info.op == PTRACE_SYSCALL_INFO_EXIT && entry_nr == SYS_seccomp) {
        if (info.exit.is_error) {
          ptrace(PTRACE_CONT, pid, 0, 0);  // the child reports the failure and exits
          continue;
        }
        int fd = static_cast<int>(syscall(SYS_pidfd_getfd, launcher.pidfd(), static_cast<int>(info.exit.rval), 0));
        if (fd < 0) return Error::from_errno(fmt::format("pidfd_getfd(pid={}, fd={})", pid, info.exit.rval));
        if (auto r = on_listener(fd); !r) return r;
        if (ptrace(PTRACE_CONT, pid, 0, 0) != 0) return Error::from_errno(fmt::format("ptrace(PTRACE_CONT, pid={})", pid));
        return ok();
      }
      ptrace(PTRACE_SYSCALL, pid, 0, 0);
      continue;
    }
    // Anything else before the filter: pass the signal on and keep stepping.
    ptrace(PTRACE_SYSCALL, pid, 0, event == 0 ? sig : 0);
  }
}

void TraceChannel::handle_stop(pid_t tid, int status) {
  int sig = WSTOPSIG(status);
  int event = status >> 16;
  bool known;
  {
    std::lock_guard lock(mu_);
    known = tracees_.count(tid) != 0;
  }
  // A new child's first stop can arrive before its parent's fork event.
  if (!known) {
    pid_t creator = creator_of(tid);
    {
      std::lock_guard lock(mu_);
      if (!tracees_.count(creator)) creator = 0;
    }
    add_tracee(tid, creator);
  }
  switch (event) {
    case PTRACE_EVENT_SECCOMP:
      handle_seccomp_stop(tid);
      return;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE: {
      unsigned long child = 0;
      if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) == 0 && child != 0) {
        pid_t c = static_cast<pid_t>(child);
        bool seen;
        {
          std::lock_guard lock(mu_);
          auto it = tracees_.find(c);
          seen = it != tracees_.end();
          if (seen) it->second.parent = tid;
        }
        if (!seen) add_tracee(c, tid);
      }
      resume(tid);
      return;
    }
    case PTRACE_EVENT_EXEC: {
      unsigned long former = 0;
      if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &former) == 0 && static_cast<pid_t>(former) != tid) {
        // A non-leader thread exec'd: it now has the leader's id, and its old id is gone.
        remove_tracee(static_cast<pid_t>(former), 0);
      }
      if (sink_) sink_->on_exec(tid);
      if (!plugins_.empty()) {
        // The new image is in place and stopped: plugins may adjust it (e.g. AT_EXECFN).
        user_regs_struct regs;
        if (ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0) {
          TraceContext ctx(tid, tgid_of(tid), regs, instance_);
          for (auto* p : plugins_) p->on_exec(ctx);
        }
      }
      resume(tid);
      return;
    }
    case PTRACE_EVENT_STOP:
      if (is_stopping_signal(sig)) {
        ptrace(PTRACE_LISTEN, tid, 0, 0);  // group-stop: stay stopped until SIGCONT
      } else {
        resume(tid);  // a new tracee's first stop, or an interrupt
      }
      return;
    case 0:
      if (sig == (SIGTRAP | 0x80)) {
        resume(tid);  // stray syscall stop
      } else {
        resume(tid, sig);  // signal-delivery-stop: deliver it unchanged
      }
      return;
    default:
      resume(tid);
      return;
  }
}

void TraceChannel::handle_seccomp_stop(pid_t tid) {
  user_regs_struct regs;
  if (ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0) {
    resume(tid);
    return;
  }
  int nr = static_cast<int>(regs.orig_rax);
  const DispatchEntry& entry = table_.at(nr);
  if (!entry.plugin) {
    resume(tid);
    return;
  }
  ++trace_stops_;
  SyscallEvent ev;
  if (sink_) {
    ev.tid = tid;
    ev.nr = nr;
    ev.route = sdk::Route::kTrace;
    for (int i = 0; i < 6; ++i) ev.args[i] = reg_arg(regs, i);
    capture_string_args(ev);
  }
  TraceContext ctx(tid, tgid_of(tid), regs, instance_);
  sdk::SyscallResult result = entry.plugin->handle(ctx);
  using K = sdk::SyscallResult::Kind;
  switch (result.kind()) {
    case K::kContinue:
      break;
    case K::kRewritten:
      if (ctx.dirty()) ptrace(PTRACE_SETREGS, tid, 0, &regs);
      break;
    case K::kValue:
    case K::kError:
    case K::kResponded:
      regs.orig_rax = static_cast<unsigned long long>(-1);  // skip the call ...
      regs.rax = static_cast<unsigned long long>(result.guest_return());  // ... returning this
      ptrace(PTRACE_SETREGS, tid, 0, &regs);
      break;
  }
  resume(tid);
  if (sink_) {
    ev.result = result;
    sink_->on_syscall(ev);
  }
}

void TraceChannel::add_tracee(pid_t tid, pid_t parent) {
  {
    std::lock_guard lock(mu_);
    tracees_[tid] = Tracee{tid, 0, parent};
    live_.store(static_cast<int>(tracees_.size()), std::memory_order_relaxed);
  }
  for (auto* p : plugins_) p->on_process_start(tid, parent);
  if (sink_) sink_->on_process_start(tid, parent);
}

void TraceChannel::remove_tracee(pid_t tid, int status) {
  {
    std::lock_guard lock(mu_);
    if (tracees_.erase(tid) == 0) return;
    live_.store(static_cast<int>(tracees_.size()), std::memory_order_relaxed);
  }
  for (auto* p : plugins_) p->on_process_exit(tid);
  if (sink_) sink_->on_process_exit(tid, status);
}

pid_t TraceChannel::tgid_of(pid_t tid) {
  {
    std::lock_guard lock(mu_);
    auto it = tracees_.find(tid);
    if (it != tracees_.end() && it->second.tgid != 0) return it->second.tgid;
  }
  pid_t tgid = thread_group_of(tid);
  std::lock_guard lock(mu_);
  if (auto it = tracees_.find(tid); it != tracees_.end()) it->second.tgid = tgid;
  return tgid;
}

void TraceChannel::kill_all() noexcept {
  std::vector<pid_t> tids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [tid, t] : tracees_) tids.push_back(tid);
  }
  for (pid_t t : tids) kill(t, SIGKILL);
}

}  // namespace lx::driver
