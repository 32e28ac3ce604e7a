// The fs family's syscall table, as gVisor's linux64.go: every call the family takes on, its
// route, its handler (handlers.h), its support level and a note for `lx syscalls`, in one place.
// Which rows apply depends on the config (the When column): with the host's own root (only the
// instance's /proc to show) the calls that take no path have nothing to translate, and
// getdents is read on behalf of the guest only when its /proc shows the instance alone.
#include <cerrno>
#include <vector>

#include "fs_table.h"
#include "handlers.h"

namespace lx::fs {
namespace {

using namespace sdk::policy;
namespace sys = sdk::sys;

constexpr auto F = sdk::Support::kFull;
constexpr auto P = sdk::Support::kPartial;
constexpr auto E = sdk::Support::kErrno;

// When a row applies.
enum class When {
  kAlways,      // every config that takes calls at all
  kTranslated,  // not the host's own root: calls taking no path have something to show
  kProcView,    // [fs] proc = "instance": /proc lists the instance's pids only
};

struct FsRow {
  When when;
  sdk::Row<FsState> row;
};

constexpr std::string_view kOpenNote = "resolved in the guest root; fd installed with ADDFD; O_PATH: TRACE, opened by the guest itself (its result checked) where no other task shares its memory and fds";
constexpr std::string_view kChownNote = "kept as metadata (user.lxhost.meta) when the host refuses";
constexpr std::string_view kMknodNote = "device nodes emulated as empty files with metadata when the host refuses";
constexpr std::string_view kReadlinkNote = "/proc/self/{cwd,exe,fd/N,root} show guest paths";
constexpr std::string_view kXattrNote = "user.lxhost.* is reserved for lxhost's metadata";
constexpr std::string_view kGetdentsNote = "read on behalf of the guest; a procfs root lists the instance's pids only";
constexpr std::string_view kHostNote = "EPERM: would act on the host's paths or mounts";
constexpr std::string_view kLaterNote = "not translated yet; C libraries fall back";

// clang-format off
const FsRow kRows[] = {
    // Open and create.
    {When::kAlways, {sys::open, If((Arg<int>(1) & O_PATH) == O_PATH, Trace()).Else(Notify()), handle_open, F, kOpenNote}},
    {When::kAlways, {sys::creat, Notify(), handle_creat, F}},
    {When::kAlways, {sys::openat, If((Arg<int>(2) & O_PATH) == O_PATH, Trace()).Else(Notify()), handle_openat, F, kOpenNote}},
    {When::kAlways, {sys::openat2, Notify(), handle_openat2, P, "RESOLVE_* applied on top of the guest root's own rules (RESOLVE_CACHED: resolved anyway)"}},
    // Stat and other metadata.
    {When::kAlways, {sys::stat, Notify(), handle_stat, F}},
    {When::kAlways, {sys::lstat, Notify(), handle_lstat, F}},
    {When::kAlways, {sys::newfstatat, Notify(), handle_newfstatat, F}},
    {When::kTranslated, {sys::fstat, Notify(), handle_fstat, F, "shows emulated ownership and modes"}},
    {When::kAlways, {sys::statx, Notify(), handle_statx, F}},
    {When::kAlways, {sys::access, Notify(), handle_access, F}},
    {When::kAlways, {sys::faccessat, Notify(), handle_faccessat, F}},
    {When::kAlways, {sys::faccessat2, Notify(), handle_faccessat2, F}},
    {When::kAlways, {sys::statfs, Notify(), handle_statfs, F}},
    {When::kAlways, {sys::truncate, Notify(), handle_truncate, F}},
    {When::kAlways, {sys::utimensat, Notify(), handle_utimensat, F}},
    {When::kAlways, {sys::utimes, Notify(), handle_utimes, F}},
    {When::kAlways, {sys::futimesat, Notify(), handle_futimesat, F}},
    {When::kAlways, {sys::utime, Notify(), handle_utime, F}},
    // Ownership and modes.
    {When::kAlways, {sys::chown, Notify(), handle_chown, P, kChownNote}},
    {When::kAlways, {sys::lchown, Notify(), handle_lchown, P, kChownNote}},
    {When::kAlways, {sys::fchownat, Notify(), handle_fchownat, P, kChownNote}},
    {When::kTranslated, {sys::fchown, Notify(), handle_fchown, P, kChownNote}},
    {When::kAlways, {sys::chmod, Notify(), handle_chmod, F}},
    {When::kAlways, {sys::fchmodat, Notify(), handle_fchmodat, F}},
    {When::kAlways, {sys::fchmodat2, Notify(), handle_fchmodat2, F}},
    {When::kAlways, {sys::mknod, Notify(), handle_mknod, P, kMknodNote}},
    {When::kAlways, {sys::mknodat, Notify(), handle_mknodat, P, kMknodNote}},
    // Extended attributes.
    {When::kAlways, {sys::getxattr, Notify(), handle_xattr, P, kXattrNote}},
    {When::kAlways, {sys::lgetxattr, Notify(), handle_xattr, P, kXattrNote}},
    {When::kAlways, {sys::setxattr, Notify(), handle_xattr, P, kXattrNote}},
    {When::kAlways, {sys::lsetxattr, Notify(), handle_xattr, P, kXattrNote}},
    {When::kAlways, {sys::listxattr, Notify(), handle_xattr, P, kXattrNote}},
    {When::kAlways, {sys::llistxattr, Notify(), handle_xattr, P, kXattrNote}},
    {When::kAlways, {sys::removexattr, Notify(), handle_xattr, P, kXattrNote}},
    {When::kAlways, {sys::lremovexattr, Notify(), handle_xattr, P, kXattrNote}},
    {When::kTranslated, {sys::fgetxattr, Notify(), handle_xattr, P, kXattrNote}},
    {When::kTranslated, {sys::fsetxattr, Notify(), handle_xattr, P, kXattrNote}},
    {When::kTranslated, {sys::flistxattr, Notify(), handle_xattr, P, kXattrNote}},
    {When::kTranslated, {sys::fremovexattr, Notify(), handle_xattr, P, kXattrNote}},
    // Links, renames and removals.
    {When::kAlways, {sys::symlink, Notify(), handle_symlink, F}},
    {When::kAlways, {sys::symlinkat, Notify(), handle_symlinkat, F}},
    {When::kAlways, {sys::link, Notify(), handle_link, F}},
    {When::kAlways, {sys::linkat, Notify(), handle_linkat, F}},
    {When::kAlways, {sys::rename, Notify(), handle_rename, F}},
    {When::kAlways, {sys::renameat, Notify(), handle_renameat, F}},
    {When::kAlways, {sys::renameat2, Notify(), handle_renameat2, F}},
    {When::kAlways, {sys::unlink, Notify(), handle_unlink, F}},
    {When::kAlways, {sys::unlinkat, Notify(), handle_unlinkat, F}},
    {When::kAlways, {sys::rmdir, Notify(), handle_rmdir, F}},
    {When::kAlways, {sys::readlink, Notify(), handle_readlink, F, kReadlinkNote}},
    {When::kAlways, {sys::readlinkat, Notify(), handle_readlinkat, F, kReadlinkNote}},
    // Directories.
    {When::kAlways, {sys::mkdir, Notify(), handle_mkdir, F}},
    {When::kAlways, {sys::mkdirat, Notify(), handle_mkdirat, F}},
    {When::kAlways, {sys::chdir, Trace(), handle_chdir, F, "path rewritten to the host directory"}},
    {When::kAlways, {sys::getcwd, Notify(), handle_getcwd, F, "the guest path of the cwd, below the caller's own root"}},
    {When::kAlways, {sys::chroot, Notify(), handle_chroot, F, "emulated: each process's own root in the fs family (symlinks, `..`, getcwd, /proc links, exec); the host's is untouched"}},
    {When::kProcView, {sys::getdents64, Notify(), handle_getdents64, F, kGetdentsNote}},
    {When::kProcView, {sys::getdents, Notify(), handle_getdents, F, kGetdentsNote}},
    {When::kAlways, {sys::inotify_add_watch, Notify(), handle_inotify_add_watch, F, "the watch is added to the guest's own inotify instance"}},
    // Calls that would act on host paths or the host's mount table: refused, as in an
    // unprivileged container.
    {When::kAlways, {sys::pivot_root, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::mount, Notify(), handle_mount, P,
                     "emulated: the instance's own mount table in the fs family (bind, tmpfs as a directory of lx, "
                     "proc/sysfs/devpts as the instance's, remount ro, move); a device's filesystem EPERM"}},
    {When::kAlways, {sys::umount2, Notify(), handle_umount2, F, "the fs family's mount table"}},
    // Landlock restricts the thread that calls, and the calls done on its behalf are lx's: a
    // guest that sandboxed itself would not be. As a kernel with Landlock disabled at boot, so
    // that programs know they are not sandboxed (and run, or refuse to, as they choose).
    {When::kAlways, {sys::landlock_create_ruleset, Error(EOPNOTSUPP), nullptr, E,
                     "EOPNOTSUPP (as Landlock disabled): lx's calls on the guest's behalf would escape its rules"}},
    {When::kAlways, {sys::swapon, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::swapoff, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::quotactl, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::acct, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::uselib, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::open_tree, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::move_mount, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::fspick, Error(EPERM), nullptr, E, kHostNote}},
    // The new mount API: a filesystem it makes would be the host's to mount, and fsconfig's
    // "source" is a host path (a guest with the host's CAP_SYS_ADMIN made a tmpfs with it).
    {When::kAlways, {sys::fsopen, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::fsconfig, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::fsmount, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::mount_setattr, Error(EPERM), nullptr, E, kHostNote}},
    {When::kAlways, {sys::fanotify_mark, Notify(), handle_fanotify_mark, P,
                     "marks added to the guest's own group; mount/filesystem marks only with the host's root"}},
    // A handle opens any file of its filesystem, wherever the guest root is (CAP_DAC_READ_SEARCH:
    // the "shocker" container escape): refused in a guest root, native with the host's own.
    {When::kTranslated, {sys::open_by_handle_at, Error(EPERM), nullptr, E,
                         "EPERM in a guest root: a handle opens any file of the host filesystem"}},
    {When::kAlways, {sys::name_to_handle_at, Notify(), handle_name_to_handle_at, F,
                     "the host filesystem's handle of what the guest names (open_by_handle_at stays refused)"}},
    // Not translated yet.
    {When::kAlways, {sys::setxattrat, Error(ENOSYS), nullptr, E, kLaterNote}},
    {When::kAlways, {sys::getxattrat, Error(ENOSYS), nullptr, E, kLaterNote}},
    {When::kAlways, {sys::listxattrat, Error(ENOSYS), nullptr, E, kLaterNote}},
    {When::kAlways, {sys::removexattrat, Error(ENOSYS), nullptr, E, kLaterNote}},
    {When::kAlways, {sys::open_tree_attr, Error(ENOSYS), nullptr, E, kLaterNote}},
    {When::kAlways, {sys::file_getattr, Notify(), handle_file_getattr, F}},
    {When::kAlways, {sys::file_setattr, Notify(), handle_file_setattr, F}},
};
// clang-format on

bool applies(When when, const FsState& s) {
  switch (when) {
    case When::kAlways: return true;
    case When::kTranslated: return !s.host_root;
    case When::kProcView: return s.proc_view;
  }
  return false;
}

}  // namespace

std::vector<sdk::Row<FsState>> fs_rows(const FsState& s) {
  std::vector<sdk::Row<FsState>> out;
  for (const FsRow& r : kRows)
    if (applies(r.when, s)) out.push_back(r.row);
  return out;
}

}  // namespace lx::fs
