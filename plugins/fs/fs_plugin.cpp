// The filesystem family plugin: a guest root that is a host directory, plus bind mounts.
// Every path-taking call is resolved in the guest's namespace (GuestRoot) and done on behalf
// of the guest on the NOTIFY route (opened files are installed with ADDFD); chdir, which must
// change the guest itself, is rewritten on the TRACE route. execve belongs to the proc plugin,
// which resolves programs and interpreters through the PathResolver this plugin offers.
// The guest's /proc shows its instance only ([fs] proc = "instance", the default): /proc/<pid>
// of any other process does not exist, wherever a procfs is reached, and listing /proc shows
// the instance's pids. With root "/" and no mounts that still takes every path call (resolved
// and done on behalf, as with a guest root, with nothing translated); with proc = "host" too,
// the plugin asks for no syscalls at all.
#include <elf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <unordered_set>
#include <vector>

#include <toml++/toml.h>

#include <lxhost/interfaces.h>
#include <lxhost/plugin.h>

#include "fsmeta/metadata.h"
#include "guest_root.h"

namespace lx::fs {
namespace {

using fsmeta::apply_metadata;
using fsmeta::Metadata;
using fsmeta::MetadataStore;
using sdk::Route;
using sdk::Support;
using sdk::SyscallContext;
using sdk::SyscallResult;

SyscallResult fail(int e) { return SyscallResult::error(e); }

// Newer than the build host's headers may know.
constexpr int kSysFchmodat2 = 452;

// The last component as a *at() name: "." for a directory level itself.
const char* at_name(const Resolved& r) { return r.name.empty() ? "." : r.name.c_str(); }

bool writes(int flags) { return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)); }

class FsPlugin final : public sdk::PluginBase, private sdk::PathResolver {
 public:
  void connect(const sdk::PluginRegistry& registry) noexcept override { registry_ = &registry; }

  void* query_interface(std::string_view name) noexcept override {
    if (name == sdk::PathResolver::kName && translating_) return static_cast<sdk::PathResolver*>(this);
    return nullptr;
  }

  sdk::PluginInfo info() const noexcept override {
    return {"fs", "0.1.0", "fs", "guest root directory, bind mounts, paths resolved in the guest's namespace", "fs"};
  }

  std::vector<sdk::ConfigKey> config_keys() const noexcept override {
    using T = sdk::ConfigType;
    return {{"root", T::kString, "host directory that is the guest's / (default \"/\")"},
            {"mount", T::kTableArray, "bind mounts: { host = \"...\", guest = \"...\", read_only = false }"},
            {"default_mounts", T::kBoolean, "bind /dev, /proc, /sys and /tmp from the host (default true)"},
            {"metadata", T::kString, "where emulated ownership is kept: auto (xattrs, else sidecar), xattr, sidecar"},
            {"metadata_dir", T::kString, "sidecar directory (default $XDG_DATA_HOME/lxhost/metadata/<root>)"},
            {"proc", T::kString, "what the guest's /proc shows: instance (its own processes only, default) or host"}};
  }

