// Test support: a program run on a real terminal, in a private tmux server, driven by keys.
#pragma once

#include <string>
#include <vector>

#include "unprivileged.h"

namespace lx::test {

/// One tmux session running `command` on a WIDTH×HEIGHT terminal; the server dies with it, and
/// its socket (in a private temporary directory) goes too.
class TmuxSession {
 public:
  /// Whether tmux and bash are installed.
  static bool available();
  /// Starts `command` (a shell command line) in a new detached session.
  TmuxSession(const std::string& command, int width = 100, int height = 30);
  ~TmuxSession();
  TmuxSession(const TmuxSession&) = delete;
  TmuxSession& operator=(const TmuxSession&) = delete;

  /// Whether the session started.
  bool started() const noexcept { return started_; }
  /// Sends keys as tmux send-keys takes them ("text", "Enter", "C-z"), then waits `pause_ms`.
  void keys(const std::vector<std::string>& keys, int pause_ms = 400);
  /// The visible screen, as text.
  std::string screen();

 private:
  std::vector<std::string> tmux(const std::vector<std::string>& args) const;
  TempDir dir_{"lxhost-tmux"};  // holds the server's socket: nothing left in /tmp/tmux-UID
  std::string socket_;
  bool started_ = false;
};

}  // namespace lx::test
