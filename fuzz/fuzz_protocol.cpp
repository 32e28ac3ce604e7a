// libFuzzer target for the control protocol, on the path a hostile client reaches: the bytes of
// one frame through recv_frame() (length prefix, fds, bounds, JSON) and decode_message() of the
// typed requests, exactly as lxhostd's connection thread calls them; then what an accepted
// request becomes: rebuilt from its fields it checks again the same, and a run request on its
// way to the instance (a LaunchCommand, dumped, read again by the instance) arrives unchanged.
// Input: first byte 0 = the rest is the raw stream; otherwise the rest is a payload, sent with
// its correct length prefix and (first byte - 1) % 5 fds.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "messages.h"
#include "protocol.h"

namespace {

using lx::service::Frame;
using nlohmann::json;

// Dies (a finding) when `v` breaks a bound decode_payload() promises.
void check_bounded(const json& v) {
  std::vector<std::pair<const json*, std::size_t>> todo{{&v, 1}};
  while (!todo.empty()) {
    auto [j, depth] = todo.back();
    todo.pop_back();
    if ((j->is_array() || j->is_object()) && (depth > lx::service::kMaxDepth || j->size() > lx::service::kMaxItems)) {
      std::fprintf(stderr, "bound broken: depth %zu, %zu members\n", depth, j->size());
      std::abort();
    }
    if (j->is_string() && j->get_ref<const std::string&>().size() > lx::service::kMaxString) {
      std::fprintf(stderr, "bound broken: string of %zu bytes\n", j->get_ref<const std::string&>().size());
      std::abort();
    }
    if (j->is_object())
      for (auto it = j->begin(); it != j->end(); ++it) {
        if (it.key().size() > lx::service::kMaxString) std::abort();
        todo.emplace_back(&it.value(), depth + 1);
      }
    else if (j->is_array())
      for (const auto& e : *j) todo.emplace_back(&e, depth + 1);
  }
}

// Sends `stream` with `nfds` fds on one end of a socket pair and receives a frame on the other,
// as lxhostd does. The stream is small enough (-max_len) to fit the socket's buffer.
lx::Result<Frame> receive(const std::string& stream, int nfds) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
  lx::UniqueFd a(sv[0]), b(sv[1]);
  std::vector<int> fds(static_cast<std::size_t>(nfds), sv[0]);
  if (!stream.empty()) {
    // The first byte carries the fds, the rest follows.
    msghdr msg{};
    iovec iov{const_cast<char*>(stream.data()), stream.size()};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
    if (nfds > 0) lx::service::attach_fds(msg, control, fds);
    if (sendmsg(sv[0], &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != static_cast<ssize_t>(stream.size())) std::abort();
  }
  shutdown(sv[0], SHUT_WR);
  return lx::service::recv_frame(b.get(), 1000);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string stream;
  int nfds = 0;
  if (data[0] == 0) {
    stream = rest;
  } else {
    nfds = (data[0] - 1) % 5;
    auto n = static_cast<std::uint32_t>(rest.size());
    stream = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
    stream += rest;
  }
  auto frame = receive(stream, nfds);
  if (!frame) return 0;
  check_bounded(frame->body);
  // lxhostd's connection thread.
  namespace svc = lx::service;
  auto req = svc::decode_message<svc::AnyRequest>(frame->body, frame->fds.size());
  if (!req) {
    (void)svc::encode(svc::ErrorReply::from(req.error())).dump();
    return 0;
  }
  // An accepted request, rebuilt from its fields, checks again the same.
  json rebuilt = std::visit([](const auto& m) { return svc::encode(m); }, *req);
  auto again = svc::check_request(rebuilt, frame->fds.size());
  if (!again || *again != rebuilt) {
    std::fprintf(stderr, "a checked request does not check again the same\n");
    std::abort();
  }
  // A run request goes to the instance, which must read and accept it unchanged.
  const auto* run = std::get_if<svc::RunRequest>(&*req);
  if (!run) return 0;
  svc::LaunchCommand launch;
  launch.request = *run;
  std::string payload = svc::encode(launch).dump(-1, ' ', false, json::error_handler_t::replace);
  auto body = svc::decode_payload(payload);
  if (!body) {
    std::fprintf(stderr, "the instance refuses what lxhostd accepted: %s\n", body.error().message.c_str());
    std::abort();
  }
  auto inner = svc::decode_message<svc::InstanceCommand>(*body, 1 + frame->fds.size());
  if (!inner || !std::holds_alternative<svc::LaunchCommand>(*inner) ||
      std::get<svc::LaunchCommand>(*inner).request != *run) {
    std::fprintf(stderr, "the instance reads another launch than lxhostd sent\n");
    std::abort();
  }
  return 0;
}
