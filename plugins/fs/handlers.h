// The handlers of the fs family, one group per topic file: open and create (open_calls.cpp),
// stat and other metadata (stat_calls.cpp), ownership and modes (owner_calls.cpp), extended
// attributes (xattr_calls.cpp), links, renames and removals (link_calls.cpp), directories
// (dir_calls.cpp). Each resolves its paths in the guest's namespace (GuestRoot) and does the
// call on behalf of the guest; the rows routing calls here are in fs_table.cpp.
#pragma once

#include <lxhost/plugin.h>

#include "fs_state.h"

namespace lx::fs {

// Open and create (open_calls.cpp).

/// Implements open(2).
SyscallResult handle_open(FsState& s, SyscallContext& c);
/// Implements creat(2).
SyscallResult handle_creat(FsState& s, SyscallContext& c);
/// Implements openat(2).
SyscallResult handle_openat(FsState& s, SyscallContext& c);
/// Implements openat2(2): the guest root's own rules replace RESOLVE_* flags.
SyscallResult handle_openat2(FsState& s, SyscallContext& c);

// Stat and other metadata (stat_calls.cpp).

/// Implements stat(2).
SyscallResult handle_stat(FsState& s, SyscallContext& c);
/// Implements lstat(2).
SyscallResult handle_lstat(FsState& s, SyscallContext& c);
/// Implements newfstatat(2).
SyscallResult handle_newfstatat(FsState& s, SyscallContext& c);
/// Implements fstat(2), with emulated metadata.
SyscallResult handle_fstat(FsState& s, SyscallContext& c);
/// Implements statx(2).
SyscallResult handle_statx(FsState& s, SyscallContext& c);
/// Implements access(2).
SyscallResult handle_access(FsState& s, SyscallContext& c);
/// Implements faccessat(2).
SyscallResult handle_faccessat(FsState& s, SyscallContext& c);
/// Implements faccessat2(2).
SyscallResult handle_faccessat2(FsState& s, SyscallContext& c);
/// Implements statfs(2).
SyscallResult handle_statfs(FsState& s, SyscallContext& c);
/// Implements truncate(2).
SyscallResult handle_truncate(FsState& s, SyscallContext& c);
/// Implements utimensat(2).
SyscallResult handle_utimensat(FsState& s, SyscallContext& c);
/// Implements utimes(2).
SyscallResult handle_utimes(FsState& s, SyscallContext& c);
/// Implements futimesat(2).
SyscallResult handle_futimesat(FsState& s, SyscallContext& c);
/// Implements utime(2).
SyscallResult handle_utime(FsState& s, SyscallContext& c);

// Ownership and modes (owner_calls.cpp): kept as metadata when the host refuses.

/// Implements chown(2).
SyscallResult handle_chown(FsState& s, SyscallContext& c);
/// Implements lchown(2).
SyscallResult handle_lchown(FsState& s, SyscallContext& c);
/// Implements fchownat(2).
SyscallResult handle_fchownat(FsState& s, SyscallContext& c);
/// Implements fchown(2).
SyscallResult handle_fchown(FsState& s, SyscallContext& c);
/// Implements chmod(2).
SyscallResult handle_chmod(FsState& s, SyscallContext& c);
/// Implements fchmodat(2).
SyscallResult handle_fchmodat(FsState& s, SyscallContext& c);
/// Implements fchmodat2(2).
SyscallResult handle_fchmodat2(FsState& s, SyscallContext& c);
/// Implements mknod(2): device nodes the host refuses become empty files with metadata.
SyscallResult handle_mknod(FsState& s, SyscallContext& c);
/// Implements mknodat(2), as mknod(2).
SyscallResult handle_mknodat(FsState& s, SyscallContext& c);

// Extended attributes (xattr_calls.cpp).

/// Implements {,l,f}{get,set,list,remove}xattr(2), with user.lxhost.* hidden.
SyscallResult handle_xattr(FsState& s, SyscallContext& c);

// Links, renames and removals (link_calls.cpp).

/// Implements symlink(2).
SyscallResult handle_symlink(FsState& s, SyscallContext& c);
/// Implements symlinkat(2).
SyscallResult handle_symlinkat(FsState& s, SyscallContext& c);
/// Implements link(2).
SyscallResult handle_link(FsState& s, SyscallContext& c);
/// Implements linkat(2).
SyscallResult handle_linkat(FsState& s, SyscallContext& c);
/// Implements rename(2).
SyscallResult handle_rename(FsState& s, SyscallContext& c);
/// Implements renameat(2).
SyscallResult handle_renameat(FsState& s, SyscallContext& c);
/// Implements renameat2(2).
SyscallResult handle_renameat2(FsState& s, SyscallContext& c);
/// Implements unlink(2).
SyscallResult handle_unlink(FsState& s, SyscallContext& c);
/// Implements unlinkat(2).
SyscallResult handle_unlinkat(FsState& s, SyscallContext& c);
/// Implements rmdir(2).
SyscallResult handle_rmdir(FsState& s, SyscallContext& c);
/// Implements readlink(2): /proc/self/{cwd,exe,fd/N,root} show guest paths.
SyscallResult handle_readlink(FsState& s, SyscallContext& c);
/// Implements readlinkat(2), as readlink(2).
SyscallResult handle_readlinkat(FsState& s, SyscallContext& c);

// Directories (dir_calls.cpp).

/// Implements mkdir(2).
SyscallResult handle_mkdir(FsState& s, SyscallContext& c);
/// Implements mkdirat(2).
SyscallResult handle_mkdirat(FsState& s, SyscallContext& c);
/// Implements chdir(2) on the TRACE route: the path is rewritten to the host directory.
SyscallResult handle_chdir(FsState& s, SyscallContext& c);
/// Implements getcwd(2): the guest path of the cwd, below the caller's own root.
SyscallResult handle_getcwd(FsState& s, SyscallContext& c);
/// Implements chroot(2) in the fs family (jails.h): the calling process's own root.
SyscallResult handle_chroot(FsState& s, SyscallContext& c);

// Mounts (mount_calls.cpp): the instance's mount table is the fs family's.

/// Implements mount(2): bind mounts, tmpfs, the instance's virtual filesystems, remounts, moves.
SyscallResult handle_mount(FsState& s, SyscallContext& c);
/// Implements umount2(2): the top mount at the path is gone.
SyscallResult handle_umount2(FsState& s, SyscallContext& c);
/// Implements getdents(2): a procfs root lists the instance's pids only.
SyscallResult handle_getdents(FsState& s, SyscallContext& c);
/// Implements getdents64(2), as getdents(2).
SyscallResult handle_getdents64(FsState& s, SyscallContext& c);
/// Implements inotify_add_watch(2) on the guest's own inotify instance.
SyscallResult handle_inotify_add_watch(FsState& s, SyscallContext& c);
/// Implements fanotify_mark(2) on the guest's own fanotify group (inode marks; mount and
/// filesystem marks only with the host's root).
SyscallResult handle_fanotify_mark(FsState& s, SyscallContext& c);
/// Implements file_getattr(2), file_setattr(2) on the object the guest names.
SyscallResult handle_file_getattr(FsState& s, SyscallContext& c);
SyscallResult handle_file_setattr(FsState& s, SyscallContext& c);
/// Implements name_to_handle_at(2) on the object the guest names.
SyscallResult handle_name_to_handle_at(FsState& s, SyscallContext& c);

}  // namespace lx::fs