  std::string configure(const sdk::PluginConfig& cfg) noexcept override {
    try {
      clear_syscalls();
      host_root_ = proc_view_ = false;
      root_.set_membership({});
      own_umask_ = guest_umask(getpid());
      std::string root = cfg.get_string("root").value_or("/");
      if (root.empty() || root[0] != '/') return "root must be an absolute path, not '" + root + "' (" + cfg.where("root") + ")";
      std::vector<Mount> mounts;
      bool defaults = cfg.get_bool("default_mounts").value_or(true);
      toml::table t = toml::parse(cfg.toml());
      if (const toml::array* a = t["mount"].as_array()) {
        for (const auto& n : *a) {
          const toml::table* m = n.as_table();
          Mount mount;
          mount.host = (*m)["host"].value_or(std::string());
          mount.guest = (*m)["guest"].value_or(mount.host);
          mount.read_only = (*m)["read_only"].value_or(false);
          if (mount.host.empty()) return "every [[fs.mount]] needs host = \"...\" (" + cfg.where("mount") + ")";
          mounts.push_back(std::move(mount));
        }
      }
      std::string proc = cfg.get_string("proc").value_or("instance");
      if (proc != "instance" && proc != "host")
        return "proc must be instance or host, not '" + proc + "' (" + cfg.where("proc") + ")";
      bool translating = root != "/" || !mounts.empty();
      translating_ = translating;
      proc_view_ = proc == "instance";
      if (proc_view_) root_.set_membership([this](pid_t pid) { return member(pid); });
      if (!translating) {
        if (proc == "host") return {};  // the host's own root and its /proc: nothing to intercept
        // The host's root, with the instance's /proc: every path call is resolved and done on
        // behalf of the guest (never checked and then let through: the guest could rewrite the
        // path in between), with nothing translated and no ownership emulated.
        if (std::string err = root_.open("/", {}); !err.empty()) return err;
        host_root_ = true;
        register_handlers();
        return {};
      }
      if (defaults && root != "/") {
        for (const char* d : {"/dev", "/proc", "/sys", "/tmp"}) {
          bool configured = false;
          for (const auto& m : mounts) configured |= m.guest == d;
          if (!configured) mounts.push_back(Mount{d, d, false, {}});
        }
      }
      if (std::string err = root_.open(root, std::move(mounts)); !err.empty()) return err;
      std::string mode = cfg.get_string("metadata").value_or("auto");
      MetadataStore::Mode m = MetadataStore::Mode::kAuto;
      if (mode == "xattr") m = MetadataStore::Mode::kXattr;
      else if (mode == "sidecar") m = MetadataStore::Mode::kSidecar;
      else if (mode != "auto") return "metadata must be auto, xattr or sidecar, not '" + mode + "' (" + cfg.where("metadata") + ")";
      std::string dir = cfg.get_string("metadata_dir").value_or("");
      if (dir.empty()) {
        std::string base;
        if (const char* x = getenv("XDG_DATA_HOME"); x && *x) base = x;
        else if (const char* h = getenv("HOME"); h && *h) base = std::string(h) + "/.local/share";
        else base = "/tmp/lxhost-" + std::to_string(getuid());
        std::string key = root_.root();
        for (char& ch : key)
          if (ch == '/') ch = '_';
        dir = base + "/lxhost/metadata/" + key;
      }
      store_.configure(m, dir);
      register_handlers();
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  void on_process_start(pid_t tid, pid_t) noexcept override {
    try {
      std::lock_guard lock(members_mu_);
      members_.insert(tid);
    } catch (...) {
    }
  }
  void on_process_exit(pid_t tid) noexcept override {
    std::lock_guard lock(members_mu_);
    members_.erase(tid);
  }

 private:
  // Whether process or thread `pid` belongs to the instance.
  bool member(pid_t pid) {
    std::lock_guard lock(members_mu_);
    return members_.count(pid) != 0;
  }

  // Calls that take no path: with the host's root there is nothing to do for them.
  static bool fd_only(int nr) {
    switch (nr) {
      case SYS_getcwd:
      case SYS_fstat:
      case SYS_fchown:
      case SYS_fgetxattr:
      case SYS_fsetxattr:
      case SYS_flistxattr:
      case SYS_fremovexattr:
        return true;
      default:
        return false;
    }
  }

  void on(int nr, Route route, Support support, std::string note, Handler h) {
    if (host_root_ && fd_only(nr)) return;
    sdk::SyscallSpec s;
    s.nr = nr;
    s.route = route;
    s.support = support;
    s.note = std::move(note);
    add(std::move(s), std::move(h));
  }

  void register_handlers() {
    const Route N = Route::kNotify, T = Route::kTrace;
    const Support F = Support::kFull, P = Support::kPartial;
    on(SYS_open, N, F, "resolved in the guest root; fd installed with ADDFD",
       [this](SyscallContext& c) { return open_(c, AT_FDCWD, c.arg(0), static_cast<int>(c.arg(1)), c.arg(2)); });
    on(SYS_creat, N, F, "", [this](SyscallContext& c) {
      return open_(c, AT_FDCWD, c.arg(0), O_CREAT | O_WRONLY | O_TRUNC, c.arg(1));
    });
    on(SYS_openat, N, F, "resolved in the guest root; fd installed with ADDFD", [this](SyscallContext& c) {
      return open_(c, static_cast<int>(c.arg(0)), c.arg(1), static_cast<int>(c.arg(2)), c.arg(3));
    });
    on(SYS_openat2, N, P, "RESOLVE_* flags other than the guest root's own rules are ignored",
       [this](SyscallContext& c) {
         open_how how{};
         std::size_t size = std::min<std::size_t>(c.arg(3), sizeof how);
         if (size < 24) return fail(EINVAL);
         if (int e = c.read_memory(c.arg(2), &how, size); e != 0) return fail(e);
         return open_(c, static_cast<int>(c.arg(0)), c.arg(1), static_cast<int>(how.flags), how.mode);
       });
    on(SYS_stat, N, F, "", [this](SyscallContext& c) { return stat_(c, AT_FDCWD, c.arg(0), c.arg(1), 0); });
    on(SYS_lstat, N, F, "", [this](SyscallContext& c) {
      return stat_(c, AT_FDCWD, c.arg(0), c.arg(1), AT_SYMLINK_NOFOLLOW);
    });
    on(SYS_newfstatat, N, F, "", [this](SyscallContext& c) {
      return stat_(c, static_cast<int>(c.arg(0)), c.arg(1), c.arg(2), static_cast<int>(c.arg(3)));
    });
    on(SYS_statx, N, F, "", [this](SyscallContext& c) { return statx_(c); });
    on(SYS_access, N, F, "", [this](SyscallContext& c) {
      return access_(c, AT_FDCWD, c.arg(0), static_cast<int>(c.arg(1)), 0);
    });
    on(SYS_faccessat, N, F, "", [this](SyscallContext& c) {
      return access_(c, static_cast<int>(c.arg(0)), c.arg(1), static_cast<int>(c.arg(2)), 0);
    });
    on(SYS_faccessat2, N, F, "", [this](SyscallContext& c) {
      return access_(c, static_cast<int>(c.arg(0)), c.arg(1), static_cast<int>(c.arg(2)), static_cast<int>(c.arg(3)));
    });
    on(SYS_readlink, N, F, "/proc/self/{cwd,exe,fd/N,root} show guest paths",
       [this](SyscallContext& c) { return readlink_(c, AT_FDCWD, c.arg(0), c.arg(1), c.arg(2)); });
    on(SYS_readlinkat, N, F, "/proc/self/{cwd,exe,fd/N,root} show guest paths", [this](SyscallContext& c) {
      return readlink_(c, static_cast<int>(c.arg(0)), c.arg(1), c.arg(2), c.arg(3));
    });
    on(SYS_getcwd, N, F, "the guest path of the cwd", [this](SyscallContext& c) { return getcwd_(c); });
    on(SYS_chdir, T, F, "path rewritten to the host directory", [this](SyscallContext& c) { return chdir_(c); });
    on(SYS_mkdir, N, F, "", [this](SyscallContext& c) {
      return at_op(c, AT_FDCWD, c.arg(0), Follow::kNo, true, [&](const Resolved& r) {
        int rc = mkdirat(r.parent.get(), at_name(r), static_cast<mode_t>(c.arg(1)));
        if (rc == 0) apply_umask(c, open_entry(r, O_PATH | O_NOFOLLOW).get(), static_cast<mode_t>(c.arg(1)));
        if (rc == 0) own_new_at(c, r);
        return rc;
      });
    });
    on(SYS_mkdirat, N, F, "", [this](SyscallContext& c) {
      return at_op(c, static_cast<int>(c.arg(0)), c.arg(1), Follow::kNo, true, [&](const Resolved& r) {
        int rc = mkdirat(r.parent.get(), at_name(r), static_cast<mode_t>(c.arg(2)));
        if (rc == 0) apply_umask(c, open_entry(r, O_PATH | O_NOFOLLOW).get(), static_cast<mode_t>(c.arg(2)));
        if (rc == 0) own_new_at(c, r);
        return rc;
      });
    });
    on(SYS_unlink, N, F, "", [this](SyscallContext& c) {
      return at_op(c, AT_FDCWD, c.arg(0), Follow::kNo, true,
                   [&](const Resolved& r) { return unlinkat(r.parent.get(), at_name(r), 0); });
    });
    on(SYS_rmdir, N, F, "", [this](SyscallContext& c) {
      return at_op(c, AT_FDCWD, c.arg(0), Follow::kNo, true,
                   [&](const Resolved& r) { return unlinkat(r.parent.get(), at_name(r), AT_REMOVEDIR); });
    });
    on(SYS_unlinkat, N, F, "", [this](SyscallContext& c) {
      return at_op(c, static_cast<int>(c.arg(0)), c.arg(1), Follow::kNo, true, [&](const Resolved& r) {
        return unlinkat(r.parent.get(), at_name(r), static_cast<int>(c.arg(2)) & AT_REMOVEDIR);
      });
    });
    on(SYS_chmod, N, F, "", [this](SyscallContext& c) {
      return at_op(c, AT_FDCWD, c.arg(0), Follow::kYes, true,
                   [&](const Resolved& r) { return chmod_(r, static_cast<mode_t>(c.arg(1))); });
    });
    on(SYS_fchmodat, N, F, "", [this](SyscallContext& c) {
      return at_op(c, static_cast<int>(c.arg(0)), c.arg(1), Follow::kYes, true,
                   [&](const Resolved& r) { return chmod_(r, static_cast<mode_t>(c.arg(2))); });
    });
    on(SYS_chown, N, P, "kept as metadata (user.lxhost.meta) when the host refuses", [this](SyscallContext& c) {
      return chown_(c, AT_FDCWD, c.arg(0), c.arg(1), c.arg(2), Follow::kYes);
    });
    on(SYS_lchown, N, P, "kept as metadata when the host refuses", [this](SyscallContext& c) {
      return chown_(c, AT_FDCWD, c.arg(0), c.arg(1), c.arg(2), Follow::kNo);
    });
    on(SYS_fchownat, N, P, "kept as metadata when the host refuses", [this](SyscallContext& c) {
      int flags = static_cast<int>(c.arg(4));
      if (flags & AT_EMPTY_PATH) {
        std::string path;
        if (int e = c.read_string(c.arg(1), path); e != 0) return fail(e);
        if (path.empty()) return fchown_(c, static_cast<int>(c.arg(0)), c.arg(2), c.arg(3));
      }
      return chown_(c, static_cast<int>(c.arg(0)), c.arg(1), c.arg(2), c.arg(3),
                    (flags & AT_SYMLINK_NOFOLLOW) ? Follow::kNo : Follow::kYes);
    });
    on(SYS_fchown, N, P, "kept as metadata when the host refuses", [this](SyscallContext& c) {
      return fchown_(c, static_cast<int>(c.arg(0)), c.arg(1), c.arg(2));
    });
    on(SYS_fstat, N, F, "shows emulated ownership and modes", [this](SyscallContext& c) {
      return fstat_(c, static_cast<int>(c.arg(0)), c.arg(1));
    });
    on(SYS_mknod, N, P, "device nodes emulated as empty files with metadata when the host refuses",
       [this](SyscallContext& c) {
         return at_op(c, AT_FDCWD, c.arg(0), Follow::kNo, true, [&](const Resolved& r) {
           int rc = mknod_(r, static_cast<mode_t>(c.arg(1)), static_cast<dev_t>(c.arg(2)), guest_umask(c.tid()));
           if (rc == 0) own_new_at(c, r);
           return rc;
         });
       });
    on(SYS_mknodat, N, P, "device nodes emulated as empty files with metadata when the host refuses",
       [this](SyscallContext& c) {
         return at_op(c, static_cast<int>(c.arg(0)), c.arg(1), Follow::kNo, true, [&](const Resolved& r) {
           int rc = mknod_(r, static_cast<mode_t>(c.arg(2)), static_cast<dev_t>(c.arg(3)), guest_umask(c.tid()));
           if (rc == 0) own_new_at(c, r);
           return rc;
         });
       });
    on(SYS_truncate, N, F, "", [this](SyscallContext& c) {
      return at_op(c, AT_FDCWD, c.arg(0), Follow::kYes, true, [&](const Resolved& r) {
        int fd = openat(r.parent.get(), at_name(r), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) return -1;
        int rc = ftruncate(fd, static_cast<off_t>(c.arg(1)));
        int e = errno;
        close(fd);
        errno = e;
        return rc;
      });
    });
    on(SYS_symlink, N, F, "", [this](SyscallContext& c) { return symlink_(c, c.arg(0), AT_FDCWD, c.arg(1)); });
    on(SYS_symlinkat, N, F, "", [this](SyscallContext& c) {
      return symlink_(c, c.arg(0), static_cast<int>(c.arg(1)), c.arg(2));
    });
    on(SYS_rename, N, F, "", [this](SyscallContext& c) { return rename_(c, AT_FDCWD, c.arg(0), AT_FDCWD, c.arg(1), 0); });
    on(SYS_renameat, N, F, "", [this](SyscallContext& c) {
      return rename_(c, static_cast<int>(c.arg(0)), c.arg(1), static_cast<int>(c.arg(2)), c.arg(3), 0);
    });
    on(SYS_renameat2, N, F, "", [this](SyscallContext& c) {
      return rename_(c, static_cast<int>(c.arg(0)), c.arg(1), static_cast<int>(c.arg(2)), c.arg(3),
                     static_cast<unsigned>(c.arg(4)));
    });
    on(SYS_link, N, F, "", [this](SyscallContext& c) { return link_(c, AT_FDCWD, c.arg(0), AT_FDCWD, c.arg(1), 0); });
    on(SYS_linkat, N, F, "", [this](SyscallContext& c) {
      return link_(c, static_cast<int>(c.arg(0)), c.arg(1), static_cast<int>(c.arg(2)), c.arg(3),
                   static_cast<int>(c.arg(4)));
    });
    on(kSysFchmodat2, N, F, "", [this](SyscallContext& c) {
      int flags = static_cast<int>(c.arg(3));
      return at_op(c, static_cast<int>(c.arg(0)), c.arg(1), (flags & AT_SYMLINK_NOFOLLOW) ? Follow::kNo : Follow::kYes,
                   true, [&](const Resolved& r) { return chmod_(r, static_cast<mode_t>(c.arg(2))); });
    });
    on(SYS_utimensat, N, F, "", [this](SyscallContext& c) {
      int dirfd = static_cast<int>(c.arg(0));
      int flags = static_cast<int>(c.arg(3));
      struct timespec ts[2];
      const struct timespec* times = nullptr;
      if (c.arg(2)) {
        if (int e = c.read_memory(c.arg(2), ts, sizeof ts); e != 0) return fail(e);
        times = ts;
      }
      if (c.arg(1) == 0) return SyscallResult::continue_native();  // futimens(fd): the fd is a host fd
      return utimens_(c, dirfd, c.arg(1), times, flags);
    });
    on(SYS_utimes, N, F, "", [this](SyscallContext& c) { return utimes_(c, AT_FDCWD, c.arg(0), c.arg(1)); });
    on(SYS_futimesat, N, F, "", [this](SyscallContext& c) {
      return utimes_(c, static_cast<int>(c.arg(0)), c.arg(1), c.arg(2));
    });
    on(SYS_utime, N, F, "", [this](SyscallContext& c) {
      struct timespec ts[2];
      const struct timespec* times = nullptr;
      if (c.arg(1)) {
        struct { std::int64_t actime, modtime; } ub;
        if (int e = c.read(c.arg(1), ub); e != 0) return fail(e);
        ts[0] = {ub.actime, 0};
        ts[1] = {ub.modtime, 0};
        times = ts;
      }
      return utimens_(c, AT_FDCWD, c.arg(0), times, 0);
    });
    for (int nr : {SYS_getxattr, SYS_lgetxattr, SYS_setxattr, SYS_lsetxattr, SYS_listxattr, SYS_llistxattr,
                   SYS_removexattr, SYS_lremovexattr})
      on(nr, N, P, "user.lxhost.* is reserved for lxhost's metadata", [this](SyscallContext& c) { return xattr_(c); });
    for (int nr : {SYS_fgetxattr, SYS_fsetxattr, SYS_flistxattr, SYS_fremovexattr})
      on(nr, N, P, "user.lxhost.* is reserved for lxhost's metadata", [this](SyscallContext& c) { return xattr_(c); });
    on(SYS_inotify_add_watch, N, F, "the watch is added to the guest's own inotify instance",
       [this](SyscallContext& c) { return inotify_add_watch_(c); });
    if (proc_view_) {
      on(SYS_getdents64, N, F, "read on behalf of the guest; a procfs root lists the instance's pids only",
         [this](SyscallContext& c) { return getdents_(c, true); });
      on(SYS_getdents, N, F, "read on behalf of the guest; a procfs root lists the instance's pids only",
         [this](SyscallContext& c) { return getdents_(c, false); });
    }
    // Calls that would act on host paths or the host's mount table: refused, as in an
    // unprivileged container.
    for (int nr : {SYS_chroot, SYS_pivot_root, SYS_mount, SYS_umount2, SYS_swapon, SYS_swapoff, SYS_quotactl,
                   SYS_acct, SYS_uselib, SYS_open_tree, SYS_move_mount, SYS_fspick, SYS_mount_setattr,
                   SYS_fanotify_mark}) {
      sdk::SyscallSpec spec;
      spec.nr = nr;
      spec.route = Route::kErrno;
      spec.errno_value = EPERM;
      spec.support = Support::kErrno;
      spec.note = "EPERM: would act on the host's paths or mounts";
      add(std::move(spec));
    }
    for (int nr : {SYS_name_to_handle_at, 463 /* setxattrat */, 464 /* getxattrat */, 465 /* listxattrat */,
                   466 /* removexattrat */, 467 /* open_tree_attr */, 468 /* file_getattr */, 469 /* file_setattr */}) {
      sdk::SyscallSpec spec;
      spec.nr = nr;
      spec.route = Route::kErrno;
      spec.errno_value = nr == SYS_name_to_handle_at ? EOPNOTSUPP : ENOSYS;
      spec.support = Support::kErrno;
      spec.note = "not translated yet; C libraries fall back";
      add(std::move(spec));
    }
    on(SYS_statfs, N, F, "", [this](SyscallContext& c) {
      Resolved r;
      if (int e = resolve(c, AT_FDCWD, c.arg(0), Follow::kYes, r); e != 0) return fail(e);
      int fd = openat(r.parent.get(), at_name(r), O_PATH | O_CLOEXEC);
      if (fd < 0) return fail(errno);
      struct statfs st;
      int rc = fstatfs(fd, &st);
      int e = errno;
      close(fd);
      if (rc != 0) return fail(e);
      if (int w = c.write(c.arg(1), st); w != 0) return fail(w);
      return SyscallResult::value(0);
    });
  }

  // Reads the guest path at `addr` and resolves it; 0 or errno.
  int resolve(SyscallContext& c, int dirfd, std::uint64_t addr, Follow follow, Resolved& r) {
    std::string path;
    if (int e = c.read_string(addr, path); e != 0) return e;
    return root_.resolve(c.tid(), dirfd, path, follow, r);
  }

  // A call done with *at() on the resolved parent; `op` returns -1 with errno on failure.
  template <class Op>
  SyscallResult at_op(SyscallContext& c, int dirfd, std::uint64_t addr, Follow follow, bool write, Op op) {
    Resolved r;
    if (int e = resolve(c, dirfd, addr, follow, r); e != 0) return fail(e);
    if (write && r.read_only) return fail(EROFS);
    if (!c.still_valid()) return fail(EINTR);
    if (op(r) != 0) return fail(errno);
    return SyscallResult::value(0);
  }

  // Implements open(2), openat(2), openat2(2), creat(2).
  SyscallResult open_(SyscallContext& c, int dirfd, std::uint64_t addr, int flags, std::uint64_t mode) {
    if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;  // the kernel ignores the rest
    bool nofollow = (flags & O_NOFOLLOW) || ((flags & O_CREAT) && (flags & O_EXCL));
    Resolved r;
    if (int e = resolve(c, dirfd, addr, nofollow ? Follow::kNo : Follow::kYes, r); e != 0) return fail(e);
    if (!r.exists && !(flags & O_CREAT)) return fail(ENOENT);
    if (r.read_only && writes(flags)) return fail(EROFS);
    if (!c.still_valid()) return fail(EINTR);
    if ((flags & O_PATH) && r.exists) return open_path_(c, r, flags);
    int host_flags = (flags | O_CLOEXEC) & ~O_NOFOLLOW;
    if (!r.magic) host_flags |= O_NOFOLLOW;  // resolved already: a symlink here is a race
    if (nofollow) host_flags |= O_NOFOLLOW;
    // Never this process's controlling terminal: the guest's own is set with TIOCSCTTY, natively.
    host_flags |= O_NOCTTY;
    if (r.exists && r.have_stat && S_ISCHR(r.st.st_mode) && r.st.st_rdev == makedev(5, 0)) return open_tty_(c, flags);
    if (r.exists && r.name == "cmdline" && (flags & O_ACCMODE) == O_RDONLY && is_proc_cmdline(r.guest_path))
      if (std::optional<SyscallResult> res = open_cmdline(c, r, flags)) return *res;
    if (r.exists && !(flags & O_NONBLOCK)) {
      // Opening a FIFO waits for its other end, which the guest may be about to open.
      struct stat st;
      bool fifo = r.have_stat && !r.name.empty() ? S_ISFIFO(r.st.st_mode)
                                                 : fstatat(r.parent.get(), r.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                                                       S_ISFIFO(st.st_mode);
      if (fifo) c.will_block();
    }
    int fd = openat(r.parent.get(), at_name(r), host_flags, static_cast<mode_t>(mode));
    if (fd < 0) return fail(errno);
    if (!r.exists) apply_umask(c, fd, static_cast<mode_t>(mode));
    if (!r.exists) own_new(c, fd);
    SyscallResult res = c.install_fd(fd, static_cast<unsigned>(flags) & O_CLOEXEC);
    close(fd);
    return res;
  }

  // Implements open(2) with O_PATH. The kernel installs no O_PATH file in another process (ADDFD
  // refuses it), so a directory or regular file the guest may read is given to it opened for
  // reading, the same object. Anything else runs natively, with the host's root only and only
  // when no other thread or process shares the guest's memory (none could rewrite the path
  // between the resolution and the kernel's); otherwise EBADF, what the kernel says to ADDFD.
  SyscallResult open_path_(SyscallContext& c, const Resolved& r, int flags) {
    int how = O_PATH | O_CLOEXEC | (flags & O_DIRECTORY) | (r.magic ? 0 : O_NOFOLLOW);
    UniqueFd p(openat(r.parent.get(), at_name(r), how));
    if (!p) return fail(errno);
    struct stat st;
    if (fstat(p.get(), &st) != 0) return fail(errno);
    if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
      UniqueFd fd(::open(("/proc/self/fd/" + std::to_string(p.get())).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
      if (fd) return c.install_fd(fd.get(), static_cast<unsigned>(flags) & O_CLOEXEC);
    }
    if (host_root_ && sole_user_of_memory(c)) return SyscallResult::continue_native();
    return fail(EBADF);
  }

  // Whether guest process `c.pid()` has one thread and shares its memory with no other member.
  bool sole_user_of_memory(SyscallContext& c) {
    FILE* f = std::fopen(("/proc/" + std::to_string(c.pid()) + "/status").c_str(), "re");
    if (!f) return false;
    char line[128];
    bool one = false;
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "Threads:", 8) == 0) {
        one = std::atoi(line + 8) == 1;
        break;
      }
    std::fclose(f);
    if (!one) return false;
    std::vector<pid_t> others;
    {
      std::lock_guard lock(members_mu_);
      others.assign(members_.begin(), members_.end());
    }
    for (pid_t o : others)
      if (o != c.pid() && syscall(SYS_kcmp, c.pid(), o, 0 /* KCMP_VM */, 0, 0) == 0) return false;
    return true;
  }

  // Implements open(2) of /dev/tty, which means the caller's controlling terminal: the guest's,
  // found among its open files (or as /dev/pts/N), reopened; ENXIO when it has none.
  SyscallResult open_tty_(SyscallContext& c, int flags) {
    std::string stat;
    {
      UniqueFd f(::open(("/proc/" + std::to_string(c.pid()) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
      char buf[1024];
      ssize_t n = f ? read(f.get(), buf, sizeof buf - 1) : -1;
      if (n <= 0) return fail(ENXIO);
      stat.assign(buf, static_cast<std::size_t>(n));
    }
    // Fields after the command's closing parenthesis: state ppid pgrp session tty_nr.
    std::size_t at = stat.rfind(')');
    unsigned long tty_nr = 0;
    if (at == std::string::npos || std::sscanf(stat.c_str() + at + 1, " %*c %*d %*d %*d %lu", &tty_nr) != 1 || tty_nr == 0)
      return fail(ENXIO);
    dev_t dev = makedev((tty_nr >> 8) & 0xfff, (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00));
    int host_flags = ((flags | O_CLOEXEC | O_NOCTTY) & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW | O_DIRECTORY));
    auto try_open = [&](const std::string& path) {
      struct stat st;
      if (::stat(path.c_str(), &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != dev) return UniqueFd();
      return UniqueFd(::open(path.c_str(), host_flags));
    };
    UniqueFd fd;
    errno = 0;
    for (int i = 0; i < 3 && !fd; ++i) fd = try_open("/proc/" + std::to_string(c.pid()) + "/fd/" + std::to_string(i));
    if (!fd && major(dev) >= 136 && major(dev) <= 143)
      fd = try_open("/dev/pts/" + std::to_string((major(dev) - 136) * 256 + minor(dev)));
    if (!fd && major(dev) == 4) fd = try_open("/dev/tty" + std::to_string(minor(dev)));
    if (!fd) return fail(errno ? errno : ENXIO);
    return c.install_fd(fd.get(), static_cast<unsigned>(flags) & O_CLOEXEC);
  }

  // Whether `guest` is /proc/<pid>/cmdline or /proc/<pid>/task/<tid>/cmdline.
  static bool is_proc_cmdline(const std::string& guest) {
    static const std::regex re("^/proc/[0-9]+(/task/[0-9]+)?/cmdline$");
    return std::regex_match(guest, re);
  }

  // Opens /proc/<pid>/cmdline as the guest would see it natively: a program the proc family runs
  // through its ELF interpreter shows its own command line, not the interpreter's (ps, pgrep).
  // nullopt: nothing to change, open the real file.
  std::optional<SyscallResult> open_cmdline(SyscallContext& c, const Resolved& r, int flags) {
    UniqueFd real(openat(r.parent.get(), r.name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!real) return std::nullopt;
    std::string raw;
    char buf[4096];
    for (ssize_t n; (n = read(real.get(), buf, sizeof buf)) > 0;) raw.append(buf, static_cast<std::size_t>(n));
    std::string fixed = sdk::native_cmdline(raw);
    if (fixed == raw) return std::nullopt;
    UniqueFd mem(memfd_create("cmdline", MFD_CLOEXEC));
    if (!mem) return std::nullopt;
    if (write(mem.get(), fixed.data(), fixed.size()) != static_cast<ssize_t>(fixed.size()) ||
        lseek(mem.get(), 0, SEEK_SET) != 0)
      return std::nullopt;
    return c.install_fd(mem.get(), static_cast<unsigned>(flags) & O_CLOEXEC);
  }

  // Implements stat(2), lstat(2), newfstatat(2).
  SyscallResult stat_(SyscallContext& c, int dirfd, std::uint64_t addr, std::uint64_t buf, int flags) {
    if (flags & AT_EMPTY_PATH) {
      std::string path;
      if (int e = c.read_string(addr, path); e != 0) return fail(e);
      if (path.empty()) return fstat_(c, dirfd, buf);
    }
    Resolved r;
    if (int e = resolve(c, dirfd, addr, (flags & AT_SYMLINK_NOFOLLOW) ? Follow::kNo : Follow::kYes, r); e != 0)
      return fail(e);
    if (!r.exists) return fail(ENOENT);
    struct stat st;
    if (r.have_stat && !r.name.empty()) st = r.st;
    else if (fstatat(r.parent.get(), r.name.c_str(), &st, r.name.empty() ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW) != 0)
      return fail(errno);
    if (!S_ISLNK(st.st_mode) && !host_root_) {
      Metadata m;
      map_identity(st.st_uid, st.st_gid);
      if (store_.read_at(r.parent.get(), r.name.empty() ? "." : r.name, m) == 0) apply_metadata(m, st);
    }
    if (int e = c.write(buf, st); e != 0) return fail(e);
    return SyscallResult::value(0);
  }

  // A file the guest just created is its emulated user's (fsuid/fsgid), kept as metadata, when
  // that user is not root (whose files the host user's own files already are).
  void own_new(SyscallContext& c, int fd) {
    if (host_root_) return;
    auto* cr = registry_ ? static_cast<sdk::Credentials*>(registry_->find_interface(sdk::Credentials::kName)) : nullptr;
    std::uint32_t uid = 0, gid = 0;
    if (!cr || !cr->fs_identity(c.tid(), uid, gid) || (uid == 0 && gid == 0)) return;
    Metadata m;
    if (store_.read(fd, m) != 0) m = Metadata{};
    m.uid = uid;
    m.gid = gid;
    store_.write(fd, m);
  }
  void own_new_at(SyscallContext& c, const Resolved& r) {
    if (host_root_ || !registry_ || !registry_->find_interface(sdk::Credentials::kName)) return;
    UniqueFd fd = open_entry(r, O_PATH | O_NOFOLLOW);
    if (fd) own_new(c, fd.get());
  }

  // Files without metadata: owners as the proc family's identity shows them (fake root).
  template <class U, class G>
  void map_identity(U& uid, G& gid) {
    auto* id = registry_ ? static_cast<sdk::IdentityMap*>(registry_->find_interface(sdk::IdentityMap::kName)) : nullptr;
    if (!id) return;
    uid = static_cast<U>(id->guest_uid(uid));
    gid = static_cast<G>(id->guest_gid(gid));
  }

  // An fd (O_PATH or `flags`) of the resolved entry itself.
  static UniqueFd open_entry(const Resolved& r, int flags) {
    return UniqueFd(openat(r.parent.get(), at_name(r), flags | O_CLOEXEC));
  }

  // The host fd behind guest fd `fd` (AT_FDCWD: the cwd), reopened as O_PATH.
  static UniqueFd guest_fd(SyscallContext& c, int fd) {
    std::string p = "/proc/" + std::to_string(c.tid()) + (fd == AT_FDCWD ? "/cwd" : "/fd/" + std::to_string(fd));
    return UniqueFd(::open(p.c_str(), O_PATH | O_CLOEXEC));
  }

  // Implements fstat(2) (and stat of an fd through AT_EMPTY_PATH): with emulated metadata.
  SyscallResult fstat_(SyscallContext& c, int gfd, std::uint64_t buf) {
    UniqueFd fd = guest_fd(c, gfd);
    if (!fd) return fail(errno == ENOENT ? EBADF : errno);
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return fail(errno);
    Metadata m;
    if (!host_root_) map_identity(st.st_uid, st.st_gid);
    if (!host_root_ && store_.read(fd.get(), m) == 0) apply_metadata(m, st);
    if (int e = c.write(buf, st); e != 0) return fail(e);
    return SyscallResult::value(0);
  }

  // Implements statx(2).
  SyscallResult statx_(SyscallContext& c) {
    int flags = static_cast<int>(c.arg(2));
    if (flags & AT_EMPTY_PATH) {
      std::string path;
      if (int e = c.read_string(c.arg(1), path); e != 0) return fail(e);
      if (path.empty()) {
        UniqueFd fd = guest_fd(c, static_cast<int>(c.arg(0)));
        if (!fd) return fail(EBADF);
        struct statx stx;
        if (::statx(fd.get(), "", AT_EMPTY_PATH | (flags & AT_STATX_SYNC_TYPE), static_cast<unsigned>(c.arg(3)), &stx) != 0)
          return fail(errno);
        Metadata m;
        if (!host_root_) map_identity(stx.stx_uid, stx.stx_gid);
        if (!host_root_ && store_.read(fd.get(), m) == 0) apply_metadata(m, stx);
        if (int e = c.write(c.arg(4), stx); e != 0) return fail(e);
        return SyscallResult::value(0);
      }
    }
    Resolved r;
    if (int e = resolve(c, static_cast<int>(c.arg(0)), c.arg(1), (flags & AT_SYMLINK_NOFOLLOW) ? Follow::kNo : Follow::kYes, r);
        e != 0)
      return fail(e);
    if (!r.exists) return fail(ENOENT);
    struct statx stx;
    int sflags = (flags & AT_STATX_SYNC_TYPE) | (r.name.empty() ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW);
    if (::statx(r.parent.get(), r.name.c_str(), sflags, static_cast<unsigned>(c.arg(3)), &stx) != 0) return fail(errno);
    if (!S_ISLNK(stx.stx_mode) && !host_root_) {
      Metadata m;
      map_identity(stx.stx_uid, stx.stx_gid);
      if (store_.read_at(r.parent.get(), r.name.empty() ? "." : r.name, m) == 0) apply_metadata(m, stx);
    }
    if (int e = c.write(c.arg(4), stx); e != 0) return fail(e);
    return SyscallResult::value(0);
  }

  // Implements access(2), faccessat(2), faccessat2(2).
  SyscallResult access_(SyscallContext& c, int dirfd, std::uint64_t addr, int mode, int flags) {
    Resolved r;
    if (int e = resolve(c, dirfd, addr, (flags & AT_SYMLINK_NOFOLLOW) ? Follow::kNo : Follow::kYes, r); e != 0)
      return fail(e);
    if (!r.exists) return fail(ENOENT);
    if ((mode & W_OK) && r.read_only) return fail(EROFS);
    int f = (flags & AT_EACCESS) | (r.name.empty() ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW);
    if (faccessat(r.parent.get(), r.name.c_str(), mode, f) != 0) return fail(errno);
    return SyscallResult::value(0);
  }

  // Implements readlink(2), readlinkat(2).
  SyscallResult readlink_(SyscallContext& c, int dirfd, std::uint64_t addr, std::uint64_t buf, std::uint64_t size) {
    if (static_cast<std::int64_t>(size) <= 0) return fail(EINVAL);
    Resolved r;
    if (int e = resolve(c, dirfd, addr, Follow::kNo, r); e != 0) return fail(e);
    if (!r.exists) return fail(ENOENT);
    char target[PATH_MAX + 1];
    ssize_t n = readlinkat(r.parent.get(), r.name.c_str(), target, PATH_MAX);
    if (n < 0) return fail(errno);
    std::string t(target, static_cast<std::size_t>(n));
    if (!r.link.empty()) t = r.link;  // /proc/self, /proc/thread-self: the guest's own
    if (r.name == "exe" && r.guest_path.rfind("/proc/", 0) == 0) {
      // A dynamic program runs through its interpreter: /proc/<pid>/exe names the program.
      pid_t pid = static_cast<pid_t>(std::atoi(r.guest_path.c_str() + 6));
      // Looked up at use: the proc plugin may connect after this one.
      auto* programs = registry_ ? static_cast<sdk::ProgramNames*>(registry_->find_interface(sdk::ProgramNames::kName))
                                 : nullptr;
      if (programs)
        if (std::string prog = programs->program_of(pid); !prog.empty()) t = prog;
    }
    if (r.guest_path.rfind("/proc/", 0) == 0 && !t.empty() && t[0] == '/') {
      std::string g = root_.to_guest(t);
      if (r.name == "root" && r.guest_path.find('/', 6) == r.guest_path.rfind('/')) g = "/";
      if (!g.empty()) t = g;
    }
    std::size_t len = std::min<std::size_t>(t.size(), size);
    if (int e = c.write_memory(buf, t.data(), len); e != 0) return fail(e);
    return SyscallResult::value(static_cast<std::int64_t>(len));
  }

  // Implements getcwd(2): the guest path of the cwd.
  SyscallResult getcwd_(SyscallContext& c) {
    std::string cwd;
    if (int e = root_.guest_path_of_fd(c.tid(), AT_FDCWD, cwd); e != 0) return fail(e);
    if (cwd.size() + 1 > c.arg(1)) return fail(ERANGE);
    if (int e = c.write_memory(c.arg(0), cwd.c_str(), cwd.size() + 1); e != 0) return fail(e);
    return SyscallResult::value(static_cast<std::int64_t>(cwd.size() + 1));
  }

  // Writes `s` (NUL-terminated) below the guest's stack red zone, at or below `*top`; returns its
  // address (0 on failure) and lowers `*top`.
  std::uint64_t push_string(SyscallContext& c, std::uint64_t* top, const std::string& s) {
    std::uint64_t addr = (*top - s.size() - 1) & ~std::uint64_t{15};
    if (c.write_memory(addr, s.c_str(), s.size() + 1) != 0) return 0;
    *top = addr;
    return addr;
  }

  // The host path of a resolved entry (for rewriting a TRACE-route call).
  static int host_path_of(const Resolved& r, int extra_flags, std::string& out) {
    int fd = openat(r.parent.get(), at_name(r), O_PATH | O_CLOEXEC | extra_flags);
    if (fd < 0) return errno;
    char buf[PATH_MAX + 1];
    ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, PATH_MAX);
    int e = errno;
    close(fd);
    if (n < 0) return e;
    out.assign(buf, static_cast<std::size_t>(n));
    return 0;
  }

  // Implements chdir(2) on the TRACE route: the guest changes to the host directory.
  SyscallResult chdir_(SyscallContext& c) {
    Resolved r;
    if (int e = resolve(c, AT_FDCWD, c.arg(0), Follow::kYes, r); e != 0) return fail(e);
    if (!r.exists) return fail(ENOENT);
    std::string host;
    if (int e = host_path_of(r, O_DIRECTORY, host); e != 0) return fail(e);
    std::uint64_t top = c.stack_pointer() - 128;  // below the red zone
    std::uint64_t p = push_string(c, &top, host);
    if (!p) return fail(EFAULT);
    c.set_arg(0, p);
    return SyscallResult::rewritten();
  }

  // Reads the PT_INTERP path of the ELF file `fd`; "" for static binaries and non-ELF files.
  static std::string elf_interp(int fd) {
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh)) return {};
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return {};
    for (int i = 0; i < eh.e_phnum && i < 64; ++i) {
      Elf64_Phdr ph;
      if (pread(fd, &ph, sizeof ph, static_cast<off_t>(eh.e_phoff + i * sizeof ph)) != static_cast<ssize_t>(sizeof ph))
        return {};
      if (ph.p_type == PT_INTERP && ph.p_filesz > 1 && ph.p_filesz < PATH_MAX) {
        std::string s(ph.p_filesz, '\0');
        if (pread(fd, s.data(), ph.p_filesz, static_cast<off_t>(ph.p_offset)) != static_cast<ssize_t>(ph.p_filesz)) return {};
        s.resize(std::strlen(s.c_str()));
        return s;
      }
    }
    return {};
  }

  // The host program and interpreter execve of guest `path` runs (see PathResolver::exec_paths;
  // the proc plugin owns execve and rewrites it with these).
  int resolve_exec(pid_t tid, int dirfd, const std::string& path, std::string& program, std::string& interp) {
    Resolved r;
    if (int e = root_.resolve(tid, dirfd, path, Follow::kYes, r); e != 0) return e;
    if (!r.exists) return ENOENT;
    UniqueFd fd(openat(r.parent.get(), at_name(r), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return errno;
    std::string guest_interp = elf_interp(fd.get());
    char buf[PATH_MAX + 1];
    ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd.get())).c_str(), buf, PATH_MAX);
    if (n < 0) return EACCES;
    program.assign(buf, static_cast<std::size_t>(n));
    interp.clear();
    if (guest_interp.empty()) return 0;
    Resolved ri;
    if (int e = root_.resolve(tid, AT_FDCWD, guest_interp, Follow::kYes, ri); e != 0 || !ri.exists) return ENOENT;
    return host_path_of(ri, 0, interp);
  }

  // Implements chmod(2)/fchmodat(2): native, and in the metadata too when it holds a mode.
  int chmod_(const Resolved& r, mode_t mode) {
    UniqueFd fd = open_entry(r, O_PATH);
    Metadata m;
    if (fd && !host_root_ && store_.read(fd.get(), m) == 0 && m.mode) {
      m.mode = (*m.mode & S_IFMT) | (mode & 07777);
      if (int e = store_.write(fd.get(), m); e != 0) return errno = e, -1;
      return 0;
    }
    return fchmodat(r.parent.get(), at_name(r), mode, 0);
  }

  // Stores the owner change in the metadata of `fd` (-1 leaves a field as it is).
  int store_owner(int fd, std::uint64_t uid, std::uint64_t gid) {
    Metadata m;
    if (int e = store_.read(fd, m); e != 0 && e != ENODATA) return e;
    if (static_cast<std::uint32_t>(uid) != static_cast<std::uint32_t>(-1)) m.uid = static_cast<uid_t>(uid);
    if (static_cast<std::uint32_t>(gid) != static_cast<std::uint32_t>(-1)) m.gid = static_cast<gid_t>(gid);
    return store_.write(fd, m);
  }

  // Changes ownership natively when the host allows it; otherwise keeps it as metadata.
  SyscallResult chown_fd(int fd, std::uint64_t uid, std::uint64_t gid) {
    if (fchownat(fd, "", static_cast<uid_t>(uid), static_cast<gid_t>(gid), AT_EMPTY_PATH) == 0) {
      Metadata m;
      if (store_.read(fd, m) == 0 && (m.uid || m.gid)) {
        m.uid.reset();
        m.gid.reset();
        store_.write(fd, m);
      }
      return SyscallResult::value(0);
    }
    if (errno != EPERM || host_root_) return fail(errno);
    int e = store_owner(fd, uid, gid);
    if (e == EPERM || e == ENOTSUP) return SyscallResult::value(0);  // symlinks carry no user xattrs
    return e ? fail(e) : SyscallResult::value(0);
  }

  // Implements chown(2), lchown(2), fchownat(2).
  SyscallResult chown_(SyscallContext& c, int dirfd, std::uint64_t addr, std::uint64_t uid, std::uint64_t gid,
                       Follow follow) {
    Resolved r;
    if (int e = resolve(c, dirfd, addr, follow, r); e != 0) return fail(e);
    if (!r.exists) return fail(ENOENT);
    if (r.read_only) return fail(EROFS);
    UniqueFd fd = open_entry(r, O_PATH | O_NOFOLLOW);
    if (!fd) return fail(errno);
    return chown_fd(fd.get(), uid, gid);
  }

  // Implements fchown(2).
  SyscallResult fchown_(SyscallContext& c, int gfd, std::uint64_t uid, std::uint64_t gid) {
    UniqueFd fd = guest_fd(c, gfd);
    if (!fd) return fail(EBADF);
    return chown_fd(fd.get(), uid, gid);
  }

  // Implements mknod(2)/mknodat(2): a device node the host refuses becomes an empty file whose
  // metadata says what it is.
  int mknod_(const Resolved& r, mode_t mode, dev_t dev, mode_t umask) {
    if (mknodat(r.parent.get(), at_name(r), mode, dev) == 0) return 0;  // the kernel applies the umask
    mode = (mode & S_IFMT) | (mode & 07777 & ~umask);
    if (errno != EPERM || host_root_ || !(S_ISCHR(mode) || S_ISBLK(mode))) return -1;
    int fd = openat(r.parent.get(), at_name(r), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    Metadata m;
    m.mode = mode;
    m.rdev = dev;
    int e = store_.write(fd, m);
    close(fd);
    if (e != 0) {
      unlinkat(r.parent.get(), at_name(r), 0);
      errno = e;
      return -1;
    }
    return 0;
  }

  // A file created on behalf of the guest got this process's umask: gives it the guest's instead
  // (only the permission bits; what the directory passes on, such as setgid, stays).
  void apply_umask(SyscallContext& c, int fd, mode_t requested) {
    if (fd < 0) return;
    mode_t um = guest_umask(c.tid());
    if (um == own_umask_) return;
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISLNK(st.st_mode)) return;
    mode_t want = (st.st_mode & 07000) | (requested & 0777 & ~um);
    if ((st.st_mode & 07777) != want) chmod(("/proc/self/fd/" + std::to_string(fd)).c_str(), want);
  }

  // The umask of guest thread `tid` (022 when unreadable).
  static mode_t guest_umask(pid_t tid) {
    FILE* f = std::fopen(("/proc/" + std::to_string(tid) + "/status").c_str(), "re");
    if (!f) return 022;
    char line[128];
    mode_t m = 022;
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "Umask:", 6) == 0) {
        m = static_cast<mode_t>(std::strtoul(line + 6, nullptr, 8));
        break;
      }
    std::fclose(f);
    return m;
  }

