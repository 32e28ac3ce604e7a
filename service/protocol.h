// The control protocol between `lx`, lxhostd and the instance processes: frames of a 4-byte
// big-endian length and a JSON object (nlohmann-json), over Unix stream sockets, with file
// descriptors passed beside a frame (SCM_RIGHTS), and the bounds every frame keeps. What a frame
// holds, each message of the protocol, is in messages.h.
#pragma once

#include "base/scm_rights.h"

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
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
/// The deepest nesting of arrays and objects in a frame (the top-level object is depth 1).
inline constexpr std::size_t kMaxDepth = 64;
/// The longest string in a frame, in bytes as sent (MAX_ARG_STRLEN, the kernel's own bound for
/// one argv or environment string).
inline constexpr std::size_t kMaxString = 128u << 10;
/// The most members of one array or object in a frame.
inline constexpr std::size_t kMaxItems = 65536;
/// The most fds a launch passes (its stdin, stdout, stderr).
inline constexpr std::size_t kMaxLaunchFds = 3;
/// The highest signal number a request may name.
inline constexpr int kMaxSignal = 64;

/// One received frame: its JSON body and the fds that came with it.
struct Frame {
  nlohmann::json body;        ///< a JSON object
  std::vector<UniqueFd> fds;  ///< received with MSG_CMSG_CLOEXEC
};

/// Points `msg` at `control` (CMSG_SPACE(sizeof(int) * fds.size()) bytes, cmsghdr-aligned) holding
/// an SCM_RIGHTS message that carries `fds`.
using lx::attach_fds;  // base/scm_rights.h

/// Sends `body` as one frame, with `fds` (at most kMaxFds). Safe against SIGPIPE.
Result<void> send_frame(int sock, const nlohmann::json& body, std::span<const int> fds = {});

/// Receives one frame. `timeout_ms` < 0 waits forever; on timeout the error code is ETIMEDOUT.
/// A peer that closed the connection before a frame gives code ECONNRESET ("connection
/// closed"); a frame too large (its length prefix is checked before anything more is read),
/// with too many fds, cut short, over a bound of decode_payload() or not a JSON object gives
/// EBADMSG with the reason, naming the bound. After an error the rest of the frame is unread:
/// the caller replies (or not) and closes the connection.
Result<Frame> recv_frame(int sock, int timeout_ms = -1);

/// Decodes a frame's payload: first a scan of the bytes for the bounds (kMaxDepth, kMaxString,
/// kMaxItems), so nothing deeper or larger ever reaches the JSON parser or the recursive code
/// after it (dump, copies); then the parse. Not a JSON object: EBADMSG. What recv_frame calls.
Result<nlohmann::json> decode_payload(std::string_view payload);

}  // namespace lx::service
