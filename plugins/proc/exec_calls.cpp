// execve and execveat in a guest root: the arguments read once, then rewritten by ExecRewriter.
#include <fcntl.h>

#include "handlers.h"

namespace lx::proc {

using sdk::SyscallContext;
using sdk::SyscallResult;

// Implements execve(2).
SyscallResult handle_execve(ProcState& s, SyscallContext& c) {
  ExecCall call;
  if (int e = c.path(0, call.path); e != 0) return sdk::fail(e);
  call.argv = c.ptr(1);
  return s.exec.rewrite(c, call);
}

// Implements execveat(2).
SyscallResult handle_execveat(ProcState& s, SyscallContext& c) {
  ExecCall call;
  call.execveat = true;
  call.dirfd = c.fd(0);
  if (int e = c.path(1, call.path); e != 0) return sdk::fail(e);
  if ((c.flags<int>(4) & AT_EMPTY_PATH) && call.path.empty()) return SyscallResult::continue_native();
  call.argv = c.ptr(2);
  call.envp = c.ptr(3);
  return s.exec.rewrite(c, call);
}

}  // namespace lx::proc
