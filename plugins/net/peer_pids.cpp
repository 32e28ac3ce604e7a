// ConnectingPids and the sock_diag query for an AF_UNIX socket's peer.
#include "peer_pids.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "base/unique_fd.h"

namespace lx::net {

void ConnectingPids::record(ino_t ino, pid_t pid) {
  std::lock_guard lock(mu_);
  if (pids_.insert_or_assign(ino, pid).second) order_.push_back(ino);
  while (order_.size() > kMax) {
    pids_.erase(order_.front());
    order_.pop_front();
  }
}

pid_t ConnectingPids::find(ino_t ino) const {
  std::lock_guard lock(mu_);
  auto it = pids_.find(ino);
  return it == pids_.end() ? 0 : it->second;
}

namespace {

// Asks sock_diag about AF_UNIX socket `ino` (`show`: UDIAG_SHOW_*) and hands each attribute of the
// answer to `each` (type, payload, length); false when the kernel did not answer about it.
template <class Each>
bool unix_diag(ino_t ino, unsigned show, Each each) {
  UniqueFd nl(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!nl) return false;
  struct {
    nlmsghdr nlh;
    unix_diag_req req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = ~0u;
  msg.req.udiag_ino = static_cast<unsigned>(ino);
  msg.req.udiag_show = show;
  msg.req.udiag_cookie[0] = msg.req.udiag_cookie[1] = ~0u;  // INET_DIAG_NOCOOKIE: any socket
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(nl.get(), &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) return false;
  alignas(nlmsghdr) char buf[8192];
  ssize_t n = recv(nl.get(), buf, sizeof buf, 0);
  if (n <= 0) return false;
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  if (!NLMSG_OK(h, static_cast<unsigned>(n)) || h->nlmsg_type != SOCK_DIAG_BY_FAMILY) return false;
  auto* m = static_cast<unix_diag_msg*>(NLMSG_DATA(h));
  if (m->udiag_ino != ino) return false;
  int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
  for (auto* a = reinterpret_cast<rtattr*>(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len))
    each(a->rta_type, RTA_DATA(a), RTA_PAYLOAD(a));
  return true;
}

}  // namespace

ino_t unix_peer_inode(ino_t ino) {
  std::uint32_t peer = 0;
  unix_diag(ino, UDIAG_SHOW_PEER, [&](unsigned type, const void* data, std::size_t len) {
    if (type == UNIX_DIAG_PEER && len >= sizeof peer) std::memcpy(&peer, data, sizeof peer);
  });
  return peer;
}

}  // namespace lx::net
