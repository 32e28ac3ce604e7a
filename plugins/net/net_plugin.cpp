// The networking family plugin: address-family policy compiled into the BPF filter, a
// loopback-only policy decided on the sockaddr the guest passed, guest→host port mapping, and
// AF_UNIX socket paths translated into the guest root through the fs family's PathResolver.
// Once any of these is on, every call that carries an address to the kernel (bind, connect,
// sendto, sendmsg, sendmmsg) is done on behalf of the guest on its own socket with the address
// read once, checked and translated (never continued natively: the guest could rewrite the
// address or swap the fd before the kernel reads it); calls that return an address (recvfrom,
// recvmsg, recvmmsg, accept, accept4, getsockname, getpeername) give it in guest terms.
// With the default config it asks for no syscalls on the NOTIFY or TRACE routes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include <lxhost/interfaces.h>
#include <lxhost/plugin.h>

#include "socket_io.h"

namespace lx::net {
namespace {

using sdk::ArgCondition;
using sdk::ArgRule;
using sdk::Route;
using sdk::Support;
using sdk::SyscallContext;
using sdk::SyscallResult;

SyscallResult fail(int e) { return SyscallResult::error(e); }

// The largest message copied whole (a datagram; a stream's MSG_WAITALL receive).
constexpr std::size_t kMaxMessage = 8u << 20;
// Stream data is sent in rounds of this much.
constexpr std::size_t kChunk = 1u << 20;
// The most control data one message carries (the kernel's optmem_max is 20 KiB to 128 KiB).
constexpr std::size_t kMaxControl = 128u << 10;
// The kernel's MSG_CMSG_COMPAT: refused from a 64-bit caller.
constexpr int kMsgCmsgCompat = 0x80000000;
// The kernel's MAX_RW_COUNT: no call moves more bytes.
constexpr std::size_t kMaxRw = INT_MAX & ~std::size_t{4095};

bool is_loopback(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return in6->sin6_addr.s6_addr[12] == 127;
    return false;
  }
  return true;  // other families are not IP
}

bool is_any(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr == htonl(INADDR_ANY);
  if (ss.ss_family == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr);
  return false;
}

in_port_t* port_of(sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return &reinterpret_cast<sockaddr_in*>(&ss)->sin_port;
  if (ss.ss_family == AF_INET6) return &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port;
  return nullptr;
}

// A socket address read once from the guest (or received for it), and, for a translated AF_UNIX
// destination, the O_PATH fd of the socket it names.
struct Address {
  sockaddr_storage ss{};
  socklen_t len = 0;
  Fd pin;
  sockaddr* sa() { return reinterpret_cast<sockaddr*>(&ss); }
  sockaddr_un* un() { return reinterpret_cast<sockaddr_un*>(&ss); }
};

// The guest's socket for one call: an fd of ours on the same open file, and what it is.
struct GuestSocket {
  Fd pidfd;
  Fd fd;
  int domain = 0;
  int type = 0;
  bool nonblocking = false;
};

// Opens the guest's socket `guest_fd`: 0, or EBADF/ENOTSOCK as the native call would fail.
int open_socket(SyscallContext& c, std::uint64_t guest_fd, GuestSocket& s) {
  int p = open_pidfd(c.pid());
  if (p < 0) return -p;
  s.pidfd = Fd(p);
  int f = take_guest_fd(p, static_cast<int>(static_cast<std::uint32_t>(guest_fd)));  // an int argument
  if (f < 0) return f == -EINVAL ? EBADF : -f;
  s.fd = Fd(f);
  socklen_t l = sizeof s.domain;
  if (getsockopt(f, SOL_SOCKET, SO_DOMAIN, &s.domain, &l) != 0) return errno;  // ENOTSOCK
  l = sizeof s.type;
  if (getsockopt(f, SOL_SOCKET, SO_TYPE, &s.type, &l) != 0) return errno;
  int fl = fcntl(f, F_GETFL);
  s.nonblocking = fl >= 0 && (fl & O_NONBLOCK);
  return 0;
}

// Copies `len` bytes of the guest buffers `iov`, from byte `offset` on, into `out`.
int gather(SyscallContext& c, const std::vector<iovec>& iov, std::size_t offset, char* out, std::size_t len) {
  for (const auto& v : iov) {
    if (len == 0) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    std::size_t n = std::min(len, v.iov_len - offset);
    if (int e = c.read_memory(reinterpret_cast<std::uint64_t>(v.iov_base) + offset, out, n); e != 0) return e;
    out += n;
    len -= n;
    offset = 0;
  }
  return 0;
}

// Copies `len` bytes from `in` into the guest buffers `iov`.
int scatter(SyscallContext& c, const std::vector<iovec>& iov, const char* in, std::size_t len) {
  for (const auto& v : iov) {
    if (len == 0) break;
    std::size_t n = std::min(len, v.iov_len);
    if (n && c.write_memory(reinterpret_cast<std::uint64_t>(v.iov_base), in, n) != 0) return EFAULT;
    in += n;
    len -= n;
  }
  return 0;
}

// Reads the guest's iovec array: EMSGSIZE past UIO_MAXIOV, EINVAL for a negative length.
int read_iov(SyscallContext& c, const void* base, std::size_t count, std::vector<iovec>& iov, std::size_t& total) {
  if (count > UIO_MAXIOV) return EMSGSIZE;
  iov.resize(count);
  if (count && c.read_memory(reinterpret_cast<std::uint64_t>(base), iov.data(), count * sizeof(iovec)) != 0)
    return EFAULT;
  total = 0;
  for (auto& v : iov) {
    if (static_cast<ssize_t>(v.iov_len) < 0) return EINVAL;
    v.iov_len = std::min(v.iov_len, kMaxRw - total);  // as the kernel clamps
    total += v.iov_len;
  }
  return 0;
}

// How a wait on behalf of the guest ended, as the errno of a call that moved nothing.
int wait_errno(WaitEnd w, int timeout_ms) {
  switch (w) {
    case WaitEnd::kTimeout: return EAGAIN;
    case WaitEnd::kGone: return EINTR;  // nobody sees it
    case WaitEnd::kSignal: return timeout_ms >= 0 ? EINTR : kRestartSys;  // as sock_intr_errno()
    case WaitEnd::kReady: break;
  }
  return 0;
}

// One message a guest sends, read once from its memory: the destination (checked and
// translated), its buffers, and its control data with our copies of the fds it carries.
struct OutMessage {
  Address name;
  bool named = false;
  std::vector<iovec> iov;
  std::size_t total = 0;
  std::vector<char> control;
  std::vector<Fd> rights;
};

class NetPlugin final : public sdk::PluginBase {
 public:
  sdk::PluginInfo info() const noexcept override {
    return {"net", "0.1.0", "net", "address-family and port policy, AF_UNIX paths in the guest root", "net"};
  }

