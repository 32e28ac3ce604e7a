// lxhost-runc exec: another process in a running container. The container's processes are one
// lxhost instance held by its monitor (container.h), so `exec` asks the monitor over a Unix
// socket in the container's state directory (STATE/ID/exec.sock, 0600 in a 0700 directory, and
// the peer's uid checked): one SOCK_SEQPACKET message per request or event, JSON, the request
// carrying the process's three standard fds.
//
//   client → monitor  {"process": {...}} + fds 0, 1, 2      the process, as config.json's
//   monitor → client  {"pid": N}                            it runs (host pid)
//   client → monitor  {"signal": S}                         pass S to it (as often as wanted)
//   monitor → client  {"exit": CODE, "signal": S}           it ended (S: the killing signal, or 0)
//   monitor → client  {"error": "..."}                      it could not be started
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "base/unique_fd.h"

namespace lx::oci {

/// One message: JSON and the fds that came with it.
struct ChannelMessage {
  nlohmann::json body;
  std::vector<UniqueFd> fds;
};

/// Sends `body` with `fds` on SOCK_SEQPACKET socket `sock`.
Result<void> send_message(int sock, const nlohmann::json& body, std::span<const int> fds = {});
/// Receives one message; ECONNRESET at EOF, EBADMSG when it is not JSON.
Result<ChannelMessage> receive_message(int sock);

/// The monitor's side: listens at `path`. `serve` is called on a thread of its own for each
/// connection of a peer of this uid (or root), with the connected socket.
class ExecServer {
 public:
  static Result<std::unique_ptr<ExecServer>> listen(const std::string& path, std::function<void(UniqueFd)> serve);
  ~ExecServer();

 private:
  ExecServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The client's side: connects to the monitor at `path`.
Result<UniqueFd> connect_exec(const std::string& path);

}  // namespace lx::oci
