// The instance process's main thread: it serves the control socket and the clients'
// connections, reaps orphans reparented to it, and ends everything when told to. Each launch's
// thread is instance_launch.cpp's.
#include "instance.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "instance_process.h"

namespace lx::service {

void debug(const std::string& line) {
  static const bool on = std::getenv("LXHOSTD_DEBUG") != nullptr;
  if (on) std::fprintf(stderr, "lxhost instance[%d]: %s\n", getpid(), line.c_str());
}

Result<InitReply> InstanceProcess::start(const Frame& first) {
  LX_TRY_ASSIGN(command, decode_message<InstanceCommand>(first.body));
  const auto* init_command = std::get_if<InitCommand>(&command);
  if (!init_command) return Error{EPROTO, "the instance's first command is not init"};
  return init(*init_command);
}

Result<InitReply> InstanceProcess::init(const InitCommand& c) {
  settings_.name = c.name;
  settings_.rootfs = c.rootfs;
  config::Config cfg;
  LX_TRY(cfg.merge_standard_files(c.system_config_dir));
  for (const auto& s : c.service_sets) LX_TRY(cfg.apply_set(s));
  if (!c.distro_config.empty()) LX_TRY(cfg.merge_file(c.distro_config, true));
  for (const auto& s : c.root_sets) LX_TRY(cfg.apply_set(s));
  for (const auto& s : c.sets) LX_TRY(cfg.apply_set(s));
  std::chrono::milliseconds linger{0};
  if (const toml::table* t = cfg.table("instance")) {
    if (auto v = (*t)["linger"].value<std::string>())
      if (auto d = config::parse_duration(*v)) linger = *d;
    if (auto v = (*t)["grace"].value<std::string>())
      if (auto d = config::parse_duration(*v)) grace_ = *d;
  }
  if (const toml::table* t = cfg.table("proc")) settings_.fake_root = (*t)["fake_root"].value_or(false);
  LX_TRY_ASSIGN(rt, runtime::Runtime::create(cfg));
  runtime_ = std::move(rt);
  identity_ = runtime_->find<sdk::LaunchIdentity>();
  settings_.can_set_identity = identity_ != nullptr;
  if (runtime_->backend().backend == sdk::Backend::kKernel) {
    // The namespaces and their init, now, while this process has one thread (it forks). Root is
    // the user namespace's, and a launch takes its user for real.
    bool distro = !settings_.rootfs.empty() && settings_.rootfs != "/";
    LX_TRY_ASSIGN(k, runtime_->kernel_instance(settings_.name, nullptr, distro));
    kernel_ = k;
    k->set_on_gone([this] { wake(); });  // the end of its init ends the instance without a wait
    settings_.fake_root = settings_.can_set_identity = settings_.guest_cwd = true;
    debug(fmt::format("kernel backend: init is pid {}, ids: {}", k->init_pid(), k->maps().summary));
  }
  InitReply ready;
  ready.pid = getpid();
  ready.linger_ms = linger == std::chrono::milliseconds::max() ? -1 : static_cast<long long>(linger.count());
  ready.grace_ms = grace_.count();
  ready.backend = sdk::to_string(runtime_->backend().backend);
  ready.backend_why = runtime_->backend().why;
  if (kernel_ && !kernel_->start_note().empty()) ready.backend_why += "; " + kernel_->start_note();
  return ready;
}

std::size_t InstanceProcess::attached() const {
  return static_cast<std::size_t>(std::count_if(launches_.begin(), launches_.end(), [](const auto& l) { return !l->client_gone; }));
}

void InstanceProcess::wake() {
  std::uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof one);
}