  std::vector<sdk::ConfigKey> config_keys() const noexcept override {
    using T = sdk::ConfigType;
    return {{"allow_domains", T::kStringArray, "socket domains allowed: unix, inet, inet6, netlink, packet (default all)"},
            {"bind", T::kString, "\"any\" or \"loopback\": only 127.0.0.0/8 and ::1 for bind/connect/sendto"},
            {"port_map", T::kTableArray, "[[net.port_map]] guest = 80, host = 8080"}};
  }

  std::string configure(const sdk::PluginConfig& cfg) noexcept override {
    try {
      clear_syscalls();
      domains_rules_.clear();
      ports_.clear();
      if (auto domains = cfg.get_string_list("allow_domains")) {
        for (const auto& d : *domains) {
          int af = d == "unix" ? AF_UNIX : d == "inet" ? AF_INET : d == "inet6" ? AF_INET6 : d == "netlink" ? AF_NETLINK
                 : d == "packet" ? AF_PACKET : -1;
          if (af < 0) return "allow_domains: unknown domain '" + d + "' (unix, inet, inet6, netlink, packet) (" +
                             cfg.where("allow_domains") + ")";
          domains_rules_.push_back(ArgRule{{ArgCondition{0, ArgCondition::Op::kEq, static_cast<std::uint64_t>(af)}},
                                           Route::kAllow, 0});
        }
        restrict_domains_ = true;
      } else {
        restrict_domains_ = false;
      }
      std::string bind = cfg.get_string("bind").value_or("any");
      if (bind != "any" && bind != "loopback") return "bind must be \"any\" or \"loopback\", not '" + bind + "'";
      loopback_ = bind == "loopback";
      toml::table t = toml::parse(cfg.toml());
      if (const toml::array* a = t["port_map"].as_array()) {
        for (const auto& n : *a) {
          const toml::table* m = n.as_table();
          auto g = (*m)["guest"].value<std::int64_t>();
          auto h = (*m)["host"].value<std::int64_t>();
          if (!g || !h || *g < 1 || *g > 65535 || *h < 1 || *h > 65535)
            return "every [[net.port_map]] needs guest and host ports in 1..65535 (" + cfg.where("port_map") + ")";
          ports_[static_cast<in_port_t>(*g)] = static_cast<in_port_t>(*h);
        }
      }
      register_syscalls();
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  void connect(const sdk::PluginRegistry& registry) noexcept override {
    paths_ = static_cast<sdk::PathResolver*>(registry.find_interface(sdk::PathResolver::kName));
    try {
      register_syscalls();  // AF_UNIX translation needs calls that only a translating fs asks for
    } catch (...) {
    }
  }

 private:
  void on(int nr, Support support, std::string note, Handler h, std::vector<ArgRule> rules = {}) {
    sdk::SyscallSpec s;
    s.nr = nr;
    s.route = Route::kNotify;
    s.arg_rules = std::move(rules);
    s.support = support;
    s.note = std::move(note);
    add(std::move(s), std::move(h));
  }

  // A rule that lets the call run natively, in the kernel, when pointer argument `arg` is NULL.
  static std::vector<ArgRule> native_when_null(int arg) {
    ArgCondition none{arg, ArgCondition::Op::kEq, 0};
    none.width = ArgCondition::Width::k64;
    return {ArgRule{{none}, Route::kAllow, 0}};
  }

  void register_syscalls() {
    clear_syscalls();
    if (restrict_domains_) {
      for (int nr : {SYS_socket, SYS_socketpair}) {
        sdk::SyscallSpec s;
        s.nr = nr;
        s.route = Route::kErrno;
        s.errno_value = EAFNOSUPPORT;
        s.arg_rules = domains_rules_;
        s.support = Support::kFull;
        s.note = "domain policy, decided in the kernel";
        add(std::move(s));
      }
    }
    bool addr_calls = loopback_ || !ports_.empty() || paths_;
    if (!addr_calls) return;  // default: nothing on the NOTIFY or TRACE routes
    const Support F = Support::kFull, P = Support::kPartial;
    on(SYS_bind, P,
       "on behalf: policy, port map; an AF_UNIX path bound by its translated host path (a directory swapped "
       "for a symlink during the call is followed)",
       [this](SyscallContext& c) { return bind_(c); });
    on(SYS_connect, P,
       "on behalf: policy, port map, AF_UNIX path translated and pinned; SO_PEERCRED names the instance",
       [this](SyscallContext& c) { return connect_(c); });
    on(SYS_sendto, F, "no address: native, in the kernel; else on behalf with the address checked and translated",
       [this](SyscallContext& c) { return sendto_(c); }, native_when_null(4));
    on(SYS_sendmsg, P,
       "on behalf: destination checked and translated, SCM_RIGHTS carries the guest's fds; SCM_CREDENTIALS "
       "only where the instance has CAP_SYS_ADMIN (EPERM otherwise)",
       [this](SyscallContext& c) { return sendmsg_(c); });
    on(SYS_sendmmsg, P, "as sendmsg, message by message; msg_len and the count as natively",
       [this](SyscallContext& c) { return sendmmsg_(c); });
    on(SYS_recvfrom, P,
       "no address: native, in the kernel; else an AF_UNIX or port-mapped socket's source in guest terms (on "
       "behalf; its blocking wait ends on the thread's signals, or the process's when it has one thread)",
       [this](SyscallContext& c) { return recvfrom_(c); }, native_when_null(4));
    on(SYS_recvmsg, P,
       "source in guest terms (on behalf); an AF_UNIX call asking for control data too runs natively "
       "(received fds cannot be installed), its source then a host path",
       [this](SyscallContext& c) { return recvmsg_(c); });
    on(SYS_recvmmsg, P, "as recvmsg, message by message; timeout checked after each message as natively",
       [this](SyscallContext& c) { return recvmmsg_(c); });
    on(SYS_accept, P,
       "no address: native, in the kernel; else the peer in guest terms, fd installed with ADDFD (two threads "
       "accepting at once on a blocking socket can leave one waiting past its signals)",
       [this](SyscallContext& c) { return accept_(c, false); }, native_when_null(1));
    on(SYS_accept4, P, "as accept; SOCK_CLOEXEC and SOCK_NONBLOCK kept",
       [this](SyscallContext& c) { return accept_(c, true); }, native_when_null(1));
    on(SYS_getsockname, F, "guest port / guest path; a path outside the guest's world shows unnamed",
       [this](SyscallContext& c) { return sockname_(c, false); });
    on(SYS_getpeername, F, "guest port / guest path; a path outside the guest's world shows unnamed",
       [this](SyscallContext& c) { return sockname_(c, true); });
  }

  // Whether addresses this socket returns differ between host and guest.
  bool translates_returns(const GuestSocket& s) const {
    if (s.domain == AF_UNIX) return paths_ != nullptr;
    return (s.domain == AF_INET || s.domain == AF_INET6) && !ports_.empty();
  }

  // Reads a sockaddr of `len` bytes from the guest, once (the kernel's move_addr_to_kernel).
  static int read_addr(SyscallContext& c, std::uint64_t addr, std::uint64_t len, Address& a) {
    if (len > sizeof a.ss) return EINVAL;
    if (len < sizeof(sa_family_t)) return EINVAL;
    a.len = static_cast<socklen_t>(len);
    return c.read_memory(addr, &a.ss, len);
  }

  // A send done on the guest's behalf failed with `err`: with EPIPE the guest thread also gets
  // SIGPIPE, as natively, unless it passed MSG_NOSIGNAL (ours always does: never this process).
  static void sigpipe_if(SyscallContext& c, int err, int guest_flags) {
    if (err == EPIPE && !(guest_flags & MSG_NOSIGNAL)) syscall(SYS_tgkill, c.pid(), c.tid(), SIGPIPE);
  }

  // Opens the socket a translated AF_UNIX destination names and names it through /proc/self/fd,
  // so that the call reaches exactly the socket the translation found: a guest that swaps a
  // directory or the socket for a symlink meanwhile cannot send it anywhere else.
  static int pin_destination(const std::string& host, Address& a) {
    int fd = open(host.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno;
    a.pin = Fd(fd);
    char self[64];
    std::snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    char buf[PATH_MAX + 1];
    ssize_t n = readlink(self, buf, PATH_MAX);
    if (n < 0 || std::string(buf, static_cast<std::size_t>(n)) != host) return ENOENT;  // moved under us
    struct stat st;
    if (fstat(fd, &st) != 0) return errno;
    if (!S_ISSOCK(st.st_mode)) return ECONNREFUSED;
    std::memset(a.un()->sun_path, 0, sizeof a.un()->sun_path);
    std::memcpy(a.un()->sun_path, self, std::strlen(self));
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(self) + 1);
    return 0;
  }

  // Applies policy and translation to a destination or bind address, in place: 0 or an errno.
  int translate(SyscallContext& c, Address& a, bool binding) {
    if (a.ss.ss_family == AF_UNIX) {
      if (a.len <= offsetof(sockaddr_un, sun_path) || a.un()->sun_path[0] == '\0' || !paths_)
        return 0;  // unnamed or abstract: the same on the host
      std::size_t max = a.len - offsetof(sockaddr_un, sun_path);
      std::string guest(a.un()->sun_path, strnlen(a.un()->sun_path, max));
      std::string host;
      if (int e = paths_->host_path(c.tid(), AT_FDCWD, guest, !binding, host); e != 0) return e;
      if (!binding) return pin_destination(host, a);
      if (host.size() >= sizeof a.un()->sun_path) return ENAMETOOLONG;
      std::memset(a.un()->sun_path, 0, sizeof a.un()->sun_path);
      std::memcpy(a.un()->sun_path, host.data(), host.size());
      a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + host.size() + 1);
      return 0;
    }
    if (a.ss.ss_family != AF_INET && a.ss.ss_family != AF_INET6) return 0;
    if (loopback_ && !is_loopback(a.ss)) {
      if (!(binding && is_any(a.ss))) return EACCES;
      // Listening on every interface becomes listening on loopback.
      if (a.ss.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&a.ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      else reinterpret_cast<sockaddr_in6*>(&a.ss)->sin6_addr = in6addr_loopback;
    }
    if (in_port_t* p = port_of(a.ss); p && (binding || is_loopback(a.ss))) {
      auto it = ports_.find(ntohs(*p));
      if (it != ports_.end()) *p = htons(it->second);
    }
    return 0;
  }

  // Rewrites an address the kernel returned into guest terms: a mapped host port becomes the guest
  // port, an AF_UNIX host path the guest path, a path outside the guest's world unnamed.
  void to_guest(Address& a, bool peer) {
    if (in_port_t* p = port_of(a.ss)) {
      for (const auto& [g, h] : ports_)
        if (ntohs(*p) == h && (!peer || is_loopback(a.ss))) {
          *p = htons(g);
          break;
        }
      return;
    }
    if (a.ss.ss_family != AF_UNIX || !paths_ || a.len <= offsetof(sockaddr_un, sun_path)) return;
    if (a.un()->sun_path[0] == '\0') return;  // abstract
    std::size_t max = std::min<std::size_t>(a.len - offsetof(sockaddr_un, sun_path), sizeof a.un()->sun_path);
    std::string host(a.un()->sun_path, strnlen(a.un()->sun_path, max));
    std::string guest = paths_->guest_path(host);
    std::memset(a.un()->sun_path, 0, sizeof a.un()->sun_path);
    if (guest.empty() || guest.size() >= sizeof a.un()->sun_path) {
      a.len = offsetof(sockaddr_un, sun_path);  // unnamed: never a host path
      return;
    }
    std::memcpy(a.un()->sun_path, guest.data(), guest.size());
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + guest.size() + 1);
  }

  // Writes a returned address to the guest as the kernel's move_addr_to_user does: as much as
  // fits in the `room` bytes at `addr`, then its full length at `len_at` (a socklen_t or int).
  static int give_address(SyscallContext& c, const Address& a, std::uint64_t addr, socklen_t room,
                          std::uint64_t len_at) {
    socklen_t n = std::min(a.len, room);
    if (n && c.write_memory(addr, &a.ss, n) != 0) return EFAULT;
    return c.write(len_at, a.len) != 0 ? EFAULT : 0;
  }

  // Reads message header `mh` of a send: the destination (checked and translated), the buffers,
  // the control data (the guest's fds swapped for ours). 0 or the errno the call fails with.
  int read_out_message(SyscallContext& c, GuestSocket& s, const msghdr& mh, OutMessage& m) {
    if (mh.msg_name && mh.msg_namelen) {
      if (static_cast<int>(mh.msg_namelen) < 0) return EINVAL;
      socklen_t len = std::min<socklen_t>(mh.msg_namelen, sizeof m.name.ss);
      if (c.read_memory(reinterpret_cast<std::uint64_t>(mh.msg_name), &m.name.ss, len) != 0) return EFAULT;
      m.name.len = len;
      m.named = true;
    }
    if (int e = read_iov(c, mh.msg_iov, mh.msg_iovlen, m.iov, m.total); e != 0) return e;
    if (mh.msg_controllen > INT_MAX || mh.msg_controllen > kMaxControl) return ENOBUFS;
    if (mh.msg_controllen) {
      m.control.resize(mh.msg_controllen);
      if (c.read_memory(reinterpret_cast<std::uint64_t>(mh.msg_control), m.control.data(), m.control.size()) != 0)
        return EFAULT;
      if (int e = adopt_control(c, s.pidfd.get(), m.control, m.rights); e != 0) return e;
    }
    // A stream AF_UNIX socket refuses any address (EISCONN/EOPNOTSUPP): the kernel says so itself.
    if (m.named && !(s.domain == AF_UNIX && s.type == SOCK_STREAM))
      if (int e = translate(c, m.name, false); e != 0) return e;
    return 0;
  }

  // Sends `m` on behalf of the guest as its own call would: bytes sent, or -errno (kRestartSys
  // when a signal for the guest ended a blocking send before anything went).
  static std::int64_t send_message(SyscallContext& c, GuestSocket& s, OutMessage& m, int flags) {
    if (flags & kMsgCmsgCompat) return -EINVAL;
    bool stream = s.type == SOCK_STREAM;
    bool blocking = !s.nonblocking && !(flags & MSG_DONTWAIT);
    int timeout = blocking ? socket_timeout_ms(s.fd.get(), SO_SNDTIMEO) : 0;
    if (!stream && m.total > kMaxMessage) return -EMSGSIZE;
    std::vector<char> buf;
    std::size_t sent = 0;
    bool first = true, told = false, spun = false;
    int pause_us = 1000;
    while (first || sent < m.total) {
      std::size_t want = stream ? std::min(kChunk, m.total - sent) : m.total;
      buf.resize(want);
      if (int e = gather(c, m.iov, sent, buf.data(), want); e != 0) return sent ? static_cast<std::int64_t>(sent) : -e;
      std::size_t off = 0;
      while (first || off < want) {
        iovec v{buf.data() + off, want - off};
        msghdr h{};
        h.msg_iov = &v;
        h.msg_iovlen = 1;
        if (first && m.named) {
          h.msg_name = m.name.sa();
          h.msg_namelen = m.name.len;
        }
        if (first && !m.control.empty()) {
          h.msg_control = m.control.data();
          h.msg_controllen = m.control.size();
        }
        ssize_t n = ::sendmsg(s.fd.get(), &h, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
          first = spun = false;
          pause_us = 1000;
          if (!stream) return n;
          off += static_cast<std::size_t>(n);
          sent += static_cast<std::size_t>(n);
          continue;
        }
        int e = errno;
        if (e != EAGAIN || !blocking) return sent ? static_cast<std::int64_t>(sent) : -e;
        if (!told) c.will_block();
        told = true;
        WaitEnd w;
        if (spun) {
          // Ready by poll yet refused again (an unconnected datagram socket's receiver is full):
          // look again shortly, less often the longer it lasts.
          usleep(pause_us);
          pause_us = std::min(pause_us * 2, 20000);
          w = !c.still_valid() ? WaitEnd::kGone : signal_pending(c.tid()) ? WaitEnd::kSignal : WaitEnd::kReady;
        } else {
          w = wait_socket(c, s.fd.get(), POLLOUT, timeout);
        }
        spun = true;
        if (w == WaitEnd::kReady) continue;
        return sent ? static_cast<std::int64_t>(sent) : -wait_errno(w, timeout);
      }
    }
    return static_cast<std::int64_t>(sent);
  }

  // Receives one message on behalf of the guest into its buffers `iov` as its own call would:
  // the source in `from` (kernel terms), control data in `control` (resized to what came), the
  // message flags in `out_flags`. Bytes received (the datagram's length with MSG_TRUNC), or -errno.
  static std::int64_t recv_message(SyscallContext& c, GuestSocket& s, const std::vector<iovec>& iov, std::size_t total,
                                   int flags, Address* from, std::vector<char>* control, int* out_flags) {
    if (flags & kMsgCmsgCompat) return -EINVAL;
    bool stream = s.type == SOCK_STREAM;
    bool waitall = stream && (flags & MSG_WAITALL) && !(flags & MSG_PEEK);
    // MSG_ERRQUEUE never waits.
    bool blocking = !s.nonblocking && !(flags & (MSG_DONTWAIT | MSG_ERRQUEUE));
    int timeout = blocking ? socket_timeout_ms(s.fd.get(), SO_RCVTIMEO) : 0;
    // Not zeroed: a large buffer costs only the pages the kernel fills.
    std::size_t size = std::min(total, kMaxMessage);
    std::unique_ptr<char[]> buf(new char[size ? size : 1]);
    std::size_t got = 0;
    std::int64_t result = 0;
    bool first = true, told = false, spun = false;
    for (;;) {
      iovec v{buf.get() + got, size - got};
      msghdr h{};
      h.msg_iov = &v;
      h.msg_iovlen = 1;
      if (first && from) {
        h.msg_name = from->sa();
        h.msg_namelen = sizeof from->ss;
      }
      if (first && control && !control->empty()) {
        h.msg_control = control->data();
        h.msg_controllen = control->size();
      }
      ssize_t n = ::recvmsg(s.fd.get(), &h, (flags & ~MSG_WAITALL) | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n >= 0) {
        spun = false;
        if (first) {
          if (from) from->len = h.msg_namelen;
          if (control) control->resize(control->empty() ? 0 : h.msg_controllen);
          if (out_flags) *out_flags = h.msg_flags;
          first = false;
        }
        if (!stream) {
          result = n;
          break;
        }
        got += static_cast<std::size_t>(n);
        if (n == 0 || !waitall || got == size) {
          result = static_cast<std::int64_t>(got);
          break;
        }
        continue;
      }
      int e = errno;
      if (e == EAGAIN && blocking) {
        if (!told) c.will_block();
        told = true;
        WaitEnd w;
        if (spun) {
          // Ready by poll yet nothing to take (another reader was first): never spin.
          usleep(1000);
          w = !c.still_valid() ? WaitEnd::kGone : signal_pending(c.tid()) ? WaitEnd::kSignal : WaitEnd::kReady;
          if (w == WaitEnd::kReady) w = wait_socket(c, s.fd.get(), POLLIN, timeout);
        } else {
          w = wait_socket(c, s.fd.get(), POLLIN, timeout);
        }
        spun = true;
        if (w == WaitEnd::kReady) continue;
        e = wait_errno(w, timeout);
      }
      if (!got) {
        if (first && control) control->clear();
        return -e;
      }
      result = static_cast<std::int64_t>(got);
      break;
    }
    // With MSG_TRUNC a stream socket discards the data: the guest's buffer stays as it was.
    std::size_t copy = stream && (flags & MSG_TRUNC) ? 0 : std::min<std::size_t>(static_cast<std::size_t>(result), size);
    if (int e = scatter(c, iov, buf.get(), copy); e != 0) return -e;
    return result;
  }

  // Implements bind(2) on behalf of the guest.
  SyscallResult bind_(SyscallContext& c) {
    GuestSocket s;
    if (int e = open_socket(c, c.arg(0), s); e != 0) return fail(e);
    Address a;
    if (int e = read_addr(c, c.arg(1), c.arg(2), a); e != 0) return fail(e);
    if (int e = translate(c, a, true); e != 0) return fail(e);
    if (::bind(s.fd.get(), a.sa(), a.len) != 0) return fail(errno);
    return SyscallResult::value(0);
  }

  // Implements connect(2) on behalf of the guest.
  SyscallResult connect_(SyscallContext& c) {
    GuestSocket s;
    if (int e = open_socket(c, c.arg(0), s); e != 0) return fail(e);
    Address a;
    if (int e = read_addr(c, c.arg(1), c.arg(2), a); e != 0) return fail(e);
    if (int e = translate(c, a, false); e != 0) return fail(e);
    // A blocking TCP connect to another host waits for the handshake; loopback and AF_UNIX
    // connects complete at once (or fail with EINPROGRESS/EAGAIN when non-blocking, as the
    // guest's own call would).
    if (!s.nonblocking && (s.domain == AF_INET || s.domain == AF_INET6) && !is_loopback(a.ss)) c.will_block();
    if (::connect(s.fd.get(), a.sa(), a.len) != 0) return fail(errno);
    return SyscallResult::value(0);
  }

  // Implements sendto(2) with a destination (without one it runs natively, in the kernel).
  SyscallResult sendto_(SyscallContext& c) {
    if (c.arg(4) == 0) return SyscallResult::continue_native();  // decided in the kernel already
    GuestSocket s;
    if (int e = open_socket(c, c.arg(0), s); e != 0) return fail(e);
    OutMessage m;
    if (int e = read_addr(c, c.arg(4), c.arg(5), m.name); e != 0) return fail(e);
    m.named = true;
    if (!(s.domain == AF_UNIX && s.type == SOCK_STREAM))
      if (int e = translate(c, m.name, false); e != 0) return fail(e);
    if (static_cast<ssize_t>(c.arg(2)) < 0) return fail(EINVAL);
    m.iov.push_back(iovec{reinterpret_cast<void*>(c.arg(1)), std::min<std::size_t>(c.arg(2), kMaxRw)});
    m.total = m.iov[0].iov_len;
    int flags = static_cast<int>(c.arg(3));
    std::int64_t n = send_message(c, s, m, flags);
    if (n < 0) {
      sigpipe_if(c, static_cast<int>(-n), flags);
      return fail(static_cast<int>(-n));
    }
    return SyscallResult::value(n);
  }

  // Implements sendmsg(2) on behalf of the guest: the destination checked and translated, the
  // control data's fds the guest's own.
  SyscallResult sendmsg_(SyscallContext& c) {
    GuestSocket s;
    if (int e = open_socket(c, c.arg(0), s); e != 0) return fail(e);
    msghdr mh;
    if (c.read(c.arg(1), mh) != 0) return fail(EFAULT);
    OutMessage m;
    if (int e = read_out_message(c, s, mh, m); e != 0) return fail(e);
    int flags = static_cast<int>(c.arg(2));
    std::int64_t n = send_message(c, s, m, flags);
    if (n < 0) {
      sigpipe_if(c, static_cast<int>(-n), flags);
      return fail(static_cast<int>(-n));
    }
    return SyscallResult::value(n);
  }

  // Implements sendmmsg(2): each message as sendmsg; the number sent, an error only when the
  // first one fails, msg_len filled for each one sent.
  SyscallResult sendmmsg_(SyscallContext& c) {
    GuestSocket s;
    if (int e = open_socket(c, c.arg(0), s); e != 0) return fail(e);
    std::uint64_t vlen = std::min<std::uint64_t>(static_cast<unsigned>(c.arg(2)), UIO_MAXIOV);
    int flags = static_cast<int>(c.arg(3));
    std::int64_t sent = 0;
    int err = 0;
    for (std::uint64_t i = 0; i < vlen; ++i) {
      std::uint64_t at = c.arg(1) + i * sizeof(mmsghdr);
      mmsghdr e;
      if (c.read(at, e) != 0) {
        err = EFAULT;
        break;
      }
      OutMessage m;
      if (err = read_out_message(c, s, e.msg_hdr, m); err != 0) break;
      std::int64_t n = send_message(c, s, m, flags);
      if (n < 0) {
        err = static_cast<int>(-n);
        sigpipe_if(c, err, flags);
        break;
      }
      if (c.write(at + offsetof(mmsghdr, msg_len), static_cast<unsigned>(n)) != 0) {
        err = EFAULT;
        break;
      }
      ++sent;
    }
    if (sent) return SyscallResult::value(sent);
    return err ? fail(err) : SyscallResult::value(0);
  }

  // Implements recvfrom(2) with a source address wanted (without one it runs natively, in the
  // kernel): on behalf where the address differs between host and guest.
  SyscallResult recvfrom_(SyscallContext& c) {
    if (c.arg(4) == 0) return SyscallResult::continue_native();  // decided in the kernel already
    GuestSocket s;
    if (int e = open_socket(c, c.arg(0), s); e != 0) return fail(e);
    if (!translates_returns(s)) return SyscallResult::continue_native();
    // As natively, an unreadable or negative address length fails the call after the receive.
    socklen_t room = 0;
    int room_error = c.read(c.arg(5), room) != 0 ? EFAULT : static_cast<int>(room) < 0 ? EINVAL : 0;
    if (static_cast<ssize_t>(c.arg(2)) < 0) return fail(EINVAL);
    std::vector<iovec> iov{iovec{reinterpret_cast<void*>(c.arg(1)), std::min<std::size_t>(c.arg(2), kMaxRw)}};
    Address from;
    std::int64_t n = recv_message(c, s, iov, iov[0].iov_len, static_cast<int>(c.arg(3)), &from, nullptr, nullptr);
    if (n < 0) return fail(static_cast<int>(-n));
    if (room_error) return fail(room_error);
    to_guest(from, true);
    if (int e = give_address(c, from, c.arg(4), room, c.arg(5)); e != 0) return fail(e);
    return SyscallResult::value(n);
  }

  // Whether a receive into `mh` can be done on behalf of the guest: it wants the source, and any
  // control data it asks for cannot carry fds (they would need guest fd numbers, and the SDK's
  // install_fd completes the call). 1: on behalf, 0: natively.
  static bool receive_on_behalf(const GuestSocket& s, const msghdr& mh) {
    if (!mh.msg_name || !mh.msg_namelen) return false;
    return !(s.domain == AF_UNIX && mh.msg_control && mh.msg_controllen);
  }

  // Receives into the guest's message header `mh` (at `at`) on behalf of the guest and writes
  // back its source, lengths and flags. Bytes received or -errno.
  std::int64_t recv_into(SyscallContext& c, GuestSocket& s, const msghdr& mh, std::uint64_t at, int flags) {
    if (static_cast<int>(mh.msg_namelen) < 0) return -EINVAL;
    std::vector<iovec> iov;
    std::size_t total = 0;
    if (int e = read_iov(c, mh.msg_iov, mh.msg_iovlen, iov, total); e != 0) return -e;
    std::vector<char> control;
    if (mh.msg_control && mh.msg_controllen) control.resize(std::min(mh.msg_controllen, kMaxControl));
    Address from;
    int out_flags = 0;
    std::int64_t n = recv_message(c, s, iov, total, flags, &from, &control, &out_flags);
    if (n < 0) return n;
    to_guest(from, true);
    if (give_address(c, from, reinterpret_cast<std::uint64_t>(mh.msg_name), mh.msg_namelen,
                     at + offsetof(msghdr, msg_namelen)) != 0)
      return -EFAULT;
    if (!control.empty() &&
        c.write_memory(reinterpret_cast<std::uint64_t>(mh.msg_control), control.data(), control.size()) != 0)
      return -EFAULT;
    std::size_t clen = control.size();
    if (c.write(at + offsetof(msghdr, msg_controllen), clen) != 0) return -EFAULT;
    if (c.write(at + offsetof(msghdr, msg_flags), out_flags) != 0) return -EFAULT;
    return n;
  }

  // Implements recvmsg(2): on behalf when the source differs between host and guest and no fds
  // can come with the message; natively otherwise.
  SyscallResult recvmsg_(SyscallContext& c) {
    msghdr mh;
    if (c.read(c.arg(1), mh) != 0) return fail(EFAULT);
    if (!mh.msg_name || !mh.msg_namelen) return SyscallResult::continue_native();
    GuestSocket s;
    if (int e = open_socket(c, c.arg(0), s); e != 0) return fail(e);
    if (!translates_returns(s) || !receive_on_behalf(s, mh)) return SyscallResult::continue_native();
    std::int64_t n = recv_into(c, s, mh, c.arg(1), static_cast<int>(c.arg(2)));
    return n < 0 ? fail(static_cast<int>(-n)) : SyscallResult::value(n);
  }

  // Implements recvmmsg(2) as recvmsg, message by message: MSG_WAITFORONE, the timeout checked
  // after each message (and what is left of it written back), an error only when the first fails.
  SyscallResult recvmmsg_(SyscallContext& c) {
    std::uint64_t vlen = std::min<std::uint64_t>(static_cast<unsigned>(c.arg(2)), UIO_MAXIOV);
    std::vector<mmsghdr> msgs;
    msgs.reserve(vlen);
    bool unreadable = false, wants_name = false;
    for (std::uint64_t i = 0; i < vlen; ++i) {
      mmsghdr e;
      if (c.read(c.arg(1) + i * sizeof(mmsghdr), e) != 0) {
        unreadable = true;
        break;
      }
      wants_name |= e.msg_hdr.msg_name && e.msg_hdr.msg_namelen;
      msgs.push_back(e);
    }
    if (!wants_name) return SyscallResult::continue_native();
    GuestSocket s;
    if (int e = open_socket(c, c.arg(0), s); e != 0) return fail(e);
    if (!translates_returns(s)) return SyscallResult::continue_native();
    for (const auto& m : msgs)
      if (s.domain == AF_UNIX && m.msg_hdr.msg_control && m.msg_hdr.msg_controllen)
        return SyscallResult::continue_native();
    timespec limit{};
    bool timed = c.arg(4) != 0;
    timespec end{};
    if (timed) {
      if (c.read(c.arg(4), limit) != 0) return fail(EFAULT);
      if (limit.tv_sec < 0 || limit.tv_nsec < 0 || limit.tv_nsec >= 1000000000L) return fail(EINVAL);
      clock_gettime(CLOCK_MONOTONIC, &end);
      end.tv_sec += limit.tv_sec;
      end.tv_nsec += limit.tv_nsec;
      if (end.tv_nsec >= 1000000000L) end.tv_sec++, end.tv_nsec -= 1000000000L;
    }
    int flags = static_cast<int>(c.arg(3));
    std::int64_t count = 0;
    int err = 0;
    timespec left = limit;
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      int f = flags & ~MSG_WAITFORONE;
      if (i > 0 && (flags & MSG_WAITFORONE)) f |= MSG_DONTWAIT;
      std::uint64_t at = c.arg(1) + i * sizeof(mmsghdr);
      std::int64_t n = recv_into(c, s, msgs[i].msg_hdr, at + offsetof(mmsghdr, msg_hdr), f);
      if (n < 0) {
        err = static_cast<int>(-n);
        break;
      }
      if (c.write(at + offsetof(mmsghdr, msg_len), static_cast<unsigned>(n)) != 0) {
        err = EFAULT;
        break;
      }
      ++count;
      if (timed) {
        timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ns = (static_cast<long long>(end.tv_sec) - now.tv_sec) * 1000000000LL + (end.tv_nsec - now.tv_nsec);
        if (ns < 0) ns = 0;
        left.tv_sec = static_cast<time_t>(ns / 1000000000LL);
        left.tv_nsec = static_cast<long>(ns % 1000000000LL);
        if (ns == 0) break;
      }
    }
    if (!err && unreadable && static_cast<std::uint64_t>(count) == msgs.size() && count < static_cast<std::int64_t>(vlen))
      err = EFAULT;
    if (count && timed && c.write(c.arg(4), left) != 0) return fail(EFAULT);  // as natively: only after data
    if (count) return SyscallResult::value(count);
    return err ? fail(err) : SyscallResult::value(0);
  }

