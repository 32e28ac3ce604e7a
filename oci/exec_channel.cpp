// The monitor's exec socket (see exec_channel.h).
#include "oci/exec_channel.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "base/scm_rights.h"

namespace lx::oci {
namespace {

constexpr std::size_t kMaxMessage = 256 * 1024;
constexpr std::size_t kMaxFds = 3;

Result<sockaddr_un> address_of(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return Error{ENAMETOOLONG, "exec socket path too long: " + path};
  std::memcpy(a.sun_path, path.c_str(), path.size());
  return a;
}

}  // namespace

Result<void> send_message(int sock, const nlohmann::json& body, std::span<const int> fds) {
  std::string text = body.dump();
  if (text.size() > kMaxMessage) return Error{EMSGSIZE, "exec message too large"};
  iovec iov{text.data(), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)]{};
  if (!fds.empty()) attach_fds(msg, control, fds.first(std::min(fds.size(), kMaxFds)));
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno("sendmsg on the exec socket");
  return ok();
}

Result<ChannelMessage> receive_message(int sock) {
  std::string buf(kMaxMessage, '\0');
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)]{};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno("recvmsg on the exec socket");
  ChannelMessage m;
  take_fds(msg, m.fds, [](int fd) { return UniqueFd(fd); });
  if (n == 0) return Error{ECONNRESET, "the exec socket's peer is gone"};
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return Error{EBADMSG, "exec message truncated"};
  m.body = nlohmann::json::parse(buf.substr(0, static_cast<std::size_t>(n)), nullptr, false);
  if (m.body.is_discarded() || !m.body.is_object()) return Error{EBADMSG, "exec message is not a JSON object"};
  return m;
}

struct ExecServer::Impl {
  UniqueFd listener;
  std::thread thread;
  std::function<void(UniqueFd)> serve;
};

Result<std::unique_ptr<ExecServer>> ExecServer::listen(const std::string& path, std::function<void(UniqueFd)> serve) {
  LX_TRY_ASSIGN(addr, address_of(path));
  std::unique_ptr<ExecServer> s(new ExecServer);
  s->impl_ = std::make_unique<Impl>();
  s->impl_->serve = std::move(serve);
  s->impl_->listener.reset(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s->impl_->listener) return Error::from_errno("socket");
  ::unlink(path.c_str());
  mode_t old = umask(077);
  int rc = bind(s->impl_->listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (rc != 0) return Error::from_errno("bind " + path);
  if (::listen(s->impl_->listener.get(), 16) != 0) return Error::from_errno("listen " + path);
  Impl* impl = s->impl_.get();
  s->impl_->thread = std::thread([impl] {
    for (;;) {
      UniqueFd conn(accept4(impl->listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      ucred cred{};
      socklen_t len = sizeof cred;
      if (getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
          (cred.uid != geteuid() && cred.uid != 0))
        continue;  // only the container's owner may run processes in it
      std::thread([impl, c = std::move(conn)]() mutable { impl->serve(std::move(c)); }).detach();
    }
  });
  return s;
}

ExecServer::~ExecServer() {
  if (impl_ && impl_->thread.joinable()) {
    shutdown(impl_->listener.get(), SHUT_RDWR);
    impl_->thread.join();
  }
}

Result<UniqueFd> connect_exec(const std::string& path) {
  LX_TRY_ASSIGN(addr, address_of(path));
  UniqueFd s(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) return Error::from_errno("socket");
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Error::from_errno("connecting to the container's monitor at " + path);
  return s;
}

}  // namespace lx::oci
