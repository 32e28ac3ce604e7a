// The control protocol between `lx`, lxhostd and the instance processes: frames of a 4-byte
// big-endian length and a JSON object (nlohmann-json), over Unix stream sockets, with file
// descriptors passed beside a frame (SCM_RIGHTS). Every request carries the protocol version.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "base/unique_fd.h"

namespace lx::service {

/// The protocol version; a request with another one is refused.
inline constexpr int kProtocolVersion = 1;
/// The largest frame accepted (a launch carries argv and the environment).
inline constexpr std::uint32_t kMaxFrame = 4u << 20;
/// The most fds passed with one frame.
inline constexpr std::size_t kMaxFds = 8;

/// One received frame: its JSON body and the fds that came with it.
struct Frame {
  nlohmann::json body;        ///< a JSON object
  std::vector<UniqueFd> fds;  ///< received with MSG_CMSG_CLOEXEC
};

/// Sends `body` as one frame, with `fds` (at most kMaxFds). Safe against SIGPIPE.
Result<void> send_frame(int sock, const nlohmann::json& body, std::span<const int> fds = {});

/// Receives one frame. `timeout_ms` < 0 waits forever; on timeout the error code is ETIMEDOUT.
/// A peer that closed the connection before a frame gives code ECONNRESET ("connection
/// closed"); a frame too large, cut short or not a JSON object gives EBADMSG with the reason.
Result<Frame> recv_frame(int sock, int timeout_ms = -1);

/// An error reply: {"error": message, "errno": code}.
nlohmann::json error_reply(const std::string& message, int code = 0);

/// The error a reply carries, if it is an error reply.
std::optional<Error> reply_error(const nlohmann::json& reply);

}  // namespace lx::service
