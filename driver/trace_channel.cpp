// TraceChannel: the launch (through the launcher's handshake) and the event loop that follows
// the guest tree.
#include "driver/trace_channel.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "driver/syscall_context_impl.h"

namespace lx::driver {
namespace {

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
    : dispatch_(table), instance_(std::move(instance)), sink_(sink), plugins_(std::move(plugins)),
      table_(plugins_, sink_) {}

Result<ExitStatus> TraceChannel::run(const LaunchSpec& spec, const BpfProgram& filter,
                                     const ListenerHandler& on_listener) {
  // Orphaned guest processes (daemons) are reparented to us, so we can reap and end them.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  auto launched = launch(spec, filter, on_listener);
  if (!launched) {
    finish();
    return std::move(launched).error();
  }
  MainState main;
  main.pid = launched->pid();
  Result<void> followed = follow(*launched, spec, main);
  finish();
  LX_TRY(followed);
  return main.status;
}

Result<Launcher> TraceChannel::launch(const LaunchSpec& spec, const BpfProgram& filter,
                                      const ListenerHandler& on_listener) {
  LX_TRY_ASSIGN(launcher, Launcher::spawn(spec, filter));
  LX_TRY(launcher.seize(kTraceOptions));
  pid_t pid = launcher.pid();
  main_pid_ = pid;
  table_.add(pid, 0);  // plugins know the process before the start hook sets anything up for it
  if (on_start_) on_start_(pid);
  Result<void> handshake = launcher.release();
  if (handshake) handshake = launcher.take_listener(on_listener);
  if (!handshake) {
    launcher.abandon();
    table_.remove(pid, 0);
    return std::move(handshake).error();
  }
  return launcher;
}

Result<void> TraceChannel::follow(Launcher& launcher, const LaunchSpec& spec, MainState& main) {
  for (;;) {
    int status = 0;
    // __WNOTHREAD: only this thread's tracees, so several trace channels (an instance's
    // launches) can run side by side in one process, each on its own thread.
    pid_t tid = waitpid(-1, &status, __WALL | __WNOTHREAD);
    if (tid < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) return ok();
      return Error::from_errno("waitpid(-1, __WALL)");
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      LX_TRY(on_ended(launcher, spec, main, tid, status));
    } else if (WIFSTOPPED(status)) {
      if (tid == main.pid && (status >> 16) == PTRACE_EVENT_EXEC) main.execd = true;
      if (main.done && !ending_.load() && !on_main_exit_) {
        // Ending the tree: stops no longer matter; SIGKILL is already pending.
        kill(tid, SIGKILL);
        resume(tid);
        continue;
      }
      handle_stop(tid, status);
    }
    if (main.done && table_.empty()) return ok();
  }
}

// Thread `tid` ended with wait status `status`. The first process's end is the run's result, or
// the launcher child's report when it failed before exec.
Result<void> TraceChannel::on_ended(Launcher& launcher, const LaunchSpec& spec, MainState& main, pid_t tid,
                                    int status) {
  table_.remove(tid, status);
  signalled_.erase(tid);
  returns_.erase(tid);
  ignored_.forget(tid);
  if (tid != main.pid || main.done) return ok();
  main.done = true;
  main.status = ExitStatus::from_wait_status(status);
  // A graceful end() leaves the rest to its grace period; a kept tree lives on.
  if (!ending_.load() && !on_main_exit_) table_.kill_all();
  if (!main.execd) {
    Error e = launcher.child_error();
    if (!e.message.empty()) {
      e.message = fmt::format("cannot run '{}': {}", spec.argv[0], e.message);
      return e;
    }
  }
  if (on_main_exit_) on_main_exit_(main.status);
  return ok();
}

// The run is over: end() has nothing left to end, and its timer is joined.
void TraceChannel::finish() {
  main_pid_ = 0;
  {
    std::lock_guard lock(end_mu_);
    finished_ = true;
  }
  end_cv_.notify_all();
  if (end_timer_.joinable()) end_timer_.join();
}

void TraceChannel::end(std::chrono::milliseconds grace) {
  if (ending_.exchange(true)) return;
  // SIGTERM once per process (not per thread), then SIGKILL for whatever is left after `grace`.
  std::vector<pid_t> processes;
  for (pid_t t : table_.tids())
    if (thread_group_of(t) == t && traced_by_this_process(t)) processes.push_back(t);
  std::lock_guard timer_lock(end_mu_);
  if (finished_) return;  // run() is past its loop: nothing is left to end, nor to join a timer
  for (pid_t p : processes) kill(p, SIGTERM);
  end_timer_ = std::thread([this, grace] {
    std::unique_lock lock(end_mu_);
    if (end_cv_.wait_for(lock, grace, [this] { return finished_; })) return;
    lock.unlock();
    table_.kill_all();
  });
}

void TraceChannel::handle_stop(pid_t tid, int status) {
  int sig = WSTOPSIG(status);
  int event = status >> 16;
  table_.add_seen(tid);  // a new child's first stop can arrive before its parent's fork event
  bool handler_ran = signalled_.erase(tid) > 0;  // the last stop delivered it a signal
  switch (event) {
    case PTRACE_EVENT_SECCOMP:
      handle_seccomp_stop(tid);
      return;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE: {
      unsigned long child = 0;
      if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) == 0 && child != 0)
        table_.set_parent(static_cast<pid_t>(child), tid);
      resume(tid);
      return;
    }
    case PTRACE_EVENT_EXEC:
      handle_exec(tid);
      return;
    case PTRACE_EVENT_STOP:
      if (is_stopping_signal(sig)) {
        ptrace(PTRACE_LISTEN, tid, 0, 0);  // group-stop: stay stopped until SIGCONT
      } else {
        resume(tid);  // a new tracee's first stop, or an interrupt
      }
      return;
    case 0:
      if (sig == (SIGTRAP | 0x80)) {
        check_return(tid);  // the exit of a rewritten call whose result a plugin checks; else stray
        resume(tid);
      } else {
        // signal-delivery-stop: what the guest ignores is dropped, as natively (ignored_signals.h)
        SignalDecision d = ignored_.at_stop(tid, sig, handler_ran);
        if (d.deliver != 0) signalled_.insert(tid);
        resume(tid, d.deliver);
      }
      return;
    default:
      resume(tid);
      return;
  }
}

