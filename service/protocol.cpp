// Frames: length-prefixed JSON with SCM_RIGHTS fds, read and written with plain sendmsg/recvmsg.
#include "protocol.h"

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace lx::service {
namespace {

// Waits until `sock` is readable or `deadline` passes (timeout_ms < 0: no deadline).
Result<void> wait_readable(int sock, int timeout_ms, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    int wait = -1;
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Error{ETIMEDOUT, "timed out waiting for a frame"};
      wait = static_cast<int>(left.count());
    }
    pollfd p{sock, POLLIN, 0};
    int r = poll(&p, 1, wait);
    if (r > 0) return ok();
    if (r == 0) return Error{ETIMEDOUT, "timed out waiting for a frame"};
    if (errno != EINTR) return Error::from_errno("poll");
  }
}

// `text` cut to a length fit for an error message (it may come from the peer).
std::string clip(std::string_view text) {
  constexpr std::size_t kMax = 200;
  if (text.size() <= kMax) return std::string(text);
  return fmt::format("{}... ({} bytes)", text.substr(0, kMax), text.size());
}

// The bounds of a frame, checked on its bytes before the JSON parser sees them. Outside a
// string, brackets and commas are structure; inside one, a backslash escapes the next byte:
// the same reading as the parser's, so what passes here cannot nest deeper, hold a longer
// string or more members once parsed (a payload that is not JSON fails the parse after).
Result<void> check_bounds(std::string_view payload) {
  std::size_t depth = 0;
  std::size_t commas[kMaxDepth + 1] = {};  // separators seen in the open container at each depth
  bool in_string = false;
  std::size_t string_bytes = 0;
  for (std::size_t i = 0; i < payload.size(); ++i) {
    char c = payload[i];
    if (in_string) {
      if (c == '"') {
        in_string = false;
        continue;
      }
      if (c == '\\') {
        ++i;
        ++string_bytes;
      }
      if (++string_bytes > kMaxString)
        return Error{EBADMSG, fmt::format("malformed frame: a string longer than {} bytes (kMaxString)", kMaxString)};
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        string_bytes = 0;
        break;
      case '[':
      case '{':
        if (++depth > kMaxDepth)
          return Error{EBADMSG, fmt::format("malformed frame: nested deeper than {} levels (kMaxDepth)", kMaxDepth)};
        commas[depth] = 0;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      case ',':
        if (depth > 0 && ++commas[depth] >= kMaxItems)
          return Error{EBADMSG, fmt::format("malformed frame: an array or object of more than {} members (kMaxItems)",
                                            kMaxItems)};
        break;
      default:
        break;
    }
  }
  return ok();
}

}  // namespace

Result<void> send_frame(int sock, const nlohmann::json& body, std::span<const int> fds) {
  if (fds.size() > kMaxFds) return Error::msg("too many fds for one frame");
  std::string payload = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (payload.size() > kMaxFrame) return Error{EMSGSIZE, "frame too large"};
  std::uint32_t n = static_cast<std::uint32_t>(payload.size());
  unsigned char header[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                             static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  std::string data(reinterpret_cast<char*>(header), 4);
  data += payload;
  std::size_t sent = 0;
  bool fds_sent = fds.empty();
  while (sent < data.size()) {
    iovec iov{data.data() + sent, data.size() - sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    if (!fds_sent) attach_fds(msg, control, fds);
    ssize_t w = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{sock, POLLOUT, 0};
        poll(&p, 1, 1000);
        continue;
      }
      return Error::from_errno("sendmsg");
    }
    fds_sent = true;
    sent += static_cast<std::size_t>(w);
  }
  return ok();
}

Result<Frame> recv_frame(int sock, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  Frame frame;
  unsigned char header[4];
  std::size_t got = 0;
  // The header, with any fds that came with the frame.
  while (got < sizeof header) {
    LX_TRY(wait_readable(sock, timeout_ms, deadline));
    iovec iov{header + got, sizeof header - got};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Error::from_errno("recvmsg");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        frame.fds.emplace_back(fd);
      }
    }
    if (msg.msg_flags & MSG_CTRUNC)
      return Error{EBADMSG, fmt::format("malformed frame: more than {} fds passed with it (kMaxFds)", kMaxFds)};
    if (r == 0) {
      if (got == 0) return Error{ECONNRESET, "connection closed"};
      return Error{EBADMSG, "connection closed in the middle of a frame"};
    }
    got += static_cast<std::size_t>(r);
  }
  std::uint32_t n = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                    (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
  if (n > kMaxFrame)
    return Error{EBADMSG, fmt::format("malformed frame: length {} is over the limit of {} bytes (kMaxFrame)", n, kMaxFrame)};
  std::string payload(n, '\0');
  got = 0;
  while (got < n) {
    LX_TRY(wait_readable(sock, timeout_ms, deadline));
    ssize_t r = recv(sock, payload.data() + got, n - got, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Error::from_errno("recv");
    }
    if (r == 0) return Error{EBADMSG, "connection closed in the middle of a frame"};
    got += static_cast<std::size_t>(r);
  }
  LX_TRY_ASSIGN(body, decode_payload(payload));
  frame.body = std::move(body);
  return frame;
}

Result<nlohmann::json> decode_payload(std::string_view payload) {
  LX_TRY(check_bounds(payload));
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(payload);
  } catch (const nlohmann::json::exception& e) {
    return Error{EBADMSG, fmt::format("malformed frame: not JSON ({})", clip(e.what()))};
  }
  if (!body.is_object()) return Error{EBADMSG, "malformed frame: not a JSON object"};
  return body;
}

}  // namespace lx::service
