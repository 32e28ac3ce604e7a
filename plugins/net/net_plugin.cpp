// The networking family plugin: address-family policy compiled into the BPF filter, a
// loopback-only policy decided on the sockaddr the guest passed (read once, then the call is done
// on behalf of the guest on its own socket), guest→host port mapping, and AF_UNIX socket paths
// translated into the guest root through the fs family's PathResolver.
// With the default config it asks for no syscalls on the NOTIFY or TRACE routes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include <lxhost/path_resolver.h>
#include <lxhost/plugin.h>

namespace lx::net {
namespace {

using sdk::ArgCondition;
using sdk::ArgRule;
using sdk::Route;
using sdk::Support;
using sdk::SyscallContext;
using sdk::SyscallResult;

SyscallResult fail(int e) { return SyscallResult::error(e); }

// An fd that closes itself.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

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
    paths_ = static_cast<sdk::PathResolver*>(registry.find_interface(sdk::kPathResolverInterface));
    try {
      register_syscalls();  // AF_UNIX translation needs calls that only a translating fs asks for
    } catch (...) {
    }
  }

 private:
  void on(int nr, std::string note, Handler h) {
    sdk::SyscallSpec s;
    s.nr = nr;
    s.route = Route::kNotify;
    s.support = Support::kFull;
    s.note = std::move(note);
    add(std::move(s), std::move(h));
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
    on(SYS_bind, "done on behalf: policy, port map, AF_UNIX path", [this](SyscallContext& c) { return bind_(c); });
    on(SYS_connect, "done on behalf: policy, port map, AF_UNIX path", [this](SyscallContext& c) { return connect_(c); });
    on(SYS_sendto, "destination checked and translated", [this](SyscallContext& c) { return sendto_(c); });
    on(SYS_sendmsg, "destination checked; AF_UNIX path with control data: EOPNOTSUPP",
       [this](SyscallContext& c) { return sendmsg_(c); });
    on(SYS_getsockname, "guest port / guest path", [this](SyscallContext& c) { return sockname_(c, false); });
    on(SYS_getpeername, "guest port / guest path", [this](SyscallContext& c) { return sockname_(c, true); });
  }

  // Reads a sockaddr of `len` bytes from the guest, once.
  static int read_addr(SyscallContext& c, std::uint64_t addr, std::uint64_t len, sockaddr_storage& ss, socklen_t& sl) {
    if (len < sizeof(sa_family_t) || len > sizeof ss) return EINVAL;
    std::memset(&ss, 0, sizeof ss);
    sl = static_cast<socklen_t>(len);
    return c.read_memory(addr, &ss, len);
  }

  // A send done on the guest's behalf failed with `err`: with EPIPE the guest thread also gets
  // SIGPIPE, as natively, unless it passed MSG_NOSIGNAL (ours always does: never this process).
  static SyscallResult send_failed(SyscallContext& c, int err, int guest_flags) {
    if (err == EPIPE && !(guest_flags & MSG_NOSIGNAL)) syscall(SYS_tgkill, c.pid(), c.tid(), SIGPIPE);
    return fail(err);
  }

