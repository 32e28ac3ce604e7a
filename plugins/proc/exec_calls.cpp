// execve and execveat in a guest root: the arguments read once, then rewritten by ExecRewriter.
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <sys/stat.h>

#include <string>

#include "base/acting_as.h"
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
  int flags = c.flags<int>(4);
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return sdk::fail(EINVAL);  // as the kernel, first
  if (int e = c.path(1, call.path); e != 0) return sdk::fail(e);
  if ((flags & AT_EMPTY_PATH) && call.path.empty()) {
    // fexecve: the file the fd holds, by its guest path, so that its "#!" line and ELF
    // interpreter are found in the guest's world as for any exec (natively the kernel would
    // take them from the host's). A file with no path there (a memfd, a deleted file): ENOENT.
    char host[PATH_MAX + 1];
    ssize_t n;
    {
      ActingAs::AsLx lx;  // lx's own look at the guest's fd
      n = readlink(("/proc/" + std::to_string(c.tid()) + "/fd/" + std::to_string(call.dirfd)).c_str(), host, PATH_MAX);
    }
    if (n < 0) return sdk::fail(EBADF);
    call.path = s.exec.paths().guest_path(std::string(host, static_cast<std::size_t>(n)));
    if (call.path.empty()) return sdk::fail(ENOENT);
    call.dirfd = AT_FDCWD;
  }
  if (flags & AT_SYMLINK_NOFOLLOW) {  // a symlink as the last component: ELOOP
    std::string host;
    if (int e = s.exec.paths().host_path(c.tid(), call.dirfd, call.path, false, host); e != 0) return sdk::fail(e);
    struct stat st;
    if (lstat(host.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) return sdk::fail(ELOOP);
  }
  call.argv = c.ptr(2);
  call.envp = c.ptr(3);
  return s.exec.rewrite(c, call);
}

}  // namespace lx::proc
