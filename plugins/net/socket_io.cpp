// On-behalf socket I/O for the net family (see socket_io.h).
#include "socket_io.h"
#include "base/acting_as.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <lxhost/syscall_table.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "base/proc_status.h"

namespace lx::net {

int open_pidfd(pid_t pid) noexcept {
  int fd = static_cast<int>(syscall(sdk::sys::pidfd_open, pid, 0));
  return fd < 0 ? -errno : fd;
}

int take_guest_fd(int pidfd, int fd) noexcept {
  if (fd < 0) return -EBADF;
  ActingAs::AsLx lx;  // lx takes the guest's socket, whoever the guest is now
  int s = static_cast<int>(syscall(sdk::sys::pidfd_getfd, pidfd, fd, 0));
  return s < 0 ? -errno : s;
}

bool signal_pending(pid_t tid) noexcept {
  try {
    auto status = ProcStatus::read(tid);
    if (!status) return false;
    auto blocked = status->sig_blocked();
    if (!blocked) return false;
    std::uint64_t pending = status->sig_pending().value_or(0);
    if (status->threads().value_or(0) == 1) pending |= status->shared_pending().value_or(0);
    return (pending & ~*blocked) != 0;
  } catch (...) {
    return false;
  }
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

int wait_errno(WaitEnd w, int timeout_ms) noexcept {
  switch (w) {
    case WaitEnd::kTimeout: return EAGAIN;
    case WaitEnd::kGone: return EINTR;  // nobody sees it
    case WaitEnd::kSignal: return timeout_ms >= 0 ? EINTR : kRestartSys;  // as sock_intr_errno()
    case WaitEnd::kReady: break;
  }
  return 0;
}

WaitEnd SocketWait::wait() noexcept {
  if (!told_) ctx_.will_block();
  told_ = true;
  return wait_socket(ctx_, fd_, events_, timeout_ms_);
}

WaitEnd SocketWait::after_refusal() noexcept {
  if (!spun_) {
    spun_ = true;
    return wait();
  }
  // Ready by poll yet refused again (another reader was first; an unconnected datagram socket's
  // receiver is full): look again shortly, less often the longer it lasts.
  usleep(static_cast<useconds_t>(pause_us_));
  pause_us_ = std::min(pause_us_ * 2, pause_.max_us);
  if (!ctx_.still_valid()) return WaitEnd::kGone;
  if (signal_pending(ctx_.tid())) return WaitEnd::kSignal;
  return pause_.then_poll ? wait() : WaitEnd::kReady;
}

namespace {

// The most fds one message carries (SCM_MAX_FD).
constexpr std::size_t kMaxRights = 253;

bool one_of(unsigned v, const ProcIds& ids) { return v == ids.real || v == ids.effective || v == ids.saved; }

// Swaps the `n` guest fds at `data` for ours (kept open in `taken`): 0 or an errno.
int adopt_rights(int pidfd, char* data, std::size_t n, std::vector<UniqueFd>& taken) {
  if (taken.size() + n > kMaxRights) return EINVAL;  // the kernel's SCM_MAX_FD, over all headers
  for (std::size_t i = 0; i < n; ++i) {
    int guest;
    std::memcpy(&guest, data + i * sizeof(int), sizeof guest);
    int ours = take_guest_fd(pidfd, guest);
    if (ours < 0) return ours == -EBADF || ours == -EINVAL ? EBADF : -ours;
    taken.emplace_back(ours);
    std::memcpy(data + i * sizeof(int), &ours, sizeof ours);
  }
  return 0;
}

// Checks the credentials `cr` a guest process `pid` sends: its own pid, uids and gids (EPERM).
int check_credentials(pid_t pid, const ucred& cr) {
  auto status = ProcStatus::read(pid);
  if (!status) return ESRCH;
  auto uids = status->uid();
  auto gids = status->gid();
  if (!uids || !gids) return ESRCH;
  if (cr.pid != pid || !one_of(cr.uid, *uids) || !one_of(cr.gid, *gids)) return EPERM;
  return 0;
}

}  // namespace

int adopt_control(sdk::SyscallContext& ctx, int pidfd, std::vector<char>& control,
                  std::vector<UniqueFd>& taken) noexcept {
  try {
    // The kernel's for_each_cmsghdr and CMSG_OK (net/core/scm.c, include/linux/socket.h).
    std::size_t len = control.size();
    std::size_t off = 0;
    while (len - off >= sizeof(cmsghdr)) {
      cmsghdr h;
      std::memcpy(&h, control.data() + off, sizeof h);
      if (h.cmsg_len < sizeof(cmsghdr) || h.cmsg_len > len - off) return EINVAL;
      char* data = control.data() + off + CMSG_LEN(0);
      if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
        if (int e = adopt_rights(pidfd, data, (h.cmsg_len - CMSG_LEN(0)) / sizeof(int), taken); e != 0) return e;
      } else if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_CREDENTIALS) {
        if (h.cmsg_len != CMSG_LEN(sizeof(ucred))) return EINVAL;
        ucred cr;
        std::memcpy(&cr, data, sizeof cr);
        if (int e = check_credentials(ctx.pid(), cr); e != 0) return e;
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