  // The guest's socket `fd`, as an fd of ours (the same open socket).
  static int guest_socket(SyscallContext& c, int fd) {
    Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, c.pid(), 0)));
    if (pidfd.fd < 0) return -errno;
    int s = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.fd, fd, 0));
    return s < 0 ? -errno : s;
  }

  // Applies policy and translation to a destination/bind address. Returns 0, an errno, or -1
  // when the call may go on natively unchanged.
  int translate(SyscallContext& c, sockaddr_storage& ss, socklen_t& sl, bool binding) {
    if (ss.ss_family == AF_UNIX) {
      auto* un = reinterpret_cast<sockaddr_un*>(&ss);
      std::size_t max = sl - offsetof(sockaddr_un, sun_path);
      if (max == 0 || un->sun_path[0] == '\0' || !paths_) return -1;  // unnamed or abstract
      std::string guest(un->sun_path, strnlen(un->sun_path, max));
      std::string host;
      if (int e = paths_->host_path(c.tid(), AT_FDCWD, guest, !binding, host); e != 0) return e;
      if (host.size() >= sizeof un->sun_path) return ENAMETOOLONG;
      std::memset(un->sun_path, 0, sizeof un->sun_path);
      std::memcpy(un->sun_path, host.data(), host.size());
      sl = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + host.size() + 1);
      return 0;
    }
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) return -1;
    bool changed = false;
    if (loopback_ && !is_loopback(ss)) {
      if (!(binding && is_any(ss))) return EACCES;
      // Listening on every interface becomes listening on loopback.
      if (ss.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      else reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr = in6addr_loopback;
      changed = true;
    }
    if (in_port_t* p = port_of(ss); p && (binding || is_loopback(ss))) {
      auto it = ports_.find(ntohs(*p));
      if (it != ports_.end()) {
        *p = htons(it->second);
        changed = true;
      }
    }
    return changed ? 0 : (loopback_ ? 0 : -1);
  }

  // Implements bind(2).
  SyscallResult bind_(SyscallContext& c) {
    sockaddr_storage ss;
    socklen_t sl;
    if (int e = read_addr(c, c.arg(1), c.arg(2), ss, sl); e != 0) return fail(e);
    int t = translate(c, ss, sl, true);
    if (t > 0) return fail(t);
    if (t < 0) return SyscallResult::continue_native();
    int s = guest_socket(c, static_cast<int>(c.arg(0)));
    if (s < 0) return fail(-s);
    Fd sock(s);
    if (::bind(sock.fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0) return fail(errno);
    return SyscallResult::value(0);
  }

  // Implements connect(2).
  SyscallResult connect_(SyscallContext& c) {
    sockaddr_storage ss;
    socklen_t sl;
    if (int e = read_addr(c, c.arg(1), c.arg(2), ss, sl); e != 0) return fail(e);
    int t = translate(c, ss, sl, false);
    if (t > 0) return fail(t);
    if (t < 0) return SyscallResult::continue_native();
    int s = guest_socket(c, static_cast<int>(c.arg(0)));
    if (s < 0) return fail(-s);
    Fd sock(s);
    // Loopback and AF_UNIX connects complete at once (or fail with EINPROGRESS/EAGAIN for a
    // non-blocking socket, exactly as the guest's own call would).
    if (::connect(sock.fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0) return fail(errno);
    return SyscallResult::value(0);
  }

  // Implements sendto(2): the destination is checked and translated, then sent on behalf.
  SyscallResult sendto_(SyscallContext& c) {
    if (c.arg(4) == 0) return SyscallResult::continue_native();  // connected: no destination
    sockaddr_storage ss;
    socklen_t sl;
    if (int e = read_addr(c, c.arg(4), c.arg(5), ss, sl); e != 0) return fail(e);
    int t = translate(c, ss, sl, false);
    if (t > 0) return fail(t);
    if (t < 0) return SyscallResult::continue_native();
    std::size_t len = c.arg(2);
    if (len > (1u << 20)) return fail(EMSGSIZE);
    std::vector<char> buf(len);
    if (len && c.read_memory(c.arg(1), buf.data(), len) != 0) return fail(EFAULT);
    int s = guest_socket(c, static_cast<int>(c.arg(0)));
    if (s < 0) return fail(-s);
    Fd sock(s);
    ssize_t n = ::sendto(sock.fd, buf.data(), len, static_cast<int>(c.arg(3)) | MSG_DONTWAIT | MSG_NOSIGNAL,
                         reinterpret_cast<sockaddr*>(&ss), sl);
    if (n < 0) return send_failed(c, errno, static_cast<int>(c.arg(3)));
    return SyscallResult::value(n);
  }

  // Implements sendmsg(2): a destination outside the policy is refused; an AF_UNIX path is
  // translated and the message sent on behalf of the guest (not with control data: the fds in
  // it are the guest's); other calls run natively.
  SyscallResult sendmsg_(SyscallContext& c) {
    msghdr mh;
    if (int e = c.read(c.arg(1), mh); e != 0) return fail(e);
    if (!mh.msg_name || mh.msg_namelen == 0) return SyscallResult::continue_native();
    sockaddr_storage ss;
    socklen_t sl;
    if (int e = read_addr(c, reinterpret_cast<std::uint64_t>(mh.msg_name), mh.msg_namelen, ss, sl); e != 0)
      return fail(e);
    int t = translate(c, ss, sl, false);
    if (t > 0) return fail(t);
    if (t < 0) return SyscallResult::continue_native();
    if (ss.ss_family != AF_UNIX) {
      // Checked IP destination: re-sent on behalf with the checked address.
      if (mh.msg_controllen) return fail(EOPNOTSUPP);
    } else if (mh.msg_controllen) {
      return fail(EOPNOTSUPP);  // SCM_RIGHTS to a path-named socket: not translated yet
    }
    if (mh.msg_iovlen > 64) return fail(EMSGSIZE);
    std::vector<iovec> iov(mh.msg_iovlen);
    if (!iov.empty() && c.read_memory(reinterpret_cast<std::uint64_t>(mh.msg_iov), iov.data(), iov.size() * sizeof(iovec)) != 0)
      return fail(EFAULT);
    std::vector<char> data;
    for (const auto& v : iov) {
      if (data.size() + v.iov_len > (1u << 20)) return fail(EMSGSIZE);
      std::size_t at = data.size();
      data.resize(at + v.iov_len);
      if (v.iov_len && c.read_memory(reinterpret_cast<std::uint64_t>(v.iov_base), data.data() + at, v.iov_len) != 0)
        return fail(EFAULT);
    }
    int s = guest_socket(c, static_cast<int>(c.arg(0)));
    if (s < 0) return fail(-s);
    Fd sock(s);
    ssize_t n = ::sendto(sock.fd, data.data(), data.size(), static_cast<int>(c.arg(2)) | MSG_DONTWAIT | MSG_NOSIGNAL,
                         reinterpret_cast<sockaddr*>(&ss), sl);
    if (n < 0) return send_failed(c, errno, static_cast<int>(c.arg(2)));
    return SyscallResult::value(n);
  }

  // Implements getsockname(2)/getpeername(2): mapped ports and AF_UNIX paths as the guest knows them.
  SyscallResult sockname_(SyscallContext& c, bool peer) {
    int s = guest_socket(c, static_cast<int>(c.arg(0)));
    if (s < 0) return fail(-s);
    Fd sock(s);
    socklen_t guest_len;
    if (int e = c.read(c.arg(2), guest_len); e != 0) return fail(e);
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    int rc = peer ? ::getpeername(sock.fd, reinterpret_cast<sockaddr*>(&ss), &sl)
                  : ::getsockname(sock.fd, reinterpret_cast<sockaddr*>(&ss), &sl);
    if (rc != 0) return fail(errno);
    if (in_port_t* p = port_of(ss)) {
      for (const auto& [g, h] : ports_)
        if (ntohs(*p) == h && (!peer || is_loopback(ss))) *p = htons(g);
    } else if (ss.ss_family == AF_UNIX && paths_ && sl > offsetof(sockaddr_un, sun_path)) {
      auto* un = reinterpret_cast<sockaddr_un*>(&ss);
      if (un->sun_path[0] != '\0') {
        std::string host(un->sun_path, strnlen(un->sun_path, sl - offsetof(sockaddr_un, sun_path)));
        std::string guest = paths_->guest_path(host);
        if (!guest.empty() && guest.size() < sizeof un->sun_path) {
          std::memset(un->sun_path, 0, sizeof un->sun_path);
          std::memcpy(un->sun_path, guest.data(), guest.size());
          sl = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + guest.size() + 1);
        }
      }
    }
    socklen_t n = std::min(sl, guest_len);
    if (int e = c.write_memory(c.arg(1), &ss, n); e != 0) return fail(e);
    if (int e = c.write(c.arg(2), sl); e != 0) return fail(e);
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
