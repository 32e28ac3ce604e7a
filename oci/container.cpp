// One container's life (see container.h).
#include "oci/container.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/unique_fd.h"
#include "driver/launcher.h"
#include "oci/monitor.h"
#include "oci/seccomp.h"
#include "oci/util.h"

namespace lx::oci {
namespace {

std::string g_log_path;
std::string g_log_format = "text";

}  // namespace

void set_log(const std::string& path, const std::string& format) {
  g_log_path = path;
  g_log_format = format;
}

void report_error(const std::string& message) {
  std::fprintf(stderr, "lxhost-runc: %s\n", message.c_str());
  if (g_log_path.empty()) return;
  std::ofstream f(g_log_path, std::ios::app);
  if (g_log_format == "json")
    f << nlohmann::json{{"level", "error"}, {"msg", message}, {"time", now_rfc3339()}}.dump() << "\n";
  else
    f << "time=\"" << now_rfc3339() << "\" level=error msg=" << nlohmann::json(message).dump() << "\n";
}

int signal_number(const std::string& name) {
  if (name.empty()) return -1;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) {
    char* end;
    long n = std::strtol(name.c_str(), &end, 10);
    return *end || n <= 0 || n >= NSIG ? -1 : static_cast<int>(n);
  }
  std::string n = name;
  for (auto& ch : n) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (n.rfind("SIG", 0) == 0) n = n.substr(3);
  for (int s = 1; s < NSIG; ++s) {
    const char* abbrev = sigabbrev_np(s);
    if (abbrev && n == abbrev) return s;
  }
  if (n.rfind("RTMIN+", 0) == 0) return SIGRTMIN + std::atoi(n.c_str() + 6);
  if (n.rfind("RTMAX-", 0) == 0) return SIGRTMAX - std::atoi(n.c_str() + 6);
  return -1;
}

