// ProcessTable: the followed threads, their creators, and the processes /proc shows for them.
#include "driver/process_table.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>

#include "base/proc_status.h"
#include "driver/syscall_context_impl.h"

namespace lx::driver {
namespace {

// The tracee that created `tid`, for a new tracee whose first stop came before its creator's
// clone/fork event: its thread group leader for a thread, else its parent process (0 when
// unknown). Plugins inherit per-process state (credentials) from it.
pid_t creator_of(pid_t tid) noexcept {
  auto status = ProcStatus::read(tid);
  if (!status.ok()) return 0;
  pid_t tgid = status->tgid().value_or(tid);
  return tgid != tid ? tgid : status->ppid().value_or(0);
}

// Fills `p`'s command line and state from /proc/<pid>/cmdline and /proc/<pid>/stat.
void read_process(ProcessInfo& p) {
  std::string base = "/proc/" + std::to_string(p.pid);
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

}  // namespace

bool traced_by_this_process(pid_t tid) noexcept {
  auto status = ProcStatus::read(tid);
  if (!status.ok()) return false;
  pid_t tracer = status->tracer_pid().value_or(0);  // the tracing thread's id
  return tracer > 0 && access(("/proc/self/task/" + std::to_string(tracer)).c_str(), F_OK) == 0;
}

void ProcessTable::add(pid_t tid, pid_t parent) {
  {
    std::lock_guard lock(mu_);
    tracees_[tid] = Tracee{tid, 0, parent};
    live_.store(static_cast<int>(tracees_.size()), std::memory_order_relaxed);
  }
  for (auto* p : plugins_) p->on_process_start(tid, parent);
  if (sink_) sink_->on_process_start(tid, parent);
}

void ProcessTable::add_seen(pid_t tid) {
  {
    std::lock_guard lock(mu_);
    if (tracees_.count(tid)) return;
  }
  pid_t creator = creator_of(tid);
  {
    std::lock_guard lock(mu_);
    if (!tracees_.count(creator)) creator = 0;
  }
  add(tid, creator);
}

void ProcessTable::set_parent(pid_t child, pid_t parent) {
  {
    std::lock_guard lock(mu_);
    if (auto it = tracees_.find(child); it != tracees_.end()) {
      it->second.parent = parent;
      return;
    }
  }
  // A child that ended (and was reaped) before its creator's event came is not added back: its
  // number may be another process's by now, which kill_all() and the plugins' members would reach.
  if (traced_by_this_process(child)) add(child, parent);
}

void ProcessTable::remove(pid_t tid, int status) {
  {
    std::lock_guard lock(mu_);
    if (tracees_.erase(tid) == 0) return;
    live_.store(static_cast<int>(tracees_.size()), std::memory_order_relaxed);
  }
  for (auto* p : plugins_) p->on_process_exit(tid);
  if (sink_) sink_->on_process_exit(tid, status);
}

pid_t ProcessTable::tgid_of(pid_t tid) {
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

bool ProcessTable::empty() const {
  std::lock_guard lock(mu_);
  return tracees_.empty();
}

std::vector<pid_t> ProcessTable::tids() const {
  std::lock_guard lock(mu_);
  std::vector<pid_t> out;
  out.reserve(tracees_.size());
  for (const auto& [tid, t] : tracees_) out.push_back(tid);
  return out;
}

std::vector<Tracee> ProcessTable::tracees() const {
  std::lock_guard lock(mu_);
  std::vector<Tracee> out;
  out.reserve(tracees_.size());
  for (const auto& [tid, t] : tracees_) out.push_back(t);
  return out;
}

std::vector<ProcessInfo> ProcessTable::processes() const {
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
    read_process(p);
  }
  // A thread created before its leader was seen: fix the parent from the leader's entry.
  for (const auto& t : threads)
    if (auto it = by_pid.find(t.tid); it != by_pid.end() && t.parent) it->second.parent = t.parent;
  std::vector<ProcessInfo> out;
  for (auto& [pid, p] : by_pid) out.push_back(std::move(p));
  return out;
}

void ProcessTable::kill_all() const noexcept {
  for (pid_t t : tids())
    if (traced_by_this_process(t)) kill(t, SIGKILL);
}

}  // namespace lx::driver
