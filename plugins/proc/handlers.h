// The handlers of the proc family, one group per topic file: the fake root's identity
// (identity_calls.cpp) and capabilities (capability_calls.cpp), the process limit and the uname
// personality (limit_calls.cpp), and execve in a guest root (exec_calls.cpp). Each implements
// the call it is named after; the rows that route the calls here are in proc_table.cpp.
#pragma once

#include <sys/types.h>

#include <lxhost/plugin.h>

#include "proc_state.h"

namespace lx::proc {

/// A handler of the table: one guest thread's call, on the plugin's state.
using Handler = sdk::SyscallResult(ProcState& s, sdk::SyscallContext& c);

/// Identity under fake root (identity_calls.cpp): each works on the caller's Creds.
Handler handle_getuid, handle_geteuid, handle_getgid, handle_getegid, handle_getresuid, handle_getresgid;
/// Setting ids and groups under fake root (identity_calls.cpp), with the kernel's rules.
Handler handle_setuid, handle_setgid, handle_setreuid, handle_setregid, handle_setresuid, handle_setresgid,
    handle_setfsuid, handle_setfsgid, handle_getgroups, handle_setgroups;

/// Capabilities under fake root (capability_calls.cpp): capget (pids outside the instance get
/// ESRCH) and capset on the emulated sets, prctl's PR_GET/SET_KEEPCAPS (other options native).
Handler handle_capget, handle_capset, handle_prctl;
/// Without fake root, in a privileged lx: the setuid family, setgroups and capset run natively,
/// after the calling thread's kept real credentials are forgotten (RealCredentials).
Handler handle_credential_change;
/// Under fake root, the calls only a capability guards (sethostname, settimeofday, reboot...):
/// EPERM without it in the emulated effective set, else native (capability_calls.cpp).
Handler handle_guarded_call;
/// The capability sets of thread `tid` after it exec'd (capabilities(7)).
void caps_after_exec(ProcState& s, pid_t tid);

/// The process limit on fork, vfork, clone and clone3, and uname with the configured hostname
/// and release (limit_calls.cpp).
Handler handle_fork, handle_uname;

/// execve and execveat in a guest root (exec_calls.cpp): the program and its interpreters from
/// the guest root; execveat with AT_EMPTY_PATH and an empty path runs the fd natively.
Handler handle_execve, handle_execveat;

}  // namespace lx::proc
