// The lx side of the service: finding (and starting on demand) the user's lxhostd, and one
// request/response exchange with it.
#pragma once

#include <functional>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "base/unique_fd.h"
#include "messages.h"
#include "service_paths.h"

namespace lx::service {

/// Connects to the user's daemon; when none answers and `start` is set, starts one in the
/// background (log in paths.log) and waits for it.
Result<UniqueFd> connect_daemon(const ServicePaths& paths, bool start);

/// Starts lxhostd in the background for `paths` and waits until it answers (or fails).
Result<void> start_daemon(const ServicePaths& paths);

/// The pid of the running daemon, or 0 when none answers.
pid_t daemon_pid(const ServicePaths& paths);

/// Called with each event before the final reply.
using EventFn = std::function<void(const ClientEvent&)>;

/// Sends `request` (a frame's JSON) on `conn` and returns the final reply; an error reply
/// becomes an Error. Events go to `on_event` (those of no known kind are passed over).
Result<nlohmann::json> exchange(int conn, const nlohmann::json& request, const EventFn& on_event = {});

/// One request to lxhostd on `conn` and its reply, typed.
template <class Reply, class Request>
Result<Reply> ask(int conn, const Request& request, const EventFn& on_event = {}) {
  LX_TRY_ASSIGN(reply, exchange(conn, encode(request), on_event));
  return decode<Reply>(reply);
}

}  // namespace lx::service
