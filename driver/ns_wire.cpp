// The host ↔ init wire (see ns_wire.h).
#include "driver/ns_wire.h"

#include "base/scm_rights.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lx::driver::nswire {
namespace {

struct Header {
  std::uint32_t type;
  std::uint32_t len;
};

// Reads exactly `n` bytes; false on EOF or error (errno set; 0 at EOF).
bool read_all(int fd, char* p, std::size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = 0;
      return false;
    }
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

Result<void> send(int sock, Type type, const std::string& payload, std::span<const int> fds) {
  if (payload.size() > kMaxPayload || fds.size() > static_cast<std::size_t>(kMaxFds))
    return Error{E2BIG, "message to the instance's init too large"};
  Header h{static_cast<std::uint32_t>(type), static_cast<std::uint32_t>(payload.size())};
  // Header and payload in one sendmsg: two processes (the first child and init) write to the
  // same socket while an instance starts, and a message must never be split by another one's.
  // A small message goes in one piece; what a large one leaves is written after (only init
  // writes by then).
  iovec iov[2] = {{&h, sizeof h}, {const_cast<char*>(payload.data()), payload.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = payload.empty() ? 1 : 2;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)]{};
  if (!fds.empty()) attach_fds(msg, control, fds);
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno("sendmsg to the instance's init");
  std::string rest(reinterpret_cast<const char*>(&h), sizeof h);
  rest += payload;
  if (static_cast<std::size_t>(n) < rest.size() &&
      !write_all(sock, rest.data() + n, rest.size() - static_cast<std::size_t>(n)))
    return Error::from_errno("send to the instance's init");
  return ok();
}

Result<Message> recv(int sock) {
  Header h{};
  iovec iov{&h, sizeof h};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)]{};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n == 0) return Error{ECONNRESET, "the instance's init is gone"};
  if (n < 0) return Error::from_errno("recvmsg from the instance's init");
  Message m;
  take_fds(msg, m.fds, [](int fd) { return UniqueFd(fd); });
  if (n != static_cast<ssize_t>(sizeof h) &&
      !read_all(sock, reinterpret_cast<char*>(&h) + n, sizeof h - static_cast<std::size_t>(n)))
    return Error{ECONNRESET, "the instance's init is gone"};
  if (h.len > kMaxPayload) return Error{EBADMSG, "message from the instance's init too large"};
  m.type = static_cast<Type>(h.type);
  m.payload.resize(h.len);
  if (!read_all(sock, m.payload.data(), h.len)) return Error{ECONNRESET, "the instance's init is gone"};
  return m;
}

}  // namespace lx::driver::nswire

namespace lx::driver::nswire {
namespace {

constexpr std::uint32_t kNewSession = 1, kOnlyStdio = 2, kSetSignals = 4, kHasIds = 8, kHasBounding = 16, kListenPid = 32, kHasInheritable = 64,
                        kHasAmbient = 128;
constexpr std::uint32_t kMaxStrings = 1u << 16;

void strings(Writer& w, const std::vector<std::string>& v) {
  w.u32(static_cast<std::uint32_t>(v.size()));
  for (const auto& s : v) w.str(s);
}

bool strings(Reader& r, std::vector<std::string>& v) {
  std::uint32_t n = r.u32();
  if (!r.ok() || n > kMaxStrings) return false;
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) v.push_back(r.str());
  return r.ok();
}

}  // namespace

