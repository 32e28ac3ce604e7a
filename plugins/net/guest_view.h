// AF_UNIX paths as a guest of the kernel backend sees them. The guest has its own mount namespace
// (and maybe its own root): a path this process resolved by name would be the host's, so a path
// in a call done on behalf of the guest is resolved from the guest's root and cwd, reached through
// /proc/<tid>/root and /proc/<tid>/cwd, with openat2 keeping it inside that root.
#pragma once

#include <sys/types.h>

#include <string>

#include "address.h"

namespace lx::net {

/// Opens `path` as guest thread `tid` would reach it (its root, its cwd, its mounts), with `flags`
/// (O_PATH, O_DIRECTORY, O_NOFOLLOW...): the fd, or -errno. A relative path that climbs above the
/// cwd or meets an absolute symlink is resolved from the root with the cwd's guest path; when the
/// cwd cannot be named from the root (a chroot inside the instance), -ENOENT. /proc magic links
/// (/proc/self/...) are refused (-ELOOP): this process is not in the guest's PID namespace.
int open_in_guest_view(pid_t tid, const std::string& path, int flags);

/// Binds socket `sock` to AF_UNIX name `a` (one component, in directory `a.dir`) with the umask of
/// guest thread `tid`, from a thread of ours whose cwd is that directory: 0 or errno. The socket's
/// name is then that component.
int bind_in_dir(int sock, pid_t tid, Address& a);

}  // namespace lx::net