Result<void> run_hooks(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state) {
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    const Hook& h = hooks[i];
    int in[2];
    if (pipe2(in, O_CLOEXEC) != 0) return Error::from_errno("pipe");
    pid_t pid = fork();
    if (pid < 0) return Error::from_errno("fork");
    if (pid == 0) {
      dup2(in[0], 0);
      std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
      std::vector<char*> argv, envp;
      for (auto& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      std::vector<std::string> env = h.env;
      for (auto& s : env) envp.push_back(s.data());
      envp.push_back(nullptr);
      execve(h.path.c_str(), argv.data(), envp.data());
      _exit(127);
    }
    close(in[0]);
    (void)!write(in[1], state.data(), state.size());
    close(in[1]);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(h.timeout ? h.timeout : 86400);
    int st = 0;
    for (;;) {
      pid_t w = waitpid(pid, &st, WNOHANG);
      if (w == pid) break;
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return Error{ETIMEDOUT, fmt::format("hooks.{}[{}] ({}) timed out after {} s", kind, i, h.path, h.timeout)};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      return Error{EIO, fmt::format("hooks.{}[{}] ({}) failed: {}", kind, i, h.path,
                                    WIFEXITED(st) ? fmt::format("exit status {}", WEXITSTATUS(st))
                                                  : fmt::format("killed by signal {}", WTERMSIG(st)))};
  }
  return ok();
}

namespace {

// A bundle checked for create: everything that can be refused is refused before anything exists.
struct Checked {
  std::string bundle;  // absolute
  std::string text;    // config.json as read
  Spec spec;
  std::vector<sock_filter> filter;
  int listen_fds = 0;  // LISTEN_FDS
  int extra_fds = 0;   // LISTEN_FDS + --preserve-fds: fds 3.. the process gets
};

Result<Checked> check_bundle(const CreateOptions& o) {
  Checked c;
  if (!valid_id(o.id)) return Error{EINVAL, fmt::format("\"{}\" is not a valid container id (letters, digits, _ - .)", o.id)};
  char real[PATH_MAX];
  if (!realpath(o.bundle.c_str(), real)) return Error{errno, fmt::format("bundle {}: {}", o.bundle, std::strerror(errno))};
  c.bundle = real;
  bool found = false;
  c.text = read_file(c.bundle + "/config.json", found);
  if (!found) return Error{ENOENT, fmt::format("{}/config.json: {}", c.bundle, std::strerror(ENOENT))};
  auto spec = parse_spec(c.text, c.bundle);
  if (!spec) return Error{EINVAL, "config.json: " + spec.error().message};
  c.spec = std::move(*spec);
  if (c.spec.process.terminal && o.console_socket.empty() && !o.foreground)
    return Error{EINVAL, "process.terminal is true: --console-socket is required"};
  struct stat st;
  if (::stat(c.spec.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Error{ENOTDIR, fmt::format("root.path: {} is not a directory", c.spec.root)};
  if (c.spec.seccomp) {
    auto f = compile_seccomp(*c.spec.seccomp);
    if (!f) return Error{EINVAL, "config.json: " + f.error().message};
    c.filter = std::move(*f);
  }
  // The fds 3.. the process is given: LISTEN_FDS (socket activation), then --preserve-fds.
  if (const char* lf = getenv("LISTEN_FDS")) c.listen_fds = std::atoi(lf);
  if (c.listen_fds < 0 || c.listen_fds + o.preserve_fds > driver::kMaxExtraFds)
    return Error{EINVAL, fmt::format("LISTEN_FDS and --preserve-fds pass at most {} fds together", driver::kMaxExtraFds)};
  c.extra_fds = c.listen_fds + o.preserve_fds;
  for (int fd = 3; fd < 3 + c.extra_fds; ++fd)
    if (fcntl(fd, F_GETFD) < 0)
      return Error{EBADF, fmt::format("fd {} is to be passed to the container (LISTEN_FDS, --preserve-fds) but is not open", fd)};
  return c;
}

// Forks the monitor and waits for its report; its pid and backend ("kernel", "emulated").
Result<std::pair<pid_t, std::string>> start_monitor(const CreateOptions& o, Checked& c, const std::string& dir) {
  if (mkfifo((dir + "/exec.fifo").c_str(), 0600) != 0) return Error::from_errno("mkfifo exec.fifo");
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return Error::from_errno("pipe");
  UniqueFd read_end(pipefd[0]);
  // The report pipe above the fds the process is given, which stay open across its exec.
  UniqueFd report_fd(fcntl(pipefd[1], F_DUPFD_CLOEXEC, 3 + c.extra_fds + 16));
  close(pipefd[1]);
  for (int fd = 3; fd < 3 + c.extra_fds; ++fd) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) & ~FD_CLOEXEC);
  pid_t pid = fork();
  if (pid < 0) return Error::from_errno("fork");
  if (pid == 0) {
    read_end.reset();
    monitor_main(MonitorArgs{&c.spec, &o, dir, std::move(c.filter), report_fd.release(), c.listen_fds, c.extra_fds});
  }
  report_fd.reset();
  std::string line;
  char buf[4096];
  ssize_t n;
  while (line.find('\n') == std::string::npos && (n = read(read_end.get(), buf, sizeof buf)) > 0)
    line.append(buf, static_cast<std::size_t>(n));
  line = line.substr(0, line.find('\n'));
  if (line.rfind("ok ", 0) == 0) return std::make_pair(pid, line.substr(3));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return Error{EIO, line.rfind("error ", 0) == 0 ? line.substr(6) : "the container's process ended while starting"};
}

// Records created container `c` (monitor `pid`): its state, the pid file, the create hooks.
Result<State> record(const StateStore& store, const CreateOptions& o, Checked& c, pid_t pid, const std::string& backend) {
  State s;
  s.id = o.id;
  s.bundle = c.bundle;
  s.rootfs = c.spec.root;
  s.created = now_rfc3339();
  s.owner = owner_name();
  s.pid = pid;
  s.start_time = start_time_of(pid);
  s.backend = backend;
  s.annotations = c.spec.annotations;
  std::ofstream(store.dir(o.id) + "/config.json") << c.text;  // start, exec and delete read it back
  LX_TRY(store.save(s));
  if (!o.pid_file.empty()) LX_TRY(write_atomically(o.pid_file, std::to_string(pid)));
  for (const char* kind : {"createRuntime", "createContainer"})
    if (c.spec.hooks.count(kind)) LX_TRY(run_hooks(c.spec.hooks[kind], kind, state_json(s, "created", false)));
  return s;
}

// `run` without --detach: starts container `id` (monitor `pid`), waits for it, deletes it
// (unless --keep) and returns its exit code.
int run_foreground(const StateStore& store, const CreateOptions& o, pid_t pid) {
  if (int rc = start_container(store, o.id); rc != 0) {
    delete_container(store, o.id, true);
    return rc;
  }
  signal(SIGINT, SIG_IGN);  // the container's process gets the terminal's signals itself
  signal(SIGQUIT, SIG_IGN);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!o.keep) delete_container(store, o.id, true);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int create_container(const StateStore& store, const CreateOptions& o) {
  auto checked = check_bundle(o);
  if (!checked) {
    report_error(checked.error().message);
    return 1;
  }
  auto dir = store.create_dir(o.id);
  if (!dir) {
    report_error(dir.error().message);
    return 1;
  }
  auto started = start_monitor(o, *checked, *dir);
  Result<State> recorded = started ? record(store, o, *checked, started->first, started->second) : Result<State>(started.error());
  if (!recorded) {
    if (started) {
      kill(started->first, SIGKILL);
      waitpid(started->first, nullptr, 0);
    }
    report_error(recorded.error().message);
    (void)store.remove(o.id);
    return 1;
  }
  return o.foreground ? run_foreground(store, o, started->first) : 0;
}

int start_container(const StateStore& store, const std::string& id) {
  auto s = store.load(id);
  if (!s) {
    report_error(s.error().message);
    return 1;
  }
  std::string status = status_of(*s, store.dir(id));
  if (status != "created") {
    report_error(fmt::format("cannot start container \"{}\": it is {}", id, status));
    return 1;
  }
  UniqueFd fifo(::open((store.dir(id) + "/exec.fifo").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) {
    report_error(fmt::format("cannot start container \"{}\": its process is not waiting ({})", id, std::strerror(errno)));
    return 1;
  }
  std::ofstream(store.dir(id) + "/started") << now_rfc3339();
  if (write(fifo.get(), "1", 1) != 1) {
    ::unlink((store.dir(id) + "/started").c_str());
    report_error(Error::from_errno("writing the exec FIFO").message);
    return 1;
  }
  bool found = false;
  std::string text = read_file(store.dir(id) + "/config.json", found);
  auto spec = parse_spec(text, s->bundle);
  if (spec && spec->hooks.count("poststart")) {
    auto r = run_hooks(spec->hooks["poststart"], "poststart", state_json(*s, "running", false));
    if (!r) report_error(r.error().message);  // runc warns and goes on
  }
  return 0;
}

int kill_container(const StateStore& store, const std::string& id, int sig, bool all) {
  auto s = store.load(id);
  if (!s) {
    report_error(s.error().message);
    return 1;
  }
  std::string status = status_of(*s, store.dir(id));
  if (status != "created" && status != "running") {
    report_error(fmt::format("container \"{}\" is not running (it is {})", id, status));
    return 1;
  }
  if (all || sig == SIGKILL) {
    // Every process of the instance (the monitor's descendants), then the monitor.
    for (pid_t p : descendants_of(s->pid)) kill(p, sig);
  }
  if (kill(s->pid, sig) != 0) {
    report_error(Error::from_errno(fmt::format("kill({}, {})", s->pid, sig)).message);
    return 1;
  }
  return 0;
}

int delete_container(const StateStore& store, const std::string& id, bool force) {
  auto s = store.load(id);
  if (!s) {
    if (force && s.error().code == ENOENT) return 0;
    report_error(s.error().message);
    return 1;
  }
  std::string dir = store.dir(id);
  std::string status = status_of(*s, dir);
  if ((status == "running" || status == "created") && !force) {
    // The runtime-spec: deleting a container that is not stopped is an error and changes nothing.
    report_error(fmt::format("cannot delete container \"{}\": it is {} (stop it first, or --force)", id, status));
    return 1;
  }
  if (status == "running" || status == "created") {
    for (pid_t p : descendants_of(s->pid)) kill(p, SIGKILL);
    kill(s->pid, SIGKILL);
    for (int i = 0; i < 500 && process_running(s->pid, s->start_time); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  bool found = false;
  std::string text = read_file(dir + "/config.json", found);
  if (found && s->pid > 0) {
    auto spec = parse_spec(text, s->bundle);
    if (spec && spec->hooks.count("poststop")) {
      auto r = run_hooks(spec->hooks["poststop"], "poststop", state_json(*s, "stopped", false));
      if (!r) report_error(r.error().message);
    }
  }
  auto r = store.remove(id);
  if (!r) {
    report_error(r.error().message);
    return 1;
  }
  return 0;
}

}  // namespace lx::oci
