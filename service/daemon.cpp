// The daemon's connection server: Boost.Asio accepts connections and runs the linger timers and
// signal handling on the main thread; each connection is served on its own thread with blocking
// frames and a timeout (so a slow or garbage-sending peer never stalls the others). A request is
// checked (decode_message), handled by one function per request type that returns its reply,
// and answered in one place, serve(). The instances are InstanceSupervisor's, the install state
// StoreOperations'.
#include "daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "base/proc_status.h"
#include "daemon_log.h"
#include "instance_supervisor.h"
#include "messages.h"
#include "protocol.h"
#include "store_operations.h"

namespace lx::service {
namespace asio = boost::asio;

namespace {

constexpr int kRequestTimeoutMs = 10000;

// What a request comes to: a reply to send, nothing (an instance answers, or the peer left
// before asking), or an error reply.
using Handled = Result<std::optional<DaemonReply>>;
using Fds = std::vector<UniqueFd>;

template <class R>
Handled reply(R r) {
  return std::optional<DaemonReply>(std::move(r));
}
Handled nothing() { return std::optional<DaemonReply>(); }

// One daemon per user: the lock is taken before the socket is touched, and holds our pid. EAGAIN
// when another daemon holds it.
Result<UniqueFd> take_lock(const std::string& path) {
  UniqueFd lock(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) return Error{errno, fmt::format("cannot open {}: {}", path, strerror(errno))};
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    (void)!pread(lock.get(), buf, sizeof buf - 1, 0);
    return Error{EAGAIN, fmt::format("lxhostd is already running for uid {} (pid {}; lock {})", getuid(), atoi(buf), path)};
  }
  std::string pid = fmt::format("{}\n", getpid());
  (void)!ftruncate(lock.get(), 0);
  (void)!pwrite(lock.get(), pid.data(), pid.size(), 0);
  return lock;
}

// Socket activation (sd_listen_fds(3), without libsystemd): systemd passes a listening socket as
// fd 3 with LISTEN_FDS=1 and LISTEN_PID=<our pid>. -1 when none was passed to us; the variables
// are removed either way, so that no instance inherits them.
Result<int> activated_socket() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  bool ours = pid && fds && std::strtol(pid, nullptr, 10) == getpid();
  std::string count = fds ? fds : "";
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  if (!ours || count == "0") return -1;
  if (count != "1")
    return Error{EINVAL, fmt::format("socket activation: LISTEN_FDS={}, lxhostd takes one socket", count)};
  constexpr int fd = 3;  // SD_LISTEN_FDS_START
  int domain = 0, type = 0, listening = 0;
  socklen_t len = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || domain != AF_UNIX ||
      type != SOCK_STREAM || !listening)
    return Error{EINVAL, "socket activation: fd 3 is not a listening Unix stream socket (ListenStream=PATH)"};
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

// The path a Unix socket is bound to ("" if none).
std::string socket_path(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || len <= offsetof(sockaddr_un, sun_path))
    return "";
  return std::string(addr.sun_path, strnlen(addr.sun_path, len - offsetof(sockaddr_un, sun_path)));
}

}  // namespace

class Daemon::Impl {
 public:
  explicit Impl(DaemonOptions o)
      : opts_(std::move(o)),
        instances_(io_, opts_.instance_program, opts_.system_config_dir),
        store_(opts_.paths.data_dir, instances_) {}
  int run();

 private:
  Result<void> listen(int inherited);
  void accept();
  void serve(UniqueFd conn);
  Handled handle_connection(int conn, bool& stop_after);
  void stop();

  // One handler per request: its reply, sent by serve().
  Handled handle(int conn, const PingRequest&, Fds&);
  Handled handle(int conn, const ListCommandsRequest&, Fds&);
  Handled handle(int conn, const RunRequest& request, Fds& stdio);
  Handled handle(int conn, const StatusRequest&, Fds&);
  Handled handle(int conn, const TerminateRequest& request, Fds&);
  Handled handle(int conn, const ShutdownRequest&, Fds&);
  template <StoreOp Op, Name N>
  Handled handle(int conn, const StoreRequest<Op, N>& request, Fds&);
  Handled handle(int conn, const ListRequest&, Fds&);
  Handled handle(int conn, const DefaultRequest& request, Fds&);

  DaemonOptions opts_;
  asio::io_context io_;
  std::unique_ptr<asio::local::stream_protocol::acceptor> acceptor_;
  bool activated_ = false;  // the socket is systemd's: not bound, not removed by us
  InstanceSupervisor instances_;
  StoreOperations store_;
};