  // Implements utimensat(2) (and utime, utimes, futimesat through it).
  SyscallResult utimens_(SyscallContext& c, int dirfd, std::uint64_t addr, const struct timespec* times, int flags) {
    return at_op(c, dirfd, addr, (flags & AT_SYMLINK_NOFOLLOW) ? Follow::kNo : Follow::kYes, true,
                 [&](const Resolved& r) {
                   return utimensat(r.parent.get(), r.name.empty() ? "." : r.name.c_str(), times, AT_SYMLINK_NOFOLLOW);
                 });
  }

  // Implements utimes(2)/futimesat(2): struct timeval[2] → timespec.
  SyscallResult utimes_(SyscallContext& c, int dirfd, std::uint64_t addr, std::uint64_t tv_addr) {
    struct timespec ts[2];
    const struct timespec* times = nullptr;
    if (tv_addr) {
      struct timeval tv[2];
      if (int e = c.read_memory(tv_addr, tv, sizeof tv); e != 0) return fail(e);
      for (int i = 0; i < 2; ++i) ts[i] = {tv[i].tv_sec, tv[i].tv_usec * 1000};
      times = ts;
    }
    return utimens_(c, dirfd, addr, times, 0);
  }

  static bool reserved_xattr(const std::string& name) { return name.rfind("user.lxhost.", 0) == 0; }

