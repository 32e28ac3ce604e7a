// lxhost-runc: one container's life. `create` checks the bundle, then forks the container's
// process — lxhost's *monitor*, the pid the pid file names — which builds the lxhost instance
// (plugins configured from config.json and the io.lxhost.* annotations, the kernel backend where
// the spec asks for namespaces and the host allows them), reports to `create`, and waits on the
// exec FIFO; `start` opens the FIFO and the monitor runs process.args as the instance's first
// process, passes on the signals it gets, and exits as that process exited (killed by the same
// signal, or with its code), ending every process of the instance. This is the shape of runsc's
// sandbox process: the scheduler's shim (conmon, containerd-shim-runc-v2) waits on it and reaps it.
#pragma once

#include <string>
#include <vector>

#include "oci/spec.h"
#include "oci/state.h"

namespace lx::oci {

/// Options of `create` and `run`.
struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  int preserve_fds = 0;       ///< fds 3..3+N-1 passed to the process (plus LISTEN_FDS ones)
  bool foreground = false;    ///< `run` without --detach: wait for the container and exit as it did
  bool keep = false;          ///< `run --keep`: keep the stopped container's state
  bool no_pivot = false;      ///< accepted (lxhost never pivots the host's root)
  bool no_new_keyring = false;
};

/// Options of `exec`.
struct ExecOptions {
  std::string id;
  std::string process_file;    ///< --process: a process object as config.json's (else from args)
  std::string console_socket;  ///< the pty master goes there (process.terminal or --tty)
  std::string pid_file;
  std::string cwd;             ///< --cwd (without --process)
  std::string user;            ///< --user UID[:GID] (without --process)
  std::vector<std::string> env;   ///< --env NAME=VALUE, added to the container's
  std::vector<std::string> args;  ///< the command (without --process)
  bool detach = false;
  bool tty = false;
};

/// `create` (and the first half of `run`). Returns the exit code to use.
int create_container(const StateStore& store, const CreateOptions& o);
/// `exec`: another process in a running container, run by its monitor (exec_channel.h).
/// Without --detach it waits and exits as the process did; with it a small process of its own
/// stands for the process (its pid goes to --pid-file, it exits as the process exits and passes
/// on the signals it gets), as runc's detached exec leaves the process itself for the shim.
int exec_container(const StateStore& store, const ExecOptions& o);
/// `start ID`.
int start_container(const StateStore& store, const std::string& id);
/// `kill ID [SIGNAL]` (--all: every process of the container).
int kill_container(const StateStore& store, const std::string& id, int sig, bool all);
/// `delete ID` (--force: kill a running one first).
int delete_container(const StateStore& store, const std::string& id, bool force);
/// Runs the hooks of `kind` with the state on stdin; an error names the hook.
Result<void> run_hooks(const std::vector<Hook>& hooks, const std::string& kind, const std::string& state);

/// The signal named by "TERM", "SIGTERM" or "15"; -1 when unknown.
int signal_number(const std::string& name);

/// Prints an error as runc does (and to --log in the chosen format).
void report_error(const std::string& message);
/// Where report_error also writes, and how ("text" or "json").
void set_log(const std::string& path, const std::string& format);

}  // namespace lx::oci
