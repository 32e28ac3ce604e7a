// On-behalf socket I/O for the net family (see socket_io.h).
#include "socket_io.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>

namespace lx::net {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

int open_pidfd(pid_t pid) noexcept {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  return fd < 0 ? -errno : fd;
}

int take_guest_fd(int pidfd, int fd) noexcept {
  if (fd < 0) return -EBADF;
  int s = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  return s < 0 ? -errno : s;
}

namespace {

// The status lines of /proc/<tid>/status this module needs.
struct TaskSignals {
  std::uint64_t thread_pending = 0;
  std::uint64_t shared_pending = 0;
  std::uint64_t blocked = 0;
  int threads = 0;
  bool ok = false;
};

TaskSignals read_task_signals(pid_t tid) noexcept {
  TaskSignals t;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", tid);
  FILE* f = std::fopen(path, "re");
  if (!f) return t;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "Threads:", 8) == 0) t.threads = std::atoi(line + 8);
    else if (std::strncmp(line, "SigPnd:", 7) == 0) t.thread_pending = std::strtoull(line + 7, nullptr, 16);
    else if (std::strncmp(line, "ShdPnd:", 7) == 0) t.shared_pending = std::strtoull(line + 7, nullptr, 16);
    else if (std::strncmp(line, "SigBlk:", 7) == 0) {
      t.blocked = std::strtoull(line + 7, nullptr, 16);
      t.ok = true;
    }
  }
  std::fclose(f);
  return t;
}

}  // namespace

bool signal_pending(pid_t tid) noexcept {
  TaskSignals t = read_task_signals(tid);
  if (!t.ok) return false;
  std::uint64_t pending = t.thread_pending | (t.threads == 1 ? t.shared_pending : 0);
  return (pending & ~t.blocked) != 0;
}

WaitEnd wait_socket(sdk::SyscallContext& ctx, int fd, short events, int timeout_ms) noexcept {
  // The guest waits killably for our answer: its signals stay pending until we answer, so look
  // for them (and for its death) between short polls.
  constexpr int kSlice = 50;
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    int slice = kSlice;
    if (timeout_ms >= 0) {
      auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
      if (spent.count() >= timeout_ms) return WaitEnd::kTimeout;
      slice = static_cast<int>(std::min<long long>(kSlice, timeout_ms - spent.count()));
    }
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, slice);
    if (n > 0) return WaitEnd::kReady;  // ready, or an error/hang-up the call itself reports
    if (n < 0 && errno != EINTR) return WaitEnd::kReady;
    if (!ctx.still_valid()) return WaitEnd::kGone;
    if (signal_pending(ctx.tid())) return WaitEnd::kSignal;
  }
}

int socket_timeout_ms(int fd, int optname) noexcept {
  timeval tv{};
  socklen_t l = sizeof tv;
  if (getsockopt(fd, SOL_SOCKET, optname, &tv, &l) != 0) return -1;
  if (tv.tv_sec == 0 && tv.tv_usec == 0) return -1;
  long long ms = static_cast<long long>(tv.tv_sec) * 1000 + (tv.tv_usec + 999) / 1000;
  return static_cast<int>(std::min<long long>(ms, INT_MAX));
}

namespace {

// Reads "Uid:"/"Gid:" (real, effective, saved, fs) of guest process `pid`.
bool guest_ids(pid_t pid, const char* key, unsigned ids[4]) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE* f = std::fopen(path, "re");
  if (!f) return false;
  char line[256];
  bool found = false;
  std::size_t klen = std::strlen(key);
  while (!found && std::fgets(line, sizeof line, f))
    if (std::strncmp(line, key, klen) == 0)
      found = std::sscanf(line + klen, "%u %u %u %u", &ids[0], &ids[1], &ids[2], &ids[3]) == 4;
  std::fclose(f);
  return found;
}

// The most fds one message carries (SCM_MAX_FD).
constexpr std::size_t kMaxRights = 253;

bool one_of(unsigned v, const unsigned ids[4]) { return v == ids[0] || v == ids[1] || v == ids[2]; }

}  // namespace

int adopt_control(sdk::SyscallContext& ctx, int pidfd, std::vector<char>& control, std::vector<Fd>& taken) noexcept {
  try {
    // The kernel's for_each_cmsghdr and CMSG_OK (net/core/scm.c, include/linux/socket.h).
    std::size_t len = control.size();
    std::size_t off = 0;
    while (len - off >= sizeof(cmsghdr)) {
      cmsghdr h;
      std::memcpy(&h, control.data() + off, sizeof h);
      if (h.cmsg_len < sizeof(cmsghdr) || h.cmsg_len > len - off) return EINVAL;
      if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
        std::size_t n = (h.cmsg_len - CMSG_LEN(0)) / sizeof(int);
        if (taken.size() + n > kMaxRights) return EINVAL;  // the kernel's SCM_MAX_FD, over all headers
        char* data = control.data() + off + CMSG_LEN(0);
        for (std::size_t i = 0; i < n; ++i) {
          int guest;
          std::memcpy(&guest, data + i * sizeof(int), sizeof guest);
          int ours = take_guest_fd(pidfd, guest);
          if (ours < 0) return ours == -EBADF || ours == -EINVAL ? EBADF : -ours;
          taken.emplace_back(ours);
          std::memcpy(data + i * sizeof(int), &ours, sizeof ours);
        }
      } else if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_CREDENTIALS) {
        if (h.cmsg_len != CMSG_LEN(sizeof(ucred))) return EINVAL;
        ucred cr;
        std::memcpy(&cr, control.data() + off + CMSG_LEN(0), sizeof cr);
        unsigned uids[4], gids[4];
        if (!guest_ids(ctx.pid(), "Uid:", uids) || !guest_ids(ctx.pid(), "Gid:", gids)) return ESRCH;
        if (cr.pid != ctx.pid() || !one_of(cr.uid, uids) || !one_of(cr.gid, gids)) return EPERM;
      }
      off += CMSG_ALIGN(h.cmsg_len);
      if (off > len) break;
    }
    return 0;
  } catch (...) {
    return ENOMEM;
  }
}

}  // namespace lx::net
