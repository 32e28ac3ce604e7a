// Members: the instance's guest threads and the group, uid and pidfd questions about them.
#include "members.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/proc_status.h"

namespace lx::signal {
namespace {

// The process group of process `pid` from /proc/<pid>/stat (field 5), or -1.
pid_t stat_pgid(const char* pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%s/stat", pid);
  FILE* f = std::fopen(path, "re");
  if (!f) return -1;
  char buf[512];
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name may hold spaces and parentheses: the fields follow the last ')'.
  const char* p = std::strrchr(buf, ')');
  int pgid = -1;
  char state = 0;
  int ppid = 0;
  if (!p || std::sscanf(p + 1, " %c %d %d", &state, &ppid, &pgid) != 3) return -1;
  return pgid;
}

// The thread group id of thread `tid`, or -1 once it is gone.
pid_t tgid(pid_t tid) {
  auto status = ProcStatus::read(tid);
  return status ? status->tgid().value_or(-1) : -1;
}

}  // namespace

void Members::add(pid_t tid, bool launch) {
  if (launch) launching_.add(tid);
  tids_.add(tid);
}

void Members::launched(pid_t pid) noexcept { launching_.remove(pid); }

void Members::remove(pid_t tid) noexcept {
  tids_.remove(tid);
  launching_.remove(tid);
}

bool Members::contains(pid_t tid) const { return tids_.contains(tid) && !launching_.contains(tid); }

std::vector<pid_t> Members::snapshot() const { return tids_.snapshot(); }

std::vector<pid_t> Members::processes(pid_t pgid) const {
  std::vector<pid_t> out;
  for (pid_t t : snapshot()) {
    // A process is a member whose tid is its own thread group id.
    if (tgid(t) != t) continue;
    pid_t g = getpgid(t);
    if (g < 0 || (pgid > 0 && g != pgid)) continue;
    out.push_back(t);
  }
  return out;
}

std::vector<pid_t> Members::threads_in_group(pid_t pgid) const {
  std::vector<pid_t> out;
  for (pid_t t : snapshot())
    if (getpgid(t) == pgid) out.push_back(t);
  return out;
}

std::vector<pid_t> Members::threads_of_uid(uid_t uid) const {
  std::vector<pid_t> out;
  for (pid_t t : snapshot())
    if (real_uid(t) == uid) out.push_back(t);
  return out;
}

bool Members::group_has_member(pid_t pgid) const {
  if (pgid <= 0) return false;
  for (pid_t t : snapshot())
    if (getpgid(t) == pgid) return true;
  return false;
}

bool Members::group_inside(pid_t pgid) const {
  if (!group_has_member(pgid)) return false;
  DIR* d = opendir("/proc");
  if (!d) return false;
  bool inside = true;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    if (stat_pgid(e->d_name) != pgid) continue;
    if (!contains(static_cast<pid_t>(std::atoi(e->d_name)))) {
      inside = false;
      break;
    }
  }
  closedir(d);
  return inside;
}

void Members::add_launch_group(pid_t pgid) { launch_groups_.add(pgid); }

bool Members::is_launch_group(pid_t pgid) const { return launch_groups_.contains(pgid); }

std::optional<pid_t> pidfd_target(pid_t tid, int fd) {
  if (fd < 0) return std::nullopt;
  std::string base = "/proc/" + std::to_string(tid) + "/fd";
  FILE* f = std::fopen(("/proc/" + std::to_string(tid) + "/fdinfo/" + std::to_string(fd)).c_str(), "re");
  if (!f) return std::nullopt;
  char line[128];
  std::optional<pid_t> pid;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "Pid:", 4) == 0) {
      pid = static_cast<pid_t>(std::atoi(line + 4));
      break;
    }
  std::fclose(f);
  if (pid) return pid;
  // pidfd_send_signal also takes a /proc/<pid> directory.
  char target[64];
  ssize_t n = readlink((base + "/" + std::to_string(fd)).c_str(), target, sizeof target - 1);
  if (n <= 0) return std::nullopt;
  target[n] = '\0';
  if (std::strncmp(target, "/proc/", 6) != 0) return std::nullopt;
  char* end = nullptr;
  long v = std::strtol(target + 6, &end, 10);
  if (end == target + 6 || *end != '\0' || v <= 0) return std::nullopt;
  return static_cast<pid_t>(v);
}

std::optional<uid_t> real_uid(pid_t tid) {
  auto status = ProcStatus::read(tid);
  if (!status) return std::nullopt;
  auto ids = status->uid();
  return ids ? std::optional<uid_t>(ids->real) : std::nullopt;
}

}  // namespace lx::signal