  // Implements the xattr calls: {,l,f}{get,set,list,remove}xattr(2), with user.lxhost.* hidden.
  SyscallResult xattr_(SyscallContext& c) {
    int nr = c.nr();
    bool by_fd = nr == SYS_fgetxattr || nr == SYS_fsetxattr || nr == SYS_flistxattr || nr == SYS_fremovexattr;
    bool nofollow = nr == SYS_lgetxattr || nr == SYS_lsetxattr || nr == SYS_llistxattr || nr == SYS_lremovexattr;
    UniqueFd fd;
    bool read_only = false;
    if (by_fd) {
      fd = guest_fd(c, static_cast<int>(c.arg(0)));
      if (!fd) return fail(EBADF);
    } else {
      Resolved r;
      if (int e = resolve(c, AT_FDCWD, c.arg(0), nofollow ? Follow::kNo : Follow::kYes, r); e != 0) return fail(e);
      if (!r.exists) return fail(ENOENT);
      fd = open_entry(r, O_PATH | O_NOFOLLOW);
      if (!fd) return fail(errno);
      read_only = r.read_only;
    }
    struct stat st;
    if (fstat(fd.get(), &st) == 0 && S_ISLNK(st.st_mode)) {
      // Only trusted.* and security.* live on symlinks; user.* (all an unprivileged user has) cannot.
      if (nr == SYS_llistxattr) return SyscallResult::value(0);
      return fail(nr == SYS_lgetxattr ? ENODATA : EPERM);
    }
    std::string path = "/proc/self/fd/" + std::to_string(fd.get());
    bool is_list = nr == SYS_listxattr || nr == SYS_llistxattr || nr == SYS_flistxattr;
    if (is_list) {
      std::size_t size = c.arg(2);
      std::vector<char> buf(65536);
      ssize_t n = listxattr(path.c_str(), buf.data(), buf.size());
      if (n < 0) return fail(errno);
      std::string out;
      for (ssize_t i = 0; i < n;) {
        std::string name(buf.data() + i);
        i += static_cast<ssize_t>(name.size()) + 1;
        if (!reserved_xattr(name)) out += name + '\0';
      }
      if (size == 0) return SyscallResult::value(static_cast<std::int64_t>(out.size()));
      if (out.size() > size) return fail(ERANGE);
      if (int e = c.write_memory(c.arg(1), out.data(), out.size()); e != 0) return fail(e);
      return SyscallResult::value(static_cast<std::int64_t>(out.size()));
    }
    std::string name;
    if (int e = c.read_string(c.arg(1), name, 255); e != 0) return fail(e == ENAMETOOLONG ? ERANGE : e);
    bool is_get = nr == SYS_getxattr || nr == SYS_lgetxattr || nr == SYS_fgetxattr;
    bool is_set = nr == SYS_setxattr || nr == SYS_lsetxattr || nr == SYS_fsetxattr;
    if (reserved_xattr(name)) return fail(is_get ? ENODATA : EPERM);
    if (is_get) {
      std::size_t size = c.arg(3);
      std::vector<char> buf(65536);
      ssize_t n = getxattr(path.c_str(), name.c_str(), buf.data(), buf.size());
      if (n < 0) return fail(errno);
      if (size == 0) return SyscallResult::value(n);
      if (static_cast<std::size_t>(n) > size) return fail(ERANGE);
      if (int e = c.write_memory(c.arg(2), buf.data(), static_cast<std::size_t>(n)); e != 0) return fail(e);
      return SyscallResult::value(n);
    }
    if (read_only) return fail(EROFS);
    if (is_set) {
      std::size_t size = c.arg(3);
      if (size > 65536) return fail(E2BIG);
      std::vector<char> value(size);
      if (size && c.read_memory(c.arg(2), value.data(), size) != 0) return fail(EFAULT);
      if (setxattr(path.c_str(), name.c_str(), value.data(), size, static_cast<int>(c.arg(4))) != 0) return fail(errno);
      return SyscallResult::value(0);
    }
    if (removexattr(path.c_str(), name.c_str()) != 0) return fail(errno);
    return SyscallResult::value(0);
  }

