// The wire between a kernel-backed instance's host side (KernelInstance) and its init (pid 1 of
// the instance's PID namespace): typed messages on a stream socket, a fixed header then a
// payload of integers and length-prefixed strings, fds passed with the header (SCM_RIGHTS).
// Both ends are lxhost's own; the payload is still checked (bounds, every read) before use.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "driver/launcher.h"

namespace lx::driver::nswire {

/// Message types. Host → init: kLaunch, kEnd. Init → host: the rest.
enum class Type : std::uint32_t {
  kLaunch = 1,        ///< start a launch (payload: LaunchMessage; fds: stdio..., report, go);
                      ///< the launch's process reports to the host itself (Report)
  kEnd = 2,           ///< end the instance (payload: grace in ms)
  kReady = 10,        ///< the namespaces are set up (payload: "" or a line on what was converted;
                      ///< fd: the instance's root, O_PATH)
  kSetupFailed = 11,  ///< setting them up failed (payload: why)
  kExited = 13,       ///< a launch's process ended (payload: id, wait status)
  kLaunchFailed = 14, ///< a launch could not be forked (payload: id, errno)
  kUnshared = 20,     ///< (starting) the user namespace exists: map its ids
  kMapped = 21,       ///< (starting) its ids are mapped
  kInitPid = 22,      ///< (starting) init forked (payload: its pid; fd: its pidfd)
};

/// The largest payload either end accepts.
inline constexpr std::uint32_t kMaxPayload = 8u << 20;
/// The most fds one message carries.
inline constexpr int kMaxFds = 40;  // 3 standard + LaunchSpec::extra_fds + report + go

/// Builds a payload.
class Writer {
 public:
  void u32(std::uint32_t v) { buf_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void u64(std::uint64_t v) { buf_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    buf_.append(s);
  }
  const std::string& bytes() const noexcept { return buf_; }

 private:
  std::string buf_;
};

/// Reads a payload; any read past its end makes ok() false (and returns zeros).
class Reader {
 public:
  explicit Reader(std::string_view bytes) : p_(bytes) {}
  std::uint32_t u32() { return take<std::uint32_t>(); }
  std::uint64_t u64() { return take<std::uint64_t>(); }
  std::string str() {
    std::uint32_t n = u32();
    if (!ok_ || n > p_.size()) return ok_ = false, std::string();
    std::string s(p_.substr(0, n));
    p_.remove_prefix(n);
    return s;
  }
  bool ok() const noexcept { return ok_; }

 private:
  template <class T>
  T take() {
    T v{};
    if (p_.size() < sizeof v) return ok_ = false, v;
    __builtin_memcpy(&v, p_.data(), sizeof v);
    p_.remove_prefix(sizeof v);
    return v;
  }
  std::string_view p_;
  bool ok_ = true;
};

/// One received message.
struct Message {
  Type type{};
  std::string payload;
  std::vector<UniqueFd> fds;
};

/// Sends one message with `fds` (may be empty). Safe only from one thread at a time per socket.
Result<void> send(int sock, Type type, const std::string& payload, std::span<const int> fds = {});
/// Receives one message; ECONNRESET when the other end is gone.
Result<Message> recv(int sock);

}  // namespace lx::driver::nswire

namespace lx::driver::nswire {

/// A launch as init receives it.
struct LaunchMessage {
  std::uint32_t id = 0;
  LaunchSpec spec;         ///< stdio unset: the fds arrive with the message
  std::uint32_t nstdio = 0;  ///< how many of the message's fds are the standard ones (then extra, report, go)
  std::uint32_t nextra = 0;  ///< how many follow them as LaunchSpec::extra_fds
};

/// The payload of a kLaunch for `spec`, sending `nstdio` standard fds.
std::string encode_launch(std::uint32_t id, const LaunchSpec& spec, std::uint32_t nstdio);
/// The launch of a kLaunch payload; EBADMSG when malformed.
Result<LaunchMessage> decode_launch(std::string_view payload);

/// What a launch's process reports on its report socket before exec (nothing more once exec'd;
/// the socket carries its pid with each report: SCM_CREDENTIALS).
struct Report {
  std::int32_t kind = 0;  ///< 1: filter installed, `a` is its listener fd (-1: none); 2: failed
  std::int32_t a = 0;     ///< listener fd, or the failed step (1 chdir, 3 seccomp, 4 exec, 5 ids)
  std::int32_t b = 0;     ///< errno of the failed step
};

}  // namespace lx::driver::nswire
