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
    if (!fds_sent) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
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
    if (auto r = wait_readable(sock, timeout_ms, deadline); !r) return std::move(r).error();
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
    if (auto r = wait_readable(sock, timeout_ms, deadline); !r) return std::move(r).error();
    ssize_t r = recv(sock, payload.data() + got, n - got, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Error::from_errno("recv");
    }
    if (r == 0) return Error{EBADMSG, "connection closed in the middle of a frame"};
    got += static_cast<std::size_t>(r);
  }
  auto body = decode_payload(payload);
  if (!body) return std::move(body).error();
  frame.body = std::move(*body);
  return frame;
}

Result<nlohmann::json> decode_payload(std::string_view payload) {
  if (auto r = check_bounds(payload); !r) return std::move(r).error();
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(payload);
  } catch (const nlohmann::json::exception& e) {
    return Error{EBADMSG, fmt::format("malformed frame: not JSON ({})", clip(e.what()))};
  }
  if (!body.is_object()) return Error{EBADMSG, "malformed frame: not a JSON object"};
  return body;
}

nlohmann::json error_reply(const std::string& message, int code) {
  return nlohmann::json{{"error", message}, {"errno", code}};
}

std::optional<Error> reply_error(const nlohmann::json& reply) {
  auto it = reply.find("error");
  if (it == reply.end() || !it->is_string()) return std::nullopt;
  return Error{reply.value("errno", 0), it->get<std::string>()};
}

}  // namespace lx::service

namespace lx::service {
namespace {

using nlohmann::json;

// A field of a request, checked against its type and bounds.
Error bad_field(std::string_view field, std::string_view why) {
  return Error{EBADMSG, fmt::format("malformed request: '{}' {}", field, why)};
}

Result<std::string> string_field(const json& req, std::string_view field, std::size_t max = kMaxString) {
  auto it = req.find(field);
  if (it == req.end() || it->is_null()) return std::string();
  if (!it->is_string()) return bad_field(field, "is not a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max) return bad_field(field, fmt::format("is longer than {} bytes", max));
  if (s.find('\0') != std::string::npos) return bad_field(field, "contains a NUL byte");
  return s;
}

Result<std::vector<std::string>> strings_field(const json& req, std::string_view field) {
  auto it = req.find(field);
  std::vector<std::string> out;
  if (it == req.end() || it->is_null()) return out;
  if (!it->is_array()) return bad_field(field, "is not an array of strings");
  if (it->size() > kMaxItems) return bad_field(field, fmt::format("has more than {} entries (kMaxItems)", kMaxItems));
  for (const auto& v : *it) {
    if (!v.is_string()) return bad_field(field, "is not an array of strings");
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() > kMaxString) return bad_field(field, fmt::format("has a string longer than {} bytes (kMaxString)", kMaxString));
    if (s.find('\0') != std::string::npos) return bad_field(field, "has a string with a NUL byte");
    out.push_back(s);
  }
  return out;
}

Result<std::vector<int>> signals_field(const json& req, std::string_view field) {
  auto it = req.find(field);
  std::vector<int> out;
  if (it == req.end() || it->is_null()) return out;
  if (!it->is_array()) return bad_field(field, "is not an array of signal numbers");
  if (it->size() > static_cast<std::size_t>(kMaxSignal)) return bad_field(field, fmt::format("has more than {} entries", kMaxSignal));
  for (const auto& v : *it) {
    if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > kMaxSignal)
      return bad_field(field, fmt::format("has an entry that is not a signal number (1 to {})", kMaxSignal));
    out.push_back(v.get<int>());
  }
  return out;
}

Result<bool> bool_field(const json& req, std::string_view field, bool def) {
  auto it = req.find(field);
  if (it == req.end() || it->is_null()) return def;
  if (!it->is_boolean()) return bad_field(field, "is not true or false");
  return it->get<bool>();
}

Result<int> int_field(const json& req, std::string_view field, int def, long long lo, long long hi) {
  auto it = req.find(field);
  if (it == req.end() || it->is_null()) return def;
  if (!it->is_number_integer() || it->get<long long>() < lo || it->get<long long>() > hi)
    return bad_field(field, fmt::format("is not an integer from {} to {}", lo, hi));
  return static_cast<int>(it->get<long long>());
}

}  // namespace

Result<json> check_request(const json& request, std::size_t fds) {
  if (!request.is_object()) return Error{EBADMSG, "malformed request: not a JSON object"};
  auto v = request.find("v");
  if (v == request.end() || !v->is_number_integer() || v->get<long long>() != kProtocolVersion) {
    std::string got = v == request.end() ? "none" : v->is_number_integer() ? std::to_string(v->get<long long>()) : "not a number";
    return Error{EPROTO, fmt::format("protocol version {} is not supported (lxhostd speaks {}); restart the service "
                                     "with 'lx service stop'", got, kProtocolVersion)};
  }
  auto cmd = string_field(request, "cmd", 64);
  if (!cmd) return std::move(cmd).error();
  json out{{"v", kProtocolVersion}, {"cmd", *cmd}};
  std::size_t max_fds = 0;
  // Each field read by the command, as out[field] (a failed check returns).
  auto take_string = [&](const char* f) -> Result<void> {
    auto r = string_field(request, f);
    if (!r) return std::move(r).error();
    out[f] = std::move(*r);
    return ok();
  };
  if (*cmd == "ping" || *cmd == "list-commands" || *cmd == "status" || *cmd == "shutdown" || *cmd == "list") {
  } else if (*cmd == "terminate" || *cmd == "default") {
    if (auto r = take_string("distro"); !r) return std::move(r).error();
  } else if (*cmd == "install" || *cmd == "import" || *cmd == "export" || *cmd == "uninstall") {
    for (const char* f : {"distro", "path"})
      if (auto r = take_string(f); !r) return std::move(r).error();
  } else if (*cmd == "run") {
    max_fds = kMaxLaunchFds;
    for (const char* f : {"distro", "cwd", "cd", "user"})
      if (auto r = take_string(f); !r) return std::move(r).error();
    for (const char* f : {"argv", "env", "sets"}) {
      auto r = strings_field(request, f);
      if (!r) return std::move(r).error();
      out[f] = std::move(*r);
    }
    for (const char* f : {"ignored_signals", "blocked_signals"}) {
      auto r = signals_field(request, f);
      if (!r) return std::move(r).error();
      out[f] = std::move(*r);
    }
    for (auto [f, def] : {std::pair{"tty", false}, std::pair{"stderr_tty", true}}) {
      auto r = bool_field(request, f, def);
      if (!r) return std::move(r).error();
      out[f] = *r;
    }
    for (auto [f, def] : {std::pair{"rows", 24}, std::pair{"cols", 80}}) {
      auto r = int_field(request, f, def, 0, 65535);
      if (!r) return std::move(r).error();
      out[f] = *r;
    }
  } else {
    return Error{EINVAL, fmt::format("unknown command '{}' (list-commands lists them)", *cmd)};
  }
  if (fds > max_fds)
    return Error{EBADMSG, fmt::format("malformed request: '{}' passes at most {} fds, not {}", *cmd, max_fds, fds)};
  return out;
}

}  // namespace lx::service