void TraceChannel::check_return(pid_t tid) {
  auto it = returns_.find(tid);
  if (it == returns_.end()) return;
  sdk::SyscallContext::ReturnCheck check = std::move(it->second);
  returns_.erase(it);
  user_regs_struct regs;
  // Not what the plugin resolved (or unknown): the thread dies before it runs again.
  if (ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0 || !check(tid, static_cast<long>(regs.rax)))
    syscall(SYS_tgkill, table_.tgid_of(tid), tid, SIGKILL);
}

void TraceChannel::handle_exec(pid_t tid) {
  unsigned long former = 0;
  if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &former) != 0) former = static_cast<unsigned long>(tid);
  // A rewritten exec whose result a plugin checks: checked here, where the new image is in place
  // and has not run (no syscall-exit stop follows from this stop). A check the leader had
  // pending died with it when another thread exec'd.
  if (auto it = returns_.find(static_cast<pid_t>(former)); it != returns_.end()) {
    sdk::SyscallContext::ReturnCheck check = std::move(it->second);
    returns_.erase(it);
    returns_.erase(tid);
    if (!check(tid, 0)) syscall(SYS_tgkill, tid, tid, SIGKILL);
  }
  if (static_cast<pid_t>(former) != tid) {
    // A non-leader thread exec'd: it now has the leader's id, and its old id is gone.
    table_.remove(static_cast<pid_t>(former), 0);
  }
  if (sink_) sink_->on_exec(tid);
  if (!plugins_.empty()) {
    // The new image is in place and stopped: plugins may adjust it (e.g. AT_EXECFN).
    user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0) {
      TraceContext ctx(tid, table_.tgid_of(tid), regs, instance_);
      for (auto* p : plugins_) p->on_exec(ctx);
    }
  }
  resume(tid);
}

void TraceChannel::handle_seccomp_stop(pid_t tid) {
  user_regs_struct regs;
  if (ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0) {
    resume(tid);
    return;
  }
  int nr = static_cast<int>(regs.orig_rax);
  const DispatchEntry& entry = dispatch_.at(nr);
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
  TraceContext ctx(tid, table_.tgid_of(tid), regs, instance_);
  sdk::SyscallResult result = entry.plugin->handle(ctx);
  using K = sdk::SyscallResult::Kind;
  switch (result.kind()) {
    case K::kContinue:
      break;
    case K::kRewritten:
      if (ctx.dirty()) ptrace(PTRACE_SETREGS, tid, 0, &regs);
      if (auto check = ctx.take_return_check()) returns_[tid] = std::move(check);
      break;
    case K::kValue:
    case K::kError:
    case K::kResponded:
      regs.orig_rax = static_cast<unsigned long long>(-1);  // skip the call ...
      regs.rax = static_cast<unsigned long long>(result.guest_return());  // ... returning this
      ptrace(PTRACE_SETREGS, tid, 0, &regs);
      break;
  }
  // From a seccomp stop, PTRACE_SYSCALL stops next at this call's exit, for check_return().
  if (returns_.count(tid)) ptrace(PTRACE_SYSCALL, tid, 0, 0);
  else resume(tid);
  if (sink_) {
    ev.result = result;
    sink_->on_syscall(ev);
  }
}

}  // namespace lx::driver