Daemon::Daemon(DaemonOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Daemon::~Daemon() = default;
int Daemon::run() { return impl_->run(); }

int Daemon::Impl::run() {
  const auto& paths = opts_.paths;
  auto inherited = activated_socket();  // before anything forks: its variables go
  if (!inherited) {
    log(inherited.error().message);
    return 1;
  }
  if (auto r = paths.prepare_runtime_dir(); !r) {
    log(r.error().message);
    return 1;
  }
  auto lock = take_lock(paths.lock);
  if (!lock) {
    log(lock.error().message);
    return lock.error().code == EAGAIN ? 3 : 1;
  }
  signal(SIGPIPE, SIG_IGN);
  if (auto r = store_.recover(); !r) log(fmt::format("recovering the install state: {}", r.error().message));
  if (auto r = listen(*inherited); !r) {
    log(r.error().message);
    return 1;
  }
  log(fmt::format("listening on {}{} (data in {})", paths.socket, activated_ ? ", a socket from systemd" : "",
                  paths.data_dir));
  asio::signal_set signals(io_, SIGTERM, SIGINT, SIGHUP);
  signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log(fmt::format("{}: ending every instance and exiting", strsignal(sig)));
    std::thread([this] {
      instances_.shutdown_all();
      stop();
    }).detach();
  });
  accept();
  io_.run();
  if (!activated_) unlink(paths.socket.c_str());
  log("stopped");
  std::fflush(nullptr);
  _exit(0);  // connection threads may still be blocked on their peers
}

// Serves `inherited`, a listening socket from systemd, when it is one (>= 0); else binds the socket.
Result<void> Daemon::Impl::listen(int inherited) {
  const std::string& path = opts_.paths.socket;
  acceptor_ = std::make_unique<asio::local::stream_protocol::acceptor>(io_);
  if (inherited >= 0) {
    activated_ = true;
    if (std::string bound = socket_path(inherited); bound != path)
      log(fmt::format("the socket from systemd is {}, but lx looks for {}", bound.empty() ? "unnamed" : bound, path));
    boost::system::error_code ec;
    acceptor_->assign(asio::local::stream_protocol(), inherited, ec);
    if (ec) return Error{ec.value(), fmt::format("socket activation: {}", ec.message())};
    return ok();
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    return Error{ENAMETOOLONG, fmt::format("cannot listen on {}: the path is too long for a socket", path)};
  unlink(path.c_str());  // a stale socket: we hold the lock, so no daemon owns it
  boost::system::error_code ec;
  asio::local::stream_protocol::endpoint ep(path);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) chmod(path.c_str(), 0600);
  if (!ec) acceptor_->listen(128, ec);
  if (ec) return Error{ec.value(), fmt::format("cannot listen on {}: {}", path, ec.message())};
  return ok();
}

void Daemon::Impl::accept() {
  acceptor_->async_accept([this](const boost::system::error_code& ec, asio::local::stream_protocol::socket sock) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      log(fmt::format("accept: {}", ec.message()));
    } else {
      boost::system::error_code ignored;
      int fd = sock.release(ignored);
      std::thread([this, fd] { serve(UniqueFd(fd)); }).detach();
    }
    accept();
  });
}

void Daemon::Impl::serve(UniqueFd conn) {
  bool stop_after = false;
  Handled handled = nothing();
  try {
    handled = handle_connection(conn.get(), stop_after);
  } catch (const std::exception& e) {
    // Not expected (the handlers return their errors); the daemon goes on.
    log(fmt::format("a request failed: {}", e.what()));
    handled = Error{EIO, fmt::format("lxhostd failed: {}", e.what())};
  }
  if (!handled) (void)send_message(conn.get(), ErrorReply::from(handled.error()));
  else if (*handled) std::visit([&](const auto& r) { (void)send_message(conn.get(), r); }, **handled);
  if (stop_after) stop();
}

namespace {

// Whether process `pid` is a guest of an lx (of this service's instances or an `lx exec`): in
// another pid namespace (the kernel backend's), or traced under a seccomp filter with
// no_new_privs (the emulated backend's, which no guest can shed). A guest that reached this
// socket (the default mounts bind the host's /tmp, where the runtime directory may be) would
// start an instance of its own choosing, unconfined.
bool is_guest(pid_t pid) {
  struct stat theirs, ours;
  if (::stat(fmt::format("/proc/{}/ns/pid", pid).c_str(), &theirs) != 0 || ::stat("/proc/self/ns/pid", &ours) != 0)
    return true;
  if (theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev) return true;
  auto status = ProcStatus::read(pid);
  if (!status) return true;
  return status->tracer_pid().value_or(0) != 0 && status->field("Seccomp") == std::string_view("2") &&
         status->field("NoNewPrivs") == std::string_view("1");
}

// Whether process `pid` is an lx that traces guests (an `lx exec`, an instance): where lx
// connects an AF_UNIX socket on a guest's behalf, the peer the kernel records is lx.
bool traces_guests(pid_t pid) {
  DIR* d = opendir("/proc");
  if (!d) return true;
  bool found = false;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    pid_t traced = std::atoi(e->d_name);
    auto status = ProcStatus::read(traced);
    pid_t tracer = status ? status->tracer_pid().value_or(0) : 0;
    if (tracer == 0 || !is_guest(traced)) continue;
    auto t = ProcStatus::read(tracer);
    if (tracer == pid || (t && t->tgid() == pid)) {
      found = true;
      break;
    }
  }
  closedir(d);
  return found;
}

}  // namespace