  // Implements accept(2)/accept4(2) with the peer address wanted (without it they run natively,
  // in the kernel): on behalf where the address differs between host and guest, the new socket
  // installed into the guest with its flags.
  SyscallResult accept_(SyscallContext& c, bool four) {
    if (c.arg(1) == 0) return SyscallResult::continue_native();  // decided in the kernel already
    int flags = four ? static_cast<int>(c.arg(3)) : 0;
    if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return fail(EINVAL);
    GuestSocket s;
    if (int e = open_socket(c, c.arg(0), s); e != 0) return fail(e);
    if (!translates_returns(s)) return SyscallResult::continue_native();
    socklen_t room;
    if (c.read(c.arg(2), room) != 0) return fail(EFAULT);
    if (static_cast<int>(room) < 0) return fail(EINVAL);
    bool blocking = !s.nonblocking;
    int timeout = blocking ? socket_timeout_ms(s.fd.get(), SO_RCVTIMEO) : 0;
    bool told = false;
    Address peer;
    int conn;
    for (;;) {
      if (blocking) {
        // Wait first: accept itself on a blocking socket would wait out of reach of the guest's
        // signals. (Another thread taking the connection between the two still leaves it waiting.)
        pollfd p{s.fd.get(), POLLIN, 0};
        if (poll(&p, 1, 0) <= 0) {
          if (!told) c.will_block();
          told = true;
          WaitEnd w = wait_socket(c, s.fd.get(), POLLIN, timeout);
          if (w != WaitEnd::kReady) return fail(wait_errno(w, timeout));
        }
      }
      peer.len = sizeof peer.ss;
      conn = ::accept4(s.fd.get(), peer.sa(), &peer.len, (flags & SOCK_NONBLOCK) | SOCK_CLOEXEC);
      if (conn >= 0) break;
      if (errno == EAGAIN && blocking) continue;
      return fail(errno);
    }
    Fd accepted(conn);
    to_guest(peer, true);
    if (int e = give_address(c, peer, c.arg(1), room, c.arg(2)); e != 0) return fail(e);
    return c.install_fd(accepted.get(), (flags & SOCK_CLOEXEC) ? O_CLOEXEC : 0);
  }

  // Implements getsockname(2)/getpeername(2): mapped ports and AF_UNIX paths as the guest knows them.
  SyscallResult sockname_(SyscallContext& c, bool peer) {
    GuestSocket s;
    if (int e = open_socket(c, c.arg(0), s); e != 0) return fail(e);
    socklen_t room;
    if (c.read(c.arg(2), room) != 0) return fail(EFAULT);
    if (static_cast<int>(room) < 0) return fail(EINVAL);
    Address a;
    a.len = sizeof a.ss;
    int rc = peer ? ::getpeername(s.fd.get(), a.sa(), &a.len) : ::getsockname(s.fd.get(), a.sa(), &a.len);
    if (rc != 0) return fail(errno);
    to_guest(a, peer);
    if (int e = give_address(c, a, c.arg(1), room, c.arg(2)); e != 0) return fail(e);
    return SyscallResult::value(0);
  }

  bool restrict_domains_ = false;
  std::vector<ArgRule> domains_rules_;
  bool loopback_ = false;
  std::map<in_port_t, in_port_t> ports_;
  sdk::PathResolver* paths_ = nullptr;
};

}  // namespace
}  // namespace lx::net

LXHOST_PLUGIN(lx::net::NetPlugin)
