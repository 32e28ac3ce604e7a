// Address translation between guest and host terms (see translate.h).
#include "translate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <utility>

#include <lxhost/syscall_table.h>

#include "guest_view.h"

namespace lx::net {
namespace {

constexpr std::size_t kPathAt = offsetof(sockaddr_un, sun_path);

// Names `path` (shorter than sun_path) in AF_UNIX address `a`.
void set_path(Address& a, const std::string& path) {
  std::memset(a.un()->sun_path, 0, sizeof a.un()->sun_path);
  std::memcpy(a.un()->sun_path, path.data(), path.size());
  a.len = static_cast<socklen_t>(kPathAt + path.size() + 1);
}

// The path an AF_UNIX address names, or "" when unnamed or abstract (the same on the host).
std::string named_path(Address& a) {
  if (a.len <= kPathAt || a.un()->sun_path[0] == '\0') return {};
  std::size_t max = std::min<std::size_t>(a.len - kPathAt, sizeof a.un()->sun_path);
  return std::string(a.un()->sun_path, strnlen(a.un()->sun_path, max));
}

// Pins socket `fd` (O_PATH) as the destination of `a`, named through /proc/self/fd: 0, or
// ECONNREFUSED when it is not a socket.
int pin_fd(UniqueFd fd, Address& a) {
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return errno;
  if (!S_ISSOCK(st.st_mode)) return ECONNREFUSED;
  char self[64];
  std::snprintf(self, sizeof self, "/proc/self/fd/%d", fd.get());
  a.pin = std::move(fd);
  set_path(a, self);
  return 0;
}

// The kernel backend: the path resolved as the guest sees it, a destination pinned, a name to
// bind split into its directory (a.dir) and its last component.
int in_guest_view(sdk::SyscallContext& c, Address& a, const std::string& guest, Use use) {
  if (use == Use::kDestination) {
    int fd = open_in_guest_view(c.tid(), guest, O_PATH);
    if (fd < 0) return -fd;
    return pin_fd(UniqueFd(fd), a);
  }
  std::size_t slash = guest.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : guest.substr(0, slash);
  std::string name = slash == std::string::npos ? guest : guest.substr(slash + 1);
  if (name.empty()) return ENOENT;  // "dir/": no name to create, as natively
  int fd = open_in_guest_view(c.tid(), dir, O_PATH | O_DIRECTORY);
  if (fd < 0) return -fd;
  a.dir = UniqueFd(fd);
  set_path(a, name);
  return 0;
}

int translate_path(const NetState& state, sdk::SyscallContext& c, Address& a, Use use) {
  std::string guest = named_path(a);
  if (!guest.empty() && state.kernel) return in_guest_view(c, a, guest, use);
  if (guest.empty() || !state.paths) return 0;
  a.guest_path = guest;
  std::string host;
  if (use == Use::kDestination) {
    if (int e = state.paths->host_path(c.tid(), AT_FDCWD, guest, true, host); e != 0) return e;
    return pin_destination(host, a);
  }
  // A name to bind: its directory, resolved and held (walked with no symlink: its host path is
  // the canonical one), and its last component (bound_names.h). EADDRINUSE comes from the bind.
  std::size_t slash = guest.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : guest.substr(0, slash);
  std::string name = slash == std::string::npos ? guest : guest.substr(slash + 1);
  if (name.empty()) return ENOENT;  // "dir/": no name to create, as natively
  if (int e = state.paths->host_path(c.tid(), AT_FDCWD, dir, true, host); e != 0) return e;
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS;
  a.dir = UniqueFd(static_cast<int>(syscall(sdk::sys::openat2, AT_FDCWD, host.c_str(), &how, sizeof how)));
  if (!a.dir) return errno == ELOOP ? ENOENT : errno;  // swapped for a symlink meanwhile
  set_path(a, name);
  return 0;
}

}  // namespace

int pin_destination(const std::string& host, Address& a) {
  int fd = open(host.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  a.pin = UniqueFd(fd);
  char self[64];
  std::snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
  char buf[PATH_MAX + 1];
  ssize_t n = readlink(self, buf, PATH_MAX);
  if (n < 0 || std::string(buf, static_cast<std::size_t>(n)) != host) return ENOENT;  // moved under us
  return pin_fd(std::move(a.pin), a);
}

int translate(const NetState& state, sdk::SyscallContext& c, Address& a, Use use) {
  if (a.ss.ss_family == AF_UNIX) return translate_path(state, c, a, use);
  if (a.ss.ss_family != AF_INET && a.ss.ss_family != AF_INET6) return 0;
  if (state.loopback_only && !is_loopback(a.ss)) {
    if (!(use == Use::kBind && is_any(a.ss))) return EACCES;
    // Listening on every interface becomes listening on loopback.
    if (a.ss.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&a.ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else reinterpret_cast<sockaddr_in6*>(&a.ss)->sin6_addr = in6addr_loopback;
  }
  if (in_port_t* p = port_of(a.ss); p && (use == Use::kBind || is_loopback(a.ss))) {
    auto it = state.ports.find(ntohs(*p));
    if (it != state.ports.end()) *p = htons(it->second);
  }
  return 0;
}

void to_guest(const NetState& state, Address& a, End end) {
  if (in_port_t* p = port_of(a.ss)) {
    for (const auto& [g, h] : state.ports)
      if (ntohs(*p) == h && (end == End::kLocal || is_loopback(a.ss))) {
        *p = htons(g);
        break;
      }
    return;
  }
  if (a.ss.ss_family != AF_UNIX || !state.paths) return;
  std::string host = named_path(a);
  if (host.empty()) return;
  bool ours = false;
  std::string guest = state.bound->guest_name(host, &ours);  // bound through lx's fd (or forgotten)
  if (guest.empty() && !ours) guest = state.paths->guest_path(host);
  if (guest.empty() || guest.size() >= sizeof a.un()->sun_path) {
    std::memset(a.un()->sun_path, 0, sizeof a.un()->sun_path);
    a.len = kPathAt;  // unnamed: never a host path
    return;
  }
  set_path(a, guest);
}

}  // namespace lx::net
