// Client: connect, start lxhostd on demand (double fork, new session, log file), exchange frames.
#include "client.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "messages.h"
#include "protocol.h"

namespace lx::service {
namespace {

Result<UniqueFd> try_connect(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::from_errno("socket(AF_UNIX)");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error{ENAMETOOLONG, fmt::format("socket path too long: {}", path)};
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Error::from_errno(fmt::format("connect({})", path));
  return fd;
}

}  // namespace

pid_t daemon_pid(const ServicePaths& paths) {
  auto c = try_connect(paths.socket);
  if (!c) return 0;
  auto r = ask<PingReply>(c->get(), PingRequest{});
  return r ? r->pid : 0;
}

Result<void> start_daemon(const ServicePaths& paths) {
  if (auto r = paths.prepare_runtime_dir(); !r) return r;
  std::string prog = executable_dir() + "/lxhostd";
  if (access(prog.c_str(), X_OK) != 0) return Error::from_errno(fmt::format("cannot run {}", prog));
  pid_t child = fork();
  if (child < 0) return Error::from_errno("fork");
  if (child == 0) {
    // The daemon: its own session, no terminal, output to the log; the middle process exits so
    // the daemon is nobody's child here.
    setsid();
    if (fork() != 0) _exit(0);
    int null = open("/dev/null", O_RDWR);
    int logfd = open(paths.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(null, 0);
    dup2(logfd >= 0 ? logfd : null, 1);
    dup2(logfd >= 0 ? logfd : null, 2);
    for (int fd = 3; fd < 1024; ++fd) close(fd);
    execl(prog.c_str(), prog.c_str(), "--runtime-dir", paths.runtime_dir.c_str(), "--data-dir", paths.data_dir.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  waitpid(child, nullptr, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (try_connect(paths.socket)) return ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Error::msg(fmt::format("lxhostd did not start listening on {} (see {})", paths.socket, paths.log));
}

Result<UniqueFd> connect_daemon(const ServicePaths& paths, bool start) {
  auto c = try_connect(paths.socket);
  if (c || !start) {
    if (!c && (c.error().code == ENOENT || c.error().code == ECONNREFUSED))
      return Error{c.error().code, "lxhostd is not running (start it with 'lx service start')"};
    return c;
  }
  if (c.error().code != ENOENT && c.error().code != ECONNREFUSED) return c;
  if (auto r = start_daemon(paths); !r) {
    // Another lx may have started it at the same time.
    if (auto again = try_connect(paths.socket)) return again;
    return std::move(r).error();
  }
  return try_connect(paths.socket);
}

Result<nlohmann::json> exchange(int conn, const nlohmann::json& request, const EventFn& on_event) {
  LX_TRY(send_frame(conn, request));
  for (;;) {
    auto f = recv_frame(conn, -1);
    if (!f) {
      if (f.error().code == ECONNRESET) return Error{ECONNRESET, "lxhostd closed the connection without a reply"};
      return std::move(f).error();
    }
    if (is_event(f->body)) {
      auto event = decode_message<ClientEvent>(f->body);
      if (event && on_event) on_event(*event);
      continue;
    }
    if (auto e = reply_error(f->body)) return *e;
    return std::move(f->body);
  }
}

}  // namespace lx::service
