// A launch in the instance: its plan (launch_plan.h), its standard fds (the client's, or a new
// pseudo-terminal whose master goes to the client), and a driver run on a thread of its own,
// which tells the client when the guest started and how it exited.
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <fmt/format.h>

#include "instance_process.h"

namespace lx::service {
namespace {

// The exit status `lx run` gives when the guest could not be started.
int exit_code_for(int err) {
  return err == ENOENT ? 127 : (err == EACCES || err == ENOEXEC || err == EISDIR) ? 126 : 125;
}

// A launch's standard fds: the client's own (`fds` after its connection), or a new
// pseudo-terminal of the client's size, its stderr the client's when that is no terminal.
struct Stdio {
  std::vector<int> fds;
  UniqueFd master, slave;
};

Result<Stdio> open_stdio(const RunRequest& request, const std::vector<UniqueFd>& fds) {
  Stdio s;
  for (std::size_t i = 1; i < fds.size() && i <= kMaxLaunchFds; ++i) s.fds.push_back(fds[i].get());
  if (!request.tty) return s;
  int m = -1, t = -1;
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(request.rows);
  ws.ws_col = static_cast<unsigned short>(request.cols);
  if (openpty(&m, &t, nullptr, nullptr, &ws) != 0) return Error::from_errno("openpty");
  s.master.reset(m);
  s.slave.reset(t);
  fcntl(m, F_SETFD, FD_CLOEXEC);
  fcntl(t, F_SETFD, FD_CLOEXEC);
  s.fds = {t, t, request.stderr_tty || s.fds.size() < 3 ? t : s.fds[2]};
  return s;
}

}  // namespace

void Launch::fail(const std::string& why, int exit) {
  send(ErrorEvent{{}, why, exit});
  finished = true;
}

void InstanceProcess::handle_launch(const RunRequest& request, std::vector<UniqueFd> fds) {
  ++received_;
  debug(fmt::format("launch {} received with {} fds", next_id_, fds.size()));
  if (fds.empty()) return;
  auto owned = std::make_unique<Launch>();
  owned->id = next_id_++;
  owned->conn = std::move(fds[0]);
  Launch& l = *owned;
  launches_.push_back(std::move(owned));
  if (ending_) return l.fail(fmt::format("instance '{}' is ending", settings_.name));
  auto plan = plan_launch(settings_, request, host_files());
  if (!plan) return l.fail(plan.error().message);
  if (auto r = start_driver(l, std::move(*plan), request, std::move(fds)); !r) l.fail(r.error().message);
}

Result<void> InstanceProcess::start_driver(Launch& l, LaunchPlan plan, const RunRequest& request,
                                           std::vector<UniqueFd> fds) {
  LX_TRY_ASSIGN(stdio, open_stdio(request, fds));
  driver::LaunchSpec spec;
  spec.argv = std::move(plan.argv);
  spec.env = std::move(plan.env);
  spec.cwd = std::move(plan.cwd);
  spec.stdio = stdio.fds;
  spec.new_session = true;
  spec.only_stdio = true;
  spec.set_signals = true;
  spec.ignored_signals = request.ignored_signals;
  spec.blocked_signals = request.blocked_signals;
  if (kernel_ && plan.user) spec.ids = driver::LaunchIds{plan.user->uid, plan.user->gid, {plan.user->groups.begin(), plan.user->groups.end()}};
  // What the guest's first process inherits at its fork (the client's fds, the pty's slave) is
  // closed here once it runs, so a reader of the client's pipe sees EOF when the guest's own
  // copies go, not when the instance ends; the pty master goes to the client.
  auto held = std::make_shared<std::vector<UniqueFd>>(std::move(fds));
  held->push_back(std::move(stdio.slave));
  auto master = std::make_shared<UniqueFd>(std::move(stdio.master));
  Launch* lp = &l;
  LX_TRY_ASSIGN(drv, runtime_->make_driver(
                         nullptr, settings_.name,
                         [this, lp, held, master, user = plan.user](pid_t p) {
                           on_started(*lp, p, user, *master);
                           held->clear();
                           master->reset();
                         },
                         [this, lp](const driver::ExitStatus& s) { on_exited(*lp, s); }));
  l.driver = std::move(drv);
  l.thread = std::thread([this, lp, spec = std::move(spec), held, master]() mutable {
    if (auto r = lp->driver->run(spec); !r)
      lp->send(ErrorEvent{{}, r.error().message, exit_code_for(r.error().code)});
    held->clear();
    master->reset();
    lp->finished = true;
    wake();
  });
  return ok();
}

void InstanceProcess::on_started(Launch& l, pid_t pid, const std::optional<LaunchUser>& user, const UniqueFd& master) {
  debug(fmt::format("launch {}: started pid {}", l.id, pid));
  l.main_pid = pid;
  if (ending_) kill(pid, SIGKILL);
  if (user && !kernel_ && identity_->set_identity(pid, user->uid, user->gid, user->groups.data(), user->groups.size()) != 0)
    kill(pid, SIGKILL);
  StartedEvent started{{}, pid};
  if (master) {
    int fds[1] = {master.get()};
    l.send(started, fds);
  } else {
    l.send(started);
  }
}

void InstanceProcess::on_exited(Launch& l, const driver::ExitStatus& s) {
  debug(fmt::format("launch {}: pid {} exited with {}", l.id, l.main_pid.load(), s.shell_status()));
  l.main_exited = true;
  l.send(ExitEvent{{}, s.shell_status(), s.signaled ? s.signal : 0, s.signaled ? 0 : s.code});
  wake();
}

}  // namespace lx::service
