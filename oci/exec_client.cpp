// lxhost-runc exec, the client's side (see container.h and exec_channel.h).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "oci/container.h"
#include "oci/exec_channel.h"
#include "oci/monitor.h"
#include "oci/util.h"

namespace lx::oci {
namespace {

std::atomic<int> g_exec_sock{-1};

void forward_to_exec(int sig) {
  int sock = g_exec_sock.load();
  if (sock < 0) return;
  // Async-signal-safe: one send of a prebuilt message.
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "{\"signal\":%d}", sig);
  (void)!send(sock, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// Waits for the end of the exec'd process on `sock`; its exit code (128+N when killed by
// signal N: then this process dies of N too, as the process did).
[[noreturn]] void wait_exec(int sock) {
  g_exec_sock = sock;
  struct sigaction sa {};
  sa.sa_handler = forward_to_exec;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT}) sigaction(sig, &sa, nullptr);
  for (;;) {
    auto m = receive_message(sock);
    if (!m) {
      report_error("exec: the container's monitor went away");
      _exit(137);
    }
    if (m->body.contains("error")) {
      report_error(m->body["error"].is_string() ? m->body["error"].get<std::string>() : "exec failed");
      _exit(126);
    }
    if (m->body.contains("exit")) {
      g_exec_sock = -1;
      int sig = m->body.value("signal", 0);
      if (sig > 0 && sig < NSIG) {
        signal(sig, SIG_DFL);
        rlimit no_core{0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        raise(sig);
      }
      _exit(m->body.value("exit", 1) & 0xff);
    }
  }
}

// The process `exec` asks for: --process's file, else the command with the container's
// environment (plus --env), --cwd, --tty and --user.
Result<nlohmann::json> process_of(const ExecOptions& o, const Spec& spec) {
  if (!o.process_file.empty()) {
    bool found = false;
    std::string text = read_file(o.process_file, found);
    if (!found) return Error{ENOENT, fmt::format("--process {}: {}", o.process_file, std::strerror(ENOENT))};
    return nlohmann::json::parse(text, nullptr, false);
  }
  if (o.args.empty()) return Error{EINVAL, "exec: no command given (and no --process)"};
  std::vector<std::string> env = spec.process.env;
  env.insert(env.end(), o.env.begin(), o.env.end());
  nlohmann::json process{{"args", o.args}, {"env", env}, {"cwd", o.cwd.empty() ? spec.process.cwd : o.cwd}, {"terminal", o.tty}};
  if (!o.user.empty()) {
    auto colon = o.user.find(':');
    process["user"] = {{"uid", std::strtoul(o.user.substr(0, colon).c_str(), nullptr, 10)},
                       {"gid", colon == std::string::npos ? 0 : std::strtoul(o.user.substr(colon + 1).c_str(), nullptr, 10)}};
  }
  return process;
}

// Asks the monitor of running container `s` to run `process`; the connected socket once it runs.
Result<UniqueFd> ask_monitor(const StateStore& store, const State& s, const ExecOptions& o, const nlohmann::json& process) {
  LX_TRY_ASSIGN(proc, parse_process(process, "process"));
  UniqueFd slave;
  if (proc.terminal) {
    if (o.console_socket.empty()) return Error{EINVAL, "exec: a terminal needs --console-socket"};
    LX_TRY_ASSIGN(ptmx, open_ptmx(s.pid));
    LX_TRY_ASSIGN_TO(slave, pty_for_console(std::move(ptmx), o.console_socket));
  }
  LX_TRY_ASSIGN(sock, connect_exec(store.dir(s.id) + "/exec.sock"));
  int fds[3] = {0, 1, 2};
  if (slave) fds[0] = fds[1] = fds[2] = slave.get();
  LX_TRY(send_message(sock.get(), nlohmann::json{{"process", process}}, fds));
  slave.reset();
  // The first answer: it runs (or why not).
  LX_TRY_ASSIGN(first, receive_message(sock.get()));
  if (first.body.contains("error") || !first.body.contains("pid"))
    return Error{ENOEXEC, first.body.value("error", std::string("the container's monitor did not start the process"))};
  return std::move(sock);
}

}  // namespace

int exec_container(const StateStore& store, const ExecOptions& o) {
  auto s = store.load(o.id);
  if (!s) {
    report_error(s.error().message);
    return 1;
  }
  if (status_of(*s, store.dir(o.id)) != "running") {
    report_error(fmt::format("cannot exec in container \"{}\": it is not running", o.id));
    return 1;
  }
  bool found = false;
  auto spec = parse_spec(read_file(store.dir(o.id) + "/config.json", found), s->bundle);
  auto process = spec ? process_of(o, *spec) : Result<nlohmann::json>(Error{EINVAL, "config.json: " + spec.error().message});
  auto sock = process ? ask_monitor(store, *s, o, *process) : Result<UniqueFd>(process.error());
  if (!sock) {
    report_error(sock.error().message);
    return sock.error().code == ENOEXEC ? 126 : 1;
  }
  if (!o.detach) {
    if (!o.pid_file.empty()) (void)write_atomically(o.pid_file, std::to_string(getpid()));
    wait_exec(sock->get());
  }
  pid_t stand_in = fork();
  if (stand_in < 0) {
    report_error(Error::from_errno("fork").message);
    return 1;
  }
  if (stand_in == 0) {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3; ++fd) dup2(null, fd);
    setsid();
    wait_exec(sock->get());
  }
  if (!o.pid_file.empty())
    if (auto r = write_atomically(o.pid_file, std::to_string(stand_in)); !r) {
      report_error(r.error().message);
      return 1;
    }
  return 0;
}

}  // namespace lx::oci