Handled Daemon::Impl::handle_connection(int conn, bool& stop_after) {
  // Only this user's processes are served, and none of them a guest.
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != getuid()) {
    log(fmt::format("refused a connection from pid {} uid {}: not uid {}", cred.pid, cred.uid, getuid()));
    return Error{EACCES, fmt::format("refused: lxhostd of uid {} serves only its own user, not uid {}", getuid(), cred.uid)};
  }
  bool guest = is_guest(cred.pid) || traces_guests(cred.pid);
  auto frame = recv_frame(conn, kRequestTimeoutMs);  // read first: the refusal is then the reply
  if (guest) {
    log(fmt::format("refused a connection from pid {}: a guest of lx", cred.pid));
    return Error{EACCES, "refused: lxhostd serves no guest of lx (a guest reaches nothing outside its instance)"};
  }
  if (!frame) {
    const Error& e = frame.error();
    if (e.code == ECONNRESET) return nothing();
    log(fmt::format("pid {}: bad request: {}", cred.pid, e.message));
    return Error{e.code, e.code == ETIMEDOUT ? "timed out waiting for a request" : "malformed request: " + e.message};
  }
  // Only the fields a command reads, checked and bounded, go further (and to an instance).
  auto request = decode_message<AnyRequest>(frame->body, frame->fds.size());
  if (!request) {
    log(fmt::format("pid {}: bad request: {}", cred.pid, request.error().message));
    return std::move(request).error();
  }
  stop_after = std::holds_alternative<ShutdownRequest>(*request);
  return std::visit([&](const auto& r) { return handle(conn, r, frame->fds); }, *request);
}

void Daemon::Impl::stop() {
  asio::post(io_, [this] {
    boost::system::error_code ec;
    if (acceptor_) acceptor_->close(ec);
    io_.stop();
  });
}

Handled Daemon::Impl::handle(int, const PingRequest&, Fds&) {
  PingReply r;
  r.pid = getpid();
  r.protocol = kProtocolVersion;
  r.socket = opts_.paths.socket;
  r.data_dir = opts_.paths.data_dir;
  return reply(r);
}

Handled Daemon::Impl::handle(int, const ListCommandsRequest&, Fds&) {
  CommandsReply r;
  r.commands = message_names<AnyRequest>();
  return reply(r);
}

Handled Daemon::Impl::handle(int conn, const RunRequest& request, Fds& stdio) {
  LX_TRY_ASSIGN(init, store_.instance_for(request.distro, conn));
  LX_TRY(instances_.launch(std::move(init), request, conn, stdio));
  // The instance holds the connection now and answers; ours closes when this thread returns.
  return nothing();
}

Handled Daemon::Impl::handle(int, const StatusRequest&, Fds&) {
  StatusReply r;
  r.instances = instances_.status();
  r.pid = getpid();
  return reply(r);
}

Handled Daemon::Impl::handle(int, const TerminateRequest& request, Fds&) {
  LX_TRY(instances_.terminate(request.distro));
  return reply(DoneReply{});
}

Handled Daemon::Impl::handle(int, const ShutdownRequest&, Fds&) {
  instances_.shutdown_all();
  return reply(DoneReply{});  // then serve() stops the daemon
}

template <StoreOp Op, Name N>
Handled Daemon::Impl::handle(int conn, const StoreRequest<Op, N>& request, Fds&) {
  LX_TRY_ASSIGN(done, store_.run(Op, request.distro, request.path, conn));
  return reply(std::move(done));
}

Handled Daemon::Impl::handle(int, const ListRequest&, Fds&) {
  LX_TRY_ASSIGN(list, store_.list());
  return reply(std::move(list));
}

Handled Daemon::Impl::handle(int, const DefaultRequest& request, Fds&) {
  LX_TRY_ASSIGN(name, store_.set_default(request.distro));
  return reply(std::move(name));
}

}  // namespace lx::service
