// The lx side of the service: finding (and starting on demand) the user's lxhostd, and one
// request/response exchange with it.
#pragma once

#include <functional>
#include <span>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "service_paths.h"
#include "base/unique_fd.h"

namespace lx::service {

/// Connects to the user's daemon; when none answers and `start` is set, starts one in the
/// background (log in paths.log) and waits for it.
Result<UniqueFd> connect_daemon(const ServicePaths& paths, bool start);

/// Starts lxhostd in the background for `paths` and waits until it answers (or fails).
Result<void> start_daemon(const ServicePaths& paths);

/// The pid of the running daemon, or 0 when none answers.
pid_t daemon_pid(const ServicePaths& paths);

/// Called with each event frame ({"event": ...}) before the final reply.
using EventFn = std::function<void(const nlohmann::json&)>;

/// Sends `request` (the protocol version is added) with `fds` on `conn` and returns the final
/// reply; an error reply becomes an Error. Events go to `on_event`.
Result<nlohmann::json> exchange(int conn, nlohmann::json request, const EventFn& on_event = {},
                                std::span<const int> fds = {});

}  // namespace lx::service
