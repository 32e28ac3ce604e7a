// Test support: run a command as a child process, feed its stdin, capture stdout and stderr,
// and return its exit status (with a timeout that kills it).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace lx::test {

/// What a finished command produced.
struct CommandResult {
  int status = -1;        ///< exit code, or 128+N when killed by signal N; -1 on timeout
  std::string out;        ///< stdout
  std::string err;        ///< stderr
  bool timed_out = false; ///< killed after the timeout
};

/// Options of run_command.
struct CommandOptions {
  std::string input;                                 ///< written to stdin, then closed
  std::vector<std::string> env_add;                  ///< extra NAME=VALUE entries
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};  ///< then SIGKILL
};

/// Runs `argv` (argv[0] looked up in PATH); an `lx exec`/`lx run` in it runs on the tests'
/// backend (test_backend.h), as in start_command.
CommandResult run_command(const std::vector<std::string>& argv, const CommandOptions& options = {});

/// Starts `argv` in the background with stdout to a pipe; returns its pid and the pipe's read end.
pid_t start_command(const std::vector<std::string>& argv, int* stdout_fd);

/// Reads one line from `fd` (without the newline), waiting at most `timeout`.
std::string read_line(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Waits for `pid` and returns its exit code or 128+N; -1 on timeout (then kills it).
int wait_for(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// Whether process `pid` still exists and is not a zombie.
bool process_alive(pid_t pid);

}  // namespace lx::test
