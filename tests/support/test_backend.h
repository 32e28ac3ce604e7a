// Test support: the backend the behaviour tests run on. With LXHOST_TEST_BACKEND=kernel or
// =emulated (CTest registers the integration and service tests once for each: NAME_kernel,
// NAME_emulated), every `lx exec`, `lx run` and `lx syscalls` the support layer starts (run_command,
// start_command, TmuxSession) runs on that backend; unset, nothing changes and the config's
// default (auto) decides.
//
// How it is carried: `lx exec` and `lx syscalls` (whose table is the backend's) get
// `--set instance.backend=B` after the subcommand; a command that sets instance.backend itself
// (a test of the choice) is left as it is. An `lx run` joins a running instance only with the
// same --set values, and tests start some of theirs outside the support layer, without --set: so
// a run gets the --set only when it carries --set values of its own (then every such run of a
// test carries it alike), and the instance also reads `[instance] backend = "B"` from
// $XDG_CONFIG_HOME/lxhost/lxhost.toml, written (when missing) into the test's own config
// directory as soon as a command names XDG_CONFIG_HOME. A run with no config directory of its own
// gets the --set too. lxhostd's own --set values do not reach its instances (they place the
// service), so lxhostd is left alone.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace lx::test {

/// "kernel" or "emulated" as LXHOST_TEST_BACKEND asks; "" when unset. Any other value aborts
/// the test program with a message (a typo must not quietly test the default).
const std::string& test_backend();

/// `argv` run on test_backend() (see the file comment); a copy of `argv` when it is "". `env`:
/// the NAME=VALUE entries added to the command's environment. Writes the config file when a
/// config directory is named (in `env`, or as an `env NAME=VALUE` word of the command).
std::vector<std::string> with_test_backend(std::vector<std::string> argv, const std::vector<std::string>& env = {});

/// The same for a shell command line (words split at spaces, joined back the same way).
std::string with_test_backend_line(const std::string& command_line);

/// "" when this host lets this process create a user namespace (driver::probe_user_namespace),
/// else why not. Under LXHOST_TEST_BACKEND=kernel on such a host, every test of a program
/// linking the support layer skips with that reason.
const std::string& kernel_refusal();

/// Skips the running test on the kernel variant, saying why: it is about a mechanism only the
/// emulated backend has (a TRACE row, fake root, the emulated /proc view...), or about what the
/// kernel backend does not do yet (then `why` says so, and the note lists it).
#define LX_EMULATED_BACKEND_ONLY(why)                 \
  if (::lx::test::test_backend() == "kernel")         \
  GTEST_SKIP() << "about the emulated backend: " << why

/// The host pid of a guest's process given by its pid as the guest sees it (`echo $!`): under the
/// kernel backend the guest has its own PID namespace, so the process whose NSpid ends in
/// `guest_pid` in another namespace and whose command line holds `command_has`; `guest_pid`
/// itself on the emulated backend; -1 when none is found. Call it while the process runs.
pid_t host_pid(pid_t guest_pid, const std::string& command_has);

/// Whether host pid `pid` is the init of a PID namespace below ours (a kernel-backed instance's).
bool is_namespace_init(pid_t pid);

}  // namespace lx::test