std::string encode_launch(std::uint32_t id, const LaunchSpec& spec, std::uint32_t nstdio) {
  Writer w;
  w.u32(id);
  w.u32((spec.new_session ? kNewSession : 0) | (spec.only_stdio ? kOnlyStdio : 0) | (spec.set_signals ? kSetSignals : 0) |
        (spec.ids ? kHasIds : 0) | (spec.bounding_caps ? kHasBounding : 0) | (spec.listen_pid ? kListenPid : 0) | (spec.inheritable_caps ? kHasInheritable : 0) |
        (spec.ambient_caps ? kHasAmbient : 0));
  w.u32(nstdio);
  std::vector<std::string> ignored, blocked;
  for (int s : spec.ignored_signals) ignored.push_back(std::to_string(s));
  for (int s : spec.blocked_signals) blocked.push_back(std::to_string(s));
  strings(w, ignored);
  strings(w, blocked);
  if (spec.ids) {
    w.u32(spec.ids->uid);
    w.u32(spec.ids->gid);
    w.u32(static_cast<std::uint32_t>(spec.ids->groups.size()));
    for (gid_t g : spec.ids->groups) w.u32(g);
  }
  w.str(spec.cwd);
  strings(w, spec.argv);
  strings(w, spec.env);
  for (const auto& caps : {spec.bounding_caps, spec.inheritable_caps, spec.ambient_caps})
    if (caps) {
      w.u32(static_cast<std::uint32_t>(*caps));
      w.u32(static_cast<std::uint32_t>(*caps >> 32));
    }
  w.str(std::string(reinterpret_cast<const char*>(spec.extra_filter.data()), spec.extra_filter.size() * sizeof(sock_filter)));
  w.u32(static_cast<std::uint32_t>(spec.extra_fds.size()));
  w.u32(static_cast<std::uint32_t>(spec.rlimits.size()));
  for (const auto& r : spec.rlimits) {
    w.u32(static_cast<std::uint32_t>(r.resource));
    for (std::uint64_t v : {r.soft, r.hard}) {
      w.u32(static_cast<std::uint32_t>(v));
      w.u32(static_cast<std::uint32_t>(v >> 32));
    }
  }
  return w.bytes();
}

Result<LaunchMessage> decode_launch(std::string_view payload) {
  Reader r(payload);
  LaunchMessage m;
  m.id = r.u32();
  std::uint32_t flags = r.u32();
  m.nstdio = r.u32();
  LaunchSpec& s = m.spec;
  s.new_session = flags & kNewSession;
  s.only_stdio = flags & kOnlyStdio;
  s.set_signals = flags & kSetSignals;
  s.listen_pid = flags & kListenPid;
  std::vector<std::string> ignored, blocked;
  bool good = r.ok() && m.nstdio <= 3 && strings(r, ignored) && strings(r, blocked);
  for (const auto& v : ignored) s.ignored_signals.push_back(std::atoi(v.c_str()));
  for (const auto& v : blocked) s.blocked_signals.push_back(std::atoi(v.c_str()));
  if (good && (flags & kHasIds)) {
    LaunchIds ids;
    ids.uid = r.u32();
    ids.gid = r.u32();
    std::uint32_t n = r.u32();
    if (n > 65536) good = false;
    for (std::uint32_t i = 0; good && i < n && r.ok(); ++i) ids.groups.push_back(r.u32());
    s.ids = std::move(ids);
  }
  s.cwd = r.str();
  good = good && r.ok() && strings(r, s.argv) && strings(r, s.env) && !s.argv.empty();
  if (good && (flags & kHasBounding)) {
    std::uint64_t lo = r.u32(), hi = r.u32();
    s.bounding_caps = lo | (hi << 32);
  }
  if (good && (flags & kHasInheritable)) {
    std::uint64_t lo = r.u32(), hi = r.u32();
    s.inheritable_caps = lo | (hi << 32);
  }
  if (good && (flags & kHasAmbient)) {
    std::uint64_t lo = r.u32(), hi = r.u32();
    s.ambient_caps = lo | (hi << 32);
  }
  if (good) {
    std::string filter = r.str();
    if (filter.size() % sizeof(sock_filter) != 0 || filter.size() / sizeof(sock_filter) > BPF_MAXINSNS) good = false;
    s.extra_filter.resize(filter.size() / sizeof(sock_filter));
    if (good && !filter.empty()) std::memcpy(s.extra_filter.data(), filter.data(), filter.size());
    m.nextra = r.u32();
    std::uint32_t nlimits = r.u32();
    good = good && r.ok() && m.nextra <= static_cast<std::uint32_t>(kMaxExtraFds) &&
           nlimits <= static_cast<std::uint32_t>(kMaxRlimits);
    for (std::uint32_t i = 0; good && i < nlimits; ++i) {
      LaunchRlimit l;
      l.resource = static_cast<int>(r.u32());
      std::uint64_t v[2];
      for (auto& x : v) {
        std::uint64_t lo = r.u32(), hi = r.u32();
        x = lo | (hi << 32);
      }
      l.soft = v[0];
      l.hard = v[1];
      s.rlimits.push_back(l);
      good = r.ok();
    }
  }
  if (!good) return Error{EBADMSG, "malformed launch message"};
  return m;
}

}  // namespace lx::driver::nswire
