// Daemon: Boost.Asio accepts connections and runs the linger timers and signal handling on the
// main thread; each connection is one object served on its own thread with blocking frames and
// a timeout (so a slow or garbage-sending peer never stalls the others); each instance has a
// reader thread for its control socket. Shared state is guarded by one mutex.
#include "daemon.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "protocol.h"
#include "store/distro_store.h"

extern char** environ;

namespace lx::service {
namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr int kRequestTimeoutMs = 10000;
constexpr const char* kHostInstance = "host";

void log(const std::string& line) {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  std::fprintf(stderr, "%s lxhostd[%d]: %s\n", buf, getpid(), line.c_str());
  std::fflush(stderr);
}

}  // namespace

// One running instance process, as the daemon sees it.
struct InstanceRec {
  std::string name;
  std::string rootfs;
  std::vector<std::string> sets;
  pid_t pid = 0;
  UniqueFd control;
  std::mutex send_mu;
  long long linger_ms = 0;
  long long grace_ms = 2000;
  int launches_sent = 0;  // guarded by Impl::mu_
  bool idle = false;      // guarded by Impl::mu_
  bool ending = false;    // guarded by Impl::mu_
  bool gone = false;      // guarded by Impl::mu_
  std::map<int, std::promise<json>> pending;  // guarded by Impl::mu_
  int next_request = 1;                       // guarded by Impl::mu_
  std::unique_ptr<asio::steady_timer> linger_timer;
  std::thread reader;

  Result<void> send(const json& j, std::span<const int> fds = {}) {
    std::lock_guard lock(send_mu);
    return send_frame(control.get(), j, fds);
  }
};

class Daemon::Impl {
 public:
  explicit Impl(DaemonOptions o) : opts_(std::move(o)), store_(opts_.paths.data_dir) {}
  int run();

 private:
  void accept();
  void serve(UniqueFd conn);
  void dispatch(int conn, Frame& req);
  void do_run(int conn, Frame& req);
  void do_status(int conn);
  void do_terminate(int conn, const json& body);
  void do_shutdown(int conn);
  void do_store_op(int conn, const json& body);
  void do_list(int conn);
  void do_default(int conn, const json& body);

  Result<std::shared_ptr<InstanceRec>> get_instance(const std::string& name, const std::string& rootfs,
                                                    const std::vector<std::string>& sets);
  Result<std::shared_ptr<InstanceRec>> spawn_instance(const std::string& name, const std::string& rootfs,
                                                      const std::vector<std::string>& sets);
  void read_instance(std::shared_ptr<InstanceRec> rec);
  void on_idle(std::shared_ptr<InstanceRec> rec, int received);
  void end_instance_locked(InstanceRec& rec);
  bool wait_gone(std::unique_lock<std::mutex>& lock, const std::shared_ptr<InstanceRec>& rec,
                 std::chrono::milliseconds timeout);
  void wait_for_op(int conn, const std::string& distro, std::unique_lock<std::mutex>& lock);
  void shutdown_all();
  void stop();

  DaemonOptions opts_;
  store::DistroStore store_;
  asio::io_context io_;
  std::unique_ptr<asio::local::stream_protocol::acceptor> acceptor_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<InstanceRec>> instances_;  // guarded by mu_
  std::mutex spawn_mu_;  // one instance started at a time
  bool op_active_ = false;                                          // guarded by mu_
  std::string op_kind_, op_distro_;                                 // guarded by mu_
  bool shutting_down_ = false;                                      // guarded by mu_
};

