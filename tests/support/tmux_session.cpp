// TmuxSession: tmux -S <private socket> new-session / send-keys / capture-pane / kill-server.
#include "tmux_session.h"

#include <unistd.h>

#include "run_command.h"
#include "test_backend.h"

namespace lx::test {

bool TmuxSession::available() { return access("/usr/bin/tmux", X_OK) == 0 && access("/bin/bash", X_OK) == 0; }

std::vector<std::string> TmuxSession::tmux(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"/usr/bin/tmux", "-S", socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

TmuxSession::TmuxSession(const std::string& command, int width, int height) {
  socket_ = dir_ / "socket";
  started_ = run_command(tmux({"new-session", "-d", "-s", "t", "-x", std::to_string(width), "-y",
                               std::to_string(height), with_test_backend_line(command)})).status == 0;
}

TmuxSession::~TmuxSession() { run_command(tmux({"kill-server"})); }

void TmuxSession::keys(const std::vector<std::string>& keys, int pause_ms) {
  std::vector<std::string> args = {"send-keys", "-t", "t"};
  args.insert(args.end(), keys.begin(), keys.end());
  run_command(tmux(args));
  usleep(static_cast<useconds_t>(pause_ms) * 1000);
}

std::string TmuxSession::screen() { return run_command(tmux({"capture-pane", "-t", "t", "-p"})).out; }

}  // namespace lx::test