  // Implements inotify_add_watch(2): the watch goes on the guest's inotify fd, taken with
  // pidfd_getfd, on the file resolved in the guest's namespace.
  SyscallResult inotify_add_watch_(SyscallContext& c) {
    std::uint32_t mask = static_cast<std::uint32_t>(c.arg(2));
    Resolved r;
    if (int e = resolve(c, AT_FDCWD, c.arg(1), (mask & IN_DONT_FOLLOW) ? Follow::kNo : Follow::kYes, r); e != 0)
      return fail(e);
    if (!r.exists) return fail(ENOENT);
    UniqueFd target = open_entry(r, O_PATH | O_NOFOLLOW);
    if (!target) return fail(errno);
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, c.pid(), 0)));
    if (!pidfd) return fail(errno);
    UniqueFd ino(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), static_cast<int>(c.arg(0)), 0)));
    if (!ino) return fail(errno == EBADF ? EBADF : errno);
    std::string path = "/proc/self/fd/" + std::to_string(target.get());
    int wd = inotify_add_watch(ino.get(), path.c_str(), mask);
    if (wd < 0) return fail(errno);
    return SyscallResult::value(wd);
  }

  // Guest fd `gfd` itself (the same open file, sharing its offset), taken with pidfd_getfd.
  static UniqueFd take_fd(SyscallContext& c, int gfd) {
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, c.pid(), 0)));
    if (!pidfd) return {};
    return UniqueFd(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), gfd, 0)));
  }

  // Removes from the records data[0..n) of getdents64 (`is64`) or getdents the numeric names of
  // processes outside the instance; returns the new length.
  std::size_t drop_strangers(char* data, std::size_t n, bool is64) {
    std::size_t name_at = is64 ? 19 : 18;
    std::size_t in = 0, out = 0;
    while (in + name_at < n) {
      unsigned short reclen;
      std::memcpy(&reclen, data + in + 16, sizeof reclen);
      if (reclen == 0 || in + reclen > n) break;
      const char* name = data + in + name_at;
      std::size_t len = strnlen(name, reclen - name_at);
      bool numeric = len > 0;
      for (std::size_t i = 0; i < len && numeric; ++i) numeric = name[i] >= '0' && name[i] <= '9';
      bool keep = !numeric || (len <= 10 && member(static_cast<pid_t>(std::atoll(std::string(name, len).c_str()))));
      if (keep) {
        if (out != in) std::memmove(data + out, data + in, reclen);
        out += reclen;
      }
      in += reclen;
    }
    return out;
  }

  // Implements getdents64(2) and getdents(2): read on behalf of the guest from its own open
  // directory (so that no other file can take its place between a check and the read); in a
  // procfs root only the instance's pids show. Never 0 while entries remain.
  SyscallResult getdents_(SyscallContext& c, bool is64) {
    std::size_t count = std::min<std::size_t>(static_cast<unsigned>(c.arg(2)), std::size_t{1} << 20);
    UniqueFd fd = take_fd(c, static_cast<int>(c.arg(0)));
    if (!fd) return fail(EBADF);
    struct stat st;
    bool proc_root = fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_ino == 1 && [&] {
      struct statfs sf;
      return fstatfs(fd.get(), &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
    }();
    std::vector<char> data(std::max<std::size_t>(count, 1));
    for (;;) {
      long n = syscall(is64 ? SYS_getdents64 : SYS_getdents, fd.get(), data.data(), count);
      if (n < 0) return fail(errno);
      if (n == 0) return SyscallResult::value(0);
      std::size_t len = static_cast<std::size_t>(n);
      if (proc_root) len = drop_strangers(data.data(), len, is64);
      if (len == 0) continue;  // only strangers in this batch: read on
      if (int e = c.write_memory(c.arg(1), data.data(), len); e != 0) return fail(e);
      return SyscallResult::value(static_cast<std::int64_t>(len));
    }
  }

  // Implements symlink(2), symlinkat(2): the target is stored as the guest wrote it.
  SyscallResult symlink_(SyscallContext& c, std::uint64_t target_addr, int dirfd, std::uint64_t addr) {
    std::string target;
    if (int e = c.read_string(target_addr, target); e != 0) return fail(e);
    return at_op(c, dirfd, addr, Follow::kNo, true,
                 [&](const Resolved& r) { return symlinkat(target.c_str(), r.parent.get(), at_name(r)); });
  }

  // Implements rename(2), renameat(2), renameat2(2).
  SyscallResult rename_(SyscallContext& c, int olddir, std::uint64_t oldp, int newdir, std::uint64_t newp, unsigned flags) {
    Resolved a, b;
    if (int e = resolve(c, olddir, oldp, Follow::kNo, a); e != 0) return fail(e);
    if (int e = resolve(c, newdir, newp, Follow::kNo, b); e != 0) return fail(e);
    if (a.read_only || b.read_only) return fail(EROFS);
    if (!c.still_valid()) return fail(EINTR);
    if (syscall(SYS_renameat2, a.parent.get(), at_name(a), b.parent.get(), at_name(b), flags) != 0) return fail(errno);
    return SyscallResult::value(0);
  }

  // Implements link(2), linkat(2).
  SyscallResult link_(SyscallContext& c, int olddir, std::uint64_t oldp, int newdir, std::uint64_t newp, int flags) {
    Resolved a, b;
    if (int e = resolve(c, olddir, oldp, (flags & AT_SYMLINK_FOLLOW) ? Follow::kYes : Follow::kNo, a); e != 0)
      return fail(e);
    if (int e = resolve(c, newdir, newp, Follow::kNo, b); e != 0) return fail(e);
    if (b.read_only) return fail(EROFS);
    if (linkat(a.parent.get(), at_name(a), b.parent.get(), at_name(b), 0) != 0) return fail(errno);
    return SyscallResult::value(0);
  }

  // PathResolver: the fs family's resolution, for other plugins.
  int host_path(pid_t tid, int dirfd, const std::string& path, bool follow, std::string& out) noexcept override {
    try {
      Resolved r;
      if (int e = root_.resolve(tid, dirfd, path, follow ? Follow::kYes : Follow::kNo, r); e != 0) return e;
      std::string dir;
      Resolved self;
      self.parent = UniqueFd(fcntl(r.parent.get(), F_DUPFD_CLOEXEC, 0));
      if (int e = host_path_of(self, 0, dir); e != 0) return e;
      out = r.name.empty() ? dir : join_path(dir, r.name);
      return 0;
    } catch (...) {
      return ENOMEM;
    }
  }
  std::string guest_path(const std::string& host) noexcept override {
    try {
      return root_.to_guest(host);
    } catch (...) {
      return {};
    }
  }
  int exec_paths(pid_t tid, int dirfd, const std::string& path, std::string& program,
                 std::string& interpreter) noexcept override {
    try {
      return resolve_exec(tid, dirfd, path, program, interpreter);
    } catch (...) {
      return ENOMEM;
    }
  }

  bool translating_ = false;
  bool host_root_ = false;  // the host's root, resolved only for the instance's /proc
  bool proc_view_ = false;  // [fs] proc = "instance"
  mode_t own_umask_ = 022;  // this process's umask, which the host applies to what it creates
  std::mutex members_mu_;
  std::unordered_set<pid_t> members_;  // the instance's processes and threads
  const sdk::PluginRegistry* registry_ = nullptr;  // for the proc plugin's ProgramNames
  GuestRoot root_;
  MetadataStore store_;
};

}  // namespace
}  // namespace lx::fs

LXHOST_PLUGIN(lx::fs::FsPlugin)