std::vector<ProcessInfo> InstanceProcess::process_table() const {
  std::vector<ProcessInfo> out;
  if (kernel_) {
    // One PID namespace: its processes, each shown with the launch it is the first process of.
    for (const auto& p : kernel_->processes()) {
      ProcessInfo info;
      info.pid = p.pid;
      info.parent = p.parent;
      info.state = std::string(1, p.state);
      info.threads = p.threads;
      info.command = p.command;
      for (const auto& l : launches_)
        if (l->main_pid == p.pid) info.launch = l->id;
      out.push_back(std::move(info));
    }
    return out;
  }
  for (const auto& l : launches_) {
    if (!l->driver || l->finished) continue;
    for (const auto& p : l->driver->processes()) {
      // A program run through its ELF interpreter is shown by its own command line.
      std::string command = sdk::native_cmdline(p.cmdline);
      std::replace(command.begin(), command.end(), '\0', ' ');
      while (!command.empty() && command.back() == ' ') command.pop_back();
      ProcessInfo info;
      info.pid = p.pid;
      info.parent = p.parent;
      info.state = std::string(1, p.state);
      info.threads = p.threads;
      info.command = std::move(command);
      info.launch = l->id;
      out.push_back(std::move(info));
    }
  }
  return out;
}

void InstanceProcess::client_gone(Launch& l) {
  if (l.client_gone) return;
  l.client_gone = true;
  {
    std::lock_guard lock(l.conn_mu);
    l.conn.reset();
  }
  // Like a terminal hanging up: the guest the client started is told.
  debug(fmt::format("launch {}: client gone (main {})", l.id, l.main_exited ? "exited" : "running"));
  if (!l.main_exited && l.main_pid > 0) kill(l.main_pid, SIGHUP);
  if (attached() == 0) {
    if (control_) idle();
    else begin_end();  // lxhostd is gone: nobody else can end us
  }
}

void InstanceProcess::handle_client(Launch& l) {
  // recv_frame bounds the frame; a frame over a bound or not a request gets an error reply
  // naming why, and the client is hung up on (its guest gets SIGHUP, as from a terminal).
  auto f = recv_frame(l.conn.get(), 2000);
  if (!f) {
    const Error& e = f.error();
    if (e.code != ECONNRESET) l.send(ErrorReply::from(Error{e.code, "malformed request: " + e.message}));
    return client_gone(l);
  }
  auto command = decode_message<std::variant<SignalCommand>>(f->body, f->fds.size());
  if (!command || !std::get<SignalCommand>(*command).signal) {
    l.send(ErrorReply::from(
        Error{EBADMSG, "malformed request: a launch's client sends only {\"cmd\": \"signal\", \"signal\": N}"}));
    return client_gone(l);
  }
  long long s = *std::get<SignalCommand>(*command).signal;
  if (s > 0 && s < NSIG && !l.main_exited && l.main_pid > 0) kill(l.main_pid, static_cast<int>(s));
}

void InstanceProcess::begin_end() {
  if (ending_.exchange(true)) return;
  if (kernel_) kernel_->end(grace_);
  for (auto& l : launches_)
    if (l->driver && !l->finished) l->driver->end(grace_);
}

void InstanceProcess::handle_control(Frame frame) {
  // lxhostd checked the request (decode_message) and forwards only that; it is checked again
  // here, so nothing reaches a launch unchecked. The first fd is the client's connection.
  auto command = decode_message<InstanceCommand>(frame.body, frame.fds.size());
  if (!command) return refuse_control(frame, command.error());
  std::visit(Overloaded{
                 [&](const LaunchCommand& c) { handle_launch(c.request, std::move(frame.fds)); },
                 [&](const StatusCommand& c) {
                   send_control(encode(InstanceStatusEvent{{}, c.id, process_table(), static_cast<int>(attached())}));
                 },
                 [&](const EndCommand&) { begin_end(); },
                 [](const InitCommand&) {},  // the first command only
             },
             *command);
}

void InstanceProcess::refuse_control(Frame& frame, const Error& error) {
  auto name = message_name(frame.body, Envelope::kCommand);
  if (!name || *name != LaunchCommand::kName) {
    std::fprintf(stderr, "lxhost instance %s: bad control frame: %s\n", settings_.name.c_str(), error.message.c_str());
    return;
  }
  // A launch that does not check still counts as received (lxhostd counts what it sent), and
  // its client hears why.
  ++received_;
  if (!frame.fds.empty()) (void)send_message(frame.fds[0].get(), ErrorEvent{{}, error.message, 125});
  if (attached() == 0) idle();
}