Daemon::Daemon(DaemonOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Daemon::~Daemon() = default;
int Daemon::run() { return impl_->run(); }

int Daemon::Impl::run() {
  const auto& paths = opts_.paths;
  if (auto r = paths.prepare_runtime_dir(); !r) {
    log(r.error().message);
    return 1;
  }
  // One daemon per user: the lock is taken before the socket is touched.
  UniqueFd lock(open(paths.lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) {
    log(fmt::format("cannot open {}: {}", paths.lock, strerror(errno)));
    return 1;
  }
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    (void)!pread(lock.get(), buf, sizeof buf - 1, 0);
    log(fmt::format("lxhostd is already running for uid {} (pid {}; lock {})", getuid(), atoi(buf), paths.lock));
    return 3;
  }
  std::string pid = fmt::format("{}\n", getpid());
  (void)!ftruncate(lock.get(), 0);
  (void)!pwrite(lock.get(), pid.data(), pid.size(), 0);

  signal(SIGPIPE, SIG_IGN);
  if (auto r = store_.recover(); !r) log(fmt::format("recovering the install state: {}", r.error().message));

  unlink(paths.socket.c_str());  // a stale socket: we hold the lock, so no daemon owns it
  try {
    acceptor_ = std::make_unique<asio::local::stream_protocol::acceptor>(io_);
    asio::local::stream_protocol::endpoint ep(paths.socket);
    acceptor_->open(ep.protocol());
    acceptor_->bind(ep);
    chmod(paths.socket.c_str(), 0600);
    acceptor_->listen(128);
  } catch (const std::exception& e) {
    log(fmt::format("cannot listen on {}: {}", paths.socket, e.what()));
    return 1;
  }
  log(fmt::format("listening on {} (data in {})", paths.socket, paths.data_dir));
  asio::signal_set signals(io_, SIGTERM, SIGINT, SIGHUP);
  signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log(fmt::format("{}: ending every instance and exiting", strsignal(sig)));
    std::thread([this] {
      shutdown_all();
      stop();
    }).detach();
  });
  accept();
  io_.run();
  unlink(paths.socket.c_str());
  log("stopped");
  std::fflush(nullptr);
  _exit(0);  // connection threads may still be blocked on their peers
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
  // Only this user's processes are served.
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != getuid()) {
    log(fmt::format("refused a connection from pid {} uid {}: not uid {}", cred.pid, cred.uid, getuid()));
    (void)send_frame(conn.get(), error_reply(fmt::format("refused: lxhostd of uid {} serves only its own user, not uid {}",
                                                         getuid(), cred.uid), EACCES));
    return;
  }
  auto req = recv_frame(conn.get(), kRequestTimeoutMs);
  if (!req) {
    if (req.error().code != ECONNRESET) {
      log(fmt::format("pid {}: bad request: {}", cred.pid, req.error().message));
      (void)send_frame(conn.get(), error_reply(req.error().code == ETIMEDOUT ? "timed out waiting for a request"
                                                                             : "malformed request: " + req.error().message,
                                               req.error().code));
    }
    return;
  }
  // Only the fields a command reads, checked and bounded, go further (and to an instance).
  auto checked = check_request(req->body, req->fds.size());
  if (!checked) {
    log(fmt::format("pid {}: bad request: {}", cred.pid, checked.error().message));
    (void)send_frame(conn.get(), error_reply(checked.error().message, checked.error().code));
    return;
  }
  req->body = std::move(*checked);
  try {
    dispatch(conn.get(), *req);
  } catch (const std::exception& e) {
    // Not expected after check_request; the daemon goes on.
    (void)send_frame(conn.get(), error_reply(fmt::format("malformed request: {}", e.what()), EBADMSG));
  }
}

void Daemon::Impl::dispatch(int conn, Frame& req) {
  static const std::vector<std::string> kCommands = {"ping", "list-commands", "run", "status", "terminate", "shutdown",
                                                     "install", "import", "export", "uninstall", "list", "default"};
  std::string cmd = req.body.value("cmd", "");
  if (cmd == "ping") {
    (void)send_frame(conn, {{"ok", true}, {"pid", getpid()}, {"protocol", kProtocolVersion}, {"socket", opts_.paths.socket},
                            {"data_dir", opts_.paths.data_dir}});
  } else if (cmd == "list-commands") {
    (void)send_frame(conn, {{"ok", true}, {"commands", kCommands}});
  } else if (cmd == "run") {
    do_run(conn, req);
  } else if (cmd == "status") {
    do_status(conn);
  } else if (cmd == "terminate") {
    do_terminate(conn, req.body);
  } else if (cmd == "shutdown") {
    do_shutdown(conn);
  } else if (cmd == "install" || cmd == "import" || cmd == "export" || cmd == "uninstall") {
    do_store_op(conn, req.body);
  } else if (cmd == "list") {
    do_list(conn);
  } else if (cmd == "default") {
    do_default(conn, req.body);
  } else {
    (void)send_frame(conn, error_reply(fmt::format("unknown command '{}' (list-commands lists them)", cmd), EINVAL));
  }
}

void Daemon::Impl::wait_for_op(int conn, const std::string& distro, std::unique_lock<std::mutex>& lock) {
  bool told = false;
  while (op_active_ && (distro.empty() || op_distro_ == distro)) {
    if (!told) {
      (void)send_frame(conn, {{"event", "waiting"},
                              {"message", fmt::format("waiting for the {} of '{}' to finish", op_kind_, op_distro_)}});
      told = true;
    }
    cv_.wait(lock);
  }
}

void Daemon::Impl::do_run(int conn, Frame& req) {
  const json& b = req.body;  // checked by check_request: every field is there, with its type
  std::string distro = b.value("distro", "");
  if (distro.empty()) {
    auto d = store_.default_name();
    if (d) distro = *d;
  }
  std::string name = distro.empty() ? kHostInstance : distro;
  std::string rootfs;
  {
    std::unique_lock lock(mu_);
    if (!distro.empty()) wait_for_op(conn, distro, lock);
  }
  if (!distro.empty()) {
    auto info = store_.get(distro);
    if (!info) {
      (void)send_frame(conn, error_reply(fmt::format("{} (see 'lx list')", info.error().message), ENOENT));
      return;
    }
    rootfs = info->rootfs.string();
  }
  auto sets = b.value("sets", std::vector<std::string>{});
  auto rec = get_instance(name, rootfs, sets);
  if (!rec) {
    (void)send_frame(conn, error_reply(rec.error().message, rec.error().code));
    return;
  }
  std::vector<int> fds{conn};
  for (auto& f : req.fds)
    if (fds.size() < 4) fds.push_back(f.get());
  {
    std::lock_guard lock(mu_);
    (*rec)->launches_sent++;
    (*rec)->idle = false;
    if (std::getenv("LXHOSTD_DEBUG")) log(fmt::format("launch {} in '{}' (pid {})", (*rec)->launches_sent, name, (*rec)->pid));
  }
  if (auto r = (*rec)->send({{"cmd", "launch"}, {"request", b}}, fds); !r)
    (void)send_frame(conn, error_reply(fmt::format("instance '{}' is gone: {}", name, r.error().message), EPIPE));
  // The instance now holds the connection; ours closes when this thread returns.
}

Result<std::shared_ptr<InstanceRec>> Daemon::Impl::get_instance(const std::string& name, const std::string& rootfs,
                                                                 const std::vector<std::string>& sets) {
  std::lock_guard spawn(spawn_mu_);
  std::unique_lock lock(mu_);
  if (shutting_down_) return Error{ESHUTDOWN, "lxhostd is shutting down"};
  auto it = instances_.find(name);
  if (it != instances_.end() && it->second->ending) {
    // One instance per distro: a launch waits for the ending one to be gone.
    auto old = it->second;
    wait_gone(lock, old, std::chrono::milliseconds(old->grace_ms) + std::chrono::seconds(10));
    it = instances_.find(name);
  }
  if (it != instances_.end() && !it->second->gone && !it->second->ending) {
    if (!sets.empty() && sets != it->second->sets)
      return Error{EBUSY, fmt::format("instance '{}' is running with other --set values; end it first with "
                                      "'lx terminate {}'", name, name)};
    return it->second;
  }
  lock.unlock();
  return spawn_instance(name, rootfs, sets);
}