bool InstanceProcess::serve_once() {
  std::vector<pollfd> pfds{{wake_.get(), POLLIN, 0}};
  std::vector<Launch*> who{nullptr};
  bool control = static_cast<bool>(control_);
  if (control) {
    pfds.push_back({control_.get(), POLLIN, 0});
    who.push_back(nullptr);
  }
  for (auto& l : launches_)
    if (!l->client_gone && l->conn) {
      pfds.push_back({l->conn.get(), POLLIN, 0});
      who.push_back(l.get());
    }
  // No reaping here: an orphan reparented to this thread is traced by a launch thread of the
  // same process, so that thread's wait reaps it (a wait here would steal its ptrace stops).
  int n = poll(pfds.data(), pfds.size(), 500);
  if (n < 0) return errno == EINTR;
  if (n == 0) return true;
  if (pfds[0].revents) {
    std::uint64_t v;
    (void)!read(wake_.get(), &v, sizeof v);
  }
  if (control && pfds[1].revents) {
    if (auto f = recv_frame(control_.get(), 2000)) {
      try {
        handle_control(std::move(*f));
      } catch (const std::exception& e) {  // not expected (a thread that cannot start); we go on
        std::fprintf(stderr, "lxhost instance %s: bad control frame: %s\n", settings_.name.c_str(), e.what());
      }
    } else {
      control_.reset();  // lxhostd is gone: end once no client is left
      if (attached() == 0) begin_end();
    }
  }
  for (std::size_t i = 1; i < pfds.size(); ++i)
    if (pfds[i].revents && who[i]) handle_client(*who[i]);
  return true;
}

void InstanceProcess::forget_finished() {
  // Launches whose tree is gone and whose client left are forgotten.
  for (auto it = launches_.begin(); it != launches_.end();) {
    Launch& l = **it;
    if (l.finished && l.client_gone) {
      if (l.thread.joinable()) l.thread.join();
      it = launches_.erase(it);
    } else {
      ++it;
    }
  }
}

bool InstanceProcess::ended() {
  if (!ending_) return false;
  for (auto& l : launches_)
    if (!l->finished) return false;
  if (kernel_ && !kernel_->gone()) return false;  // its daemons get their grace period
  for (auto& l : launches_)
    if (l->thread.joinable()) l->thread.join();
  send_control(encode(EndedEvent{}));
  return true;
}

int InstanceProcess::run() {
  // Orphaned guest processes (daemons) are reparented to this process (to its main thread, the
  // kernel's pick), and stay traced (and reaped) by their launch's thread. What that thread
  // does not reap: a zombie the tracer already saw exit, whose guest parent then exits without
  // waiting (a fork bomb's shells): it comes to the main thread as an untraced zombie. The
  // main thread must not wait (a wait here would steal ptrace stops of the tracees, see
  // serve_once), so the kernel reaps for it: with SA_NOCLDWAIT no untraced child of this
  // process stays a zombie, while a traced one still reports its exit to its tracer (ptrace is
  // exempt). Flags are cleared at exec: guests do not inherit it.
  struct sigaction reap {};
  reap.sa_handler = SIG_DFL;
  reap.sa_flags = SA_NOCLDWAIT;
  sigemptyset(&reap.sa_mask);
  sigaction(SIGCHLD, &reap, nullptr);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  fcntl(control_.get(), F_SETFD, FD_CLOEXEC);
  wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  auto first = recv_frame(control_.get(), 30000);
  if (!first) return 1;
  auto ready = start(*first);
  if (!ready) {
    send_control(encode(ErrorReply::from(ready.error())));
    return 1;
  }
  send_control(encode(*ready));
  for (;;) {
    if (!serve_once()) return 1;
    forget_finished();
    if (ended()) return 0;
  }
}

int instance_main(int control) {
  InstanceProcess p(control);
  return p.run();
}

}  // namespace lx::service