Result<std::shared_ptr<InstanceRec>> Daemon::Impl::spawn_instance(const std::string& name, const std::string& rootfs,
                                                                   const std::vector<std::string>& sets) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return Error::from_errno("socketpair");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, theirs.get(), 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  std::string prog = opts_.instance_program;
  std::string title = fmt::format("--instance={}", name);
  char* argv[] = {prog.data(), title.data(), const_cast<char*>("--control-fd=3"), nullptr};
  pid_t pid;
  int e = posix_spawn(&pid, prog.c_str(), &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (e != 0) return Error::from_errno(fmt::format("starting the instance process {}", prog), e);
  theirs.reset();
  auto rec = std::make_shared<InstanceRec>();
  rec->name = name;
  rec->rootfs = rootfs;
  rec->sets = sets;
  rec->pid = pid;
  rec->control = std::move(ours);
  json init{{"name", name}, {"rootfs", rootfs}, {"sets", sets}, {"system_config_dir", opts_.system_config_dir}};
  if (!rootfs.empty()) {
    // An installed distro: root inside by default (its files are root's), its own config file,
    // and its rootfs and metadata directory, which the user's --set cannot move.
    init["service_sets"] = std::vector<std::string>{"proc.fake_root=true"};
    init["distro_config"] = store_.config_file(name).string();
    init["root_sets"] = std::vector<std::string>{"fs.root=" + rootfs, "fs.metadata_dir=" + store_.metadata_dir(name).string()};
  }
  auto fail = [&](const std::string& why) -> Error {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    log(fmt::format("instance '{}' could not start: {}", name, why));
    return Error{ECHILD, fmt::format("instance '{}' could not start: {}", name, why)};
  };
  if (auto r = rec->send({{"init", init}}); !r) return fail(r.error().message);
  auto reply = recv_frame(rec->control.get(), 60000);
  if (!reply) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid && WIFSIGNALED(status))
      return fail(fmt::format("it was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status))));
    return fail(reply.error().message);
  }
  if (auto err = reply_error(reply->body)) return fail(err->message);
  rec->linger_ms = reply->body.value("linger_ms", 0LL);
  rec->grace_ms = reply->body.value("grace_ms", 2000LL);
  rec->linger_timer = std::make_unique<asio::steady_timer>(io_);
  log(fmt::format("instance '{}' started (pid {}{})", name, pid, rootfs.empty() ? ", host root" : ", rootfs " + rootfs));
  {
    std::lock_guard lock(mu_);
    instances_[name] = rec;
  }
  rec->reader = std::thread([this, rec] { read_instance(rec); });
  rec->reader.detach();
  return rec;
}

void Daemon::Impl::read_instance(std::shared_ptr<InstanceRec> rec) {
  for (;;) {
    auto f = recv_frame(rec->control.get(), -1);
    if (!f) break;
    const json& b = f->body;
    std::string ev = b.value("event", "");
    if (ev == "idle") {
      int received = b.value("received", -1);
      asio::post(io_, [this, rec, received] { on_idle(rec, received); });
    } else if (ev == "ended") {
      // The process exits next; EOF follows.
    } else if (b.contains("id")) {
      std::lock_guard lock(mu_);
      auto it = rec->pending.find(b.value("id", 0));
      if (it != rec->pending.end()) {
        it->second.set_value(b);
        rec->pending.erase(it);
      }
    }
  }
  int status = 0;
  while (waitpid(rec->pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    log(fmt::format("instance '{}' (pid {}) died: killed by signal {} ({}); its processes are gone", rec->name, rec->pid,
                    WTERMSIG(status), strsignal(WTERMSIG(status))));
  else
    log(fmt::format("instance '{}' (pid {}) ended", rec->name, rec->pid));
  {
    std::lock_guard lock(mu_);
    rec->gone = true;
    for (auto& [id, p] : rec->pending) p.set_value(error_reply("the instance is gone", ESRCH));
    rec->pending.clear();
    auto it = instances_.find(rec->name);
    if (it != instances_.end() && it->second == rec) instances_.erase(it);
  }
  cv_.notify_all();
  asio::post(io_, [rec] {
    if (rec->linger_timer) rec->linger_timer->cancel();
  });
}

void Daemon::Impl::on_idle(std::shared_ptr<InstanceRec> rec, int received) {
  std::lock_guard lock(mu_);
  if (std::getenv("LXHOSTD_DEBUG")) log(fmt::format("'{}' idle after {} launches ({} sent)", rec->name, received, rec->launches_sent));
  if (rec->gone || rec->ending || received != rec->launches_sent) return;  // a launch is on its way
  rec->idle = true;
  if (rec->linger_ms < 0) return;  // "forever": until lx terminate
  if (rec->linger_ms == 0) {
    end_instance_locked(*rec);
    return;
  }
  int sent = rec->launches_sent;
  rec->linger_timer->expires_after(std::chrono::milliseconds(rec->linger_ms));
  rec->linger_timer->async_wait([this, rec, sent](const boost::system::error_code& ec) {
    if (ec) return;
    std::lock_guard lock(mu_);
    if (rec->idle && rec->launches_sent == sent && !rec->gone) end_instance_locked(*rec);
  });
}

void Daemon::Impl::end_instance_locked(InstanceRec& rec) {
  if (rec.ending || rec.gone) return;
  rec.ending = true;
  log(fmt::format("ending instance '{}'", rec.name));
  (void)rec.send({{"cmd", "end"}});
}

bool Daemon::Impl::wait_gone(std::unique_lock<std::mutex>& lock, const std::shared_ptr<InstanceRec>& rec,
                             std::chrono::milliseconds timeout) {
  return cv_.wait_for(lock, timeout, [&] { return rec->gone; });
}

void Daemon::Impl::do_status(int conn) {
  std::vector<std::pair<std::shared_ptr<InstanceRec>, std::future<json>>> asks;
  {
    std::lock_guard lock(mu_);
    if (std::getenv("LXHOSTD_DEBUG")) log(fmt::format("status: {} instances", instances_.size()));
    for (auto& [name, rec] : instances_) {
      int id = rec->next_request++;
      auto& p = rec->pending[id];
      asks.emplace_back(rec, p.get_future());
      (void)rec->send({{"cmd", "status"}, {"id", id}});
    }
  }
  json out = json::array();
  for (auto& [rec, fut] : asks) {
    json entry{{"name", rec->name}, {"pid", rec->pid}, {"rootfs", rec->rootfs.empty() ? "/" : rec->rootfs}};
    {
      std::lock_guard lock(mu_);
      entry["state"] = rec->ending ? "ending" : rec->idle ? "idle" : "running";
    }
    if (fut.wait_for(std::chrono::seconds(3)) == std::future_status::ready) {
      json r = fut.get();
      entry["processes"] = r.value("processes", json::array());
      entry["clients"] = r.value("clients", 0);
    } else {
      entry["processes"] = json::array();
      entry["state"] = "not answering";
    }
    out.push_back(entry);
  }
  (void)send_frame(conn, {{"ok", true}, {"instances", out}, {"pid", getpid()}});
}

void Daemon::Impl::do_terminate(int conn, const json& body) {
  std::string name = body.value("distro", "");
  std::unique_lock lock(mu_);
  auto it = instances_.find(name.empty() ? kHostInstance : name);
  if (it == instances_.end()) {
    (void)send_frame(conn, error_reply(fmt::format("no instance of '{}' is running (see 'lx status')", name), ESRCH));
    return;
  }
  auto rec = it->second;
  end_instance_locked(*rec);
  bool gone = wait_gone(lock, rec, std::chrono::milliseconds(rec->grace_ms) + std::chrono::seconds(10));
  lock.unlock();
  if (gone) (void)send_frame(conn, {{"ok", true}});
  else (void)send_frame(conn, error_reply(fmt::format("instance '{}' did not end in time", rec->name), ETIMEDOUT));
}

void Daemon::Impl::shutdown_all() {
  std::unique_lock lock(mu_);
  shutting_down_ = true;
  std::vector<std::shared_ptr<InstanceRec>> all;
  for (auto& [n, rec] : instances_) {
    end_instance_locked(*rec);
    all.push_back(rec);
  }
  for (auto& rec : all) wait_gone(lock, rec, std::chrono::milliseconds(rec->grace_ms) + std::chrono::seconds(10));
}

void Daemon::Impl::stop() {
  asio::post(io_, [this] {
    boost::system::error_code ec;
    if (acceptor_) acceptor_->close(ec);
    io_.stop();
  });
}

void Daemon::Impl::do_shutdown(int conn) {
  shutdown_all();
  (void)send_frame(conn, {{"ok", true}});
  stop();
}

void Daemon::Impl::do_list(int conn) {
  auto all = store_.list();
  if (!all) {
    (void)send_frame(conn, error_reply(all.error().message, all.error().code));
    return;
  }
  json out = json::array();
  std::lock_guard lock(mu_);
  bool op_listed = false;
  for (const auto& d : *all) {
    std::string state = d.state;
    if (op_active_ && op_distro_ == d.name) {
      state = op_kind_ == "uninstall" ? "uninstalling" : op_kind_ == "export" ? "exporting" : state;
      op_listed = true;
    }
    bool running = instances_.count(d.name) && !instances_.at(d.name)->gone;
    out.push_back({{"name", d.name}, {"state", state}, {"size", d.size_bytes}, {"default", d.is_default},
                   {"running", running}, {"source", d.source}, {"installed_at", d.installed_at},
                   {"rootfs", d.rootfs.string()}});
  }
  if (op_active_ && !op_listed && (op_kind_ == "install" || op_kind_ == "import"))
    out.push_back({{"name", op_distro_}, {"state", op_kind_ == "install" ? "installing" : "importing"}, {"size", 0},
                   {"default", false}, {"running", false}});
  (void)send_frame(conn, {{"ok", true}, {"distros", out}});
}

void Daemon::Impl::do_default(int conn, const json& body) {
  std::string name = body.value("distro", "");
  if (!name.empty()) {
    if (auto r = store_.set_default(name); !r) {
      (void)send_frame(conn, error_reply(r.error().message, r.error().code));
      return;
    }
  }
  auto d = store_.default_name();
  if (!d) (void)send_frame(conn, error_reply(d.error().message, d.error().code));
  else (void)send_frame(conn, {{"ok", true}, {"default", *d}});
}

void Daemon::Impl::do_store_op(int conn, const json& body) {
  std::string kind = body.value("cmd", "");
  std::string name = body.value("distro", "");
  if (!store::DistroStore::valid_name(name) || name == kHostInstance) {
    (void)send_frame(conn, error_reply(fmt::format("'{}' is not a valid distro name: letters, digits, '.', '_', '-', at "
                                                   "most 64, starting with a letter or digit; '{}' is reserved for the host",
                                                   name, kHostInstance), EINVAL));
    return;
  }
  {
    // Installs and uninstalls run one at a time; the next one waits and is told so.
    std::unique_lock lock(mu_);
    wait_for_op(conn, "", lock);
    if (shutting_down_) {
      (void)send_frame(conn, error_reply("lxhostd is shutting down", ESHUTDOWN));
      return;
    }
    op_active_ = true;
    op_kind_ = kind;
    op_distro_ = name;
    if (kind == "uninstall") {
      auto it = instances_.find(name);
      if (it != instances_.end()) {
        auto rec = it->second;
        (void)send_frame(conn, {{"event", "waiting"}, {"message", fmt::format("ending the running instance of '{}'", name)}});
        end_instance_locked(*rec);
        wait_gone(lock, rec, std::chrono::milliseconds(rec->grace_ms) + std::chrono::seconds(10));
      }
    }
  }
  log(fmt::format("{} '{}' started", kind, name));
  auto progress = [conn](const store::Progress& p) {
    (void)send_frame(conn, {{"event", "progress"}, {"done", p.done_bytes}, {"total", p.total_bytes},
                            {"entries", p.entries}, {"current", p.current}});
  };
  json reply;
  std::string path = body.value("path", "");
  if (kind == "install") {
    auto r = store_.install(name, path, progress);
    reply = r ? json{{"ok", true}, {"size", r->size_bytes}, {"rootfs", r->rootfs.string()}, {"default", r->is_default}}
              : error_reply(r.error().message, r.error().code);
  } else if (kind == "import") {
    auto r = store_.import_dir(name, path, progress);
    reply = r ? json{{"ok", true}, {"size", r->size_bytes}, {"rootfs", r->rootfs.string()}, {"default", r->is_default}}
              : error_reply(r.error().message, r.error().code);
  } else if (kind == "export") {
    auto r = store_.export_tar(name, path, progress);
    reply = r ? json{{"ok", true}} : error_reply(r.error().message, r.error().code);
  } else {
    auto r = store_.uninstall(name);
    reply = r ? json{{"ok", true}} : error_reply(r.error().message, r.error().code);
  }
  log(fmt::format("{} '{}': {}", kind, name, reply.contains("error") ? reply["error"].get<std::string>() : "done"));
  {
    std::lock_guard lock(mu_);
    op_active_ = false;
  }
  cv_.notify_all();
  (void)send_frame(conn, reply);
}

}  // namespace lx::service
