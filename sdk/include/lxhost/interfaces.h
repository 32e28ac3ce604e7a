// SDK: the typed interfaces plugins offer each other. Each class names itself (kName, versioned);
// a plugin offers one with PluginBase::offer<I>(impl) and another finds it, once, in connect(),
// with PluginRegistry::find<I>() (nullptr when no loaded plugin offers it).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lx::sdk {

/// Guest paths ↔ host paths, in a guest's namespace (root, mounts, symlinks, /proc/self).
class PathResolver {
 public:
  /// The name it is offered under (the fs plugin offers it).
  static constexpr std::string_view kName = "lxhost.fs.path_resolver/1";
  virtual ~PathResolver() = default;
  /// The host path guest thread `tid` means by `path` relative to its directory fd `dirfd`
  /// (AT_FDCWD: its cwd), following symlinks when `follow`. The last component need not exist
  /// (for a socket about to be bound). Returns 0 or a positive errno.
  virtual int host_path(pid_t tid, int dirfd, const std::string& path, bool follow, std::string& out) noexcept = 0;
  /// The guest path of host path `host`, or "" when it lies outside the guest's world.
  virtual std::string guest_path(const std::string& host) noexcept = 0;
  /// A file's identity.
  struct FileId {
    std::uint64_t dev = 0, ino = 0;
  };
  /// What execve of guest `path` must run on the host: the program, and the guest root's ELF
  /// interpreter when the program has a PT_INTERP ("" for a static program), as host paths; and
  /// in `runs` the identity of the file resolved that the kernel must load (the interpreter when
  /// there is one): the paths are walked again by the kernel, and a guest can swap a symlink into
  /// them meanwhile, so the caller checks what was run against it. 0 or an errno.
  virtual int exec_paths(pid_t tid, int dirfd, const std::string& path, std::string& program,
                         std::string& interpreter, FileId& runs) noexcept = 0;
};

/// The guest path of the program each guest process runs (what /proc/<pid>/exe must show when the
/// program runs through its ELF interpreter).
class ProgramNames {
 public:
  /// The name it is offered under (the proc plugin offers it).
  static constexpr std::string_view kName = "lxhost.proc.program_names/1";
  virtual ~ProgramNames() = default;
  /// The guest path of the program process `pid` last exec'd, or "" when not known.
  virtual std::string program_of(pid_t pid) noexcept = 0;
  /// Whether the file `dev`:`ino` is the program a guest process runs: natively its file is
  /// write-denied while it runs (ETXTBSY), which a program run through its ELF interpreter is not.
  virtual bool runs(dev_t dev, ino_t ino) noexcept {
    (void)dev, (void)ino;
    return false;
  }
};

/// The command line a program run through its ELF interpreter has natively: the proc family
/// runs it as `INTERP --argv0 ARGV0 PROGRAM ARGS...`, which is what /proc/<pid>/cmdline holds;
/// this gives back `ARGV0 ARGS...` (NUL-separated, as in /proc). Any other command line is
/// returned unchanged.
inline std::string native_cmdline(const std::string& raw) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start < raw.size()) {
    std::size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    parts.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
  if (parts.size() < 4 || parts[1] != "--argv0") return raw;
  std::string interp = parts[0].substr(parts[0].rfind('/') + 1);
  if (interp.rfind("ld-", 0) != 0 && interp.rfind("ld.so", 0) != 0) return raw;
  std::string out = parts[2] + '\0';
  for (std::size_t i = 4; i < parts.size(); ++i) out += parts[i] + '\0';
  return out;
}

/// How host owners appear in the guest: with fake root, what the host user owns is root's.
class IdentityMap {
 public:
  /// The name it is offered under (the proc plugin offers it).
  static constexpr std::string_view kName = "lxhost.proc.identity/1";
  virtual ~IdentityMap() = default;
  /// The owner the guest sees for a file the host says `uid` owns.
  virtual std::uint32_t guest_uid(std::uint32_t uid) noexcept = 0;
  /// The group the guest sees for a file the host says `gid` owns.
  virtual std::uint32_t guest_gid(std::uint32_t gid) noexcept = 0;
};

/// The identity a launch starts with (`lx run -u USER`), set by the host before the guest runs.
class LaunchIdentity {
 public:
  /// The name it is offered under (the proc plugin offers it (with fake root only)).
  static constexpr std::string_view kName = "lxhost.proc.launch_identity/1";
  virtual ~LaunchIdentity() = default;
  /// Makes process `pid` (seized, not yet running) start as `uid`/`gid` with the supplementary
  /// groups `groups[0..ngroups)`. Returns 0 or an errno.
  virtual int set_identity(pid_t pid, std::uint32_t uid, std::uint32_t gid, const std::uint32_t* groups,
                           std::size_t ngroups) noexcept = 0;
};

/// The emulated identity a guest thread acts with on files (its fsuid and fsgid).
class Credentials {
 public:
  /// The name it is offered under (the proc plugin offers it (with fake root only)).
  static constexpr std::string_view kName = "lxhost.proc.credentials/1";
  virtual ~Credentials() = default;
  /// Sets `uid` and `gid` to the fsuid and fsgid of guest thread `tid`; false when unknown.
  virtual bool fs_identity(pid_t tid, std::uint32_t& uid, std::uint32_t& gid) noexcept = 0;
};

/// Who a guest thread is to the kernel's permission checks, for calls done on its behalf.
struct ThreadCredentials {
  std::uint32_t ruid = 0, rgid = 0;    ///< real ids (access(2) checks with these)
  std::uint32_t euid = 0, suid = 0;    ///< effective and saved uid (kill(2) checks with these)
  std::uint32_t fsuid = 0, fsgid = 0;  ///< filesystem ids (every other file check)
  std::vector<std::uint32_t> groups;   ///< supplementary groups
  std::uint64_t cap_eff = 0;           ///< effective capabilities
  std::uint64_t cap_prm = 0;           ///< permitted capabilities
};

/// The credentials of each guest thread, so that a plugin acting on its behalf is refused what
/// the thread would be refused. The proc plugin offers it when this process is privileged (it
/// could act as anyone): with fake root the emulated credentials, otherwise the real ones.
class GuestCredentials {
 public:
  /// The name it is offered under.
  static constexpr std::string_view kName = "lxhost.proc.guest_credentials/1";
  virtual ~GuestCredentials() = default;
  /// Fills `out` with the credentials of guest thread `tid`; false when unknown (gone).
  virtual bool thread_credentials(pid_t tid, ThreadCredentials& out) noexcept = 0;
};


/// One mount of a kernel-backed instance's mount namespace.
struct KernelMount {
  /// What is mounted at `guest`.
  enum class Kind : std::uint8_t {
    kBind,  ///< a bind mount of host path `host` (recursive)
    kProc,  ///< a new procfs of the instance's PID namespace
    kDev,   ///< a tmpfs with the usual device nodes bound from the host, and a new devpts
  };
  Kind kind = Kind::kBind;
  std::string host;        ///< host path (kBind)
  std::string guest;       ///< guest path, absolute
  bool read_only = false;  ///< remounted read-only
};

/// What the families ask of the kernel for a kernel-backed instance: its root, its mounts, its
/// hostname, its limits. Each plugin that offers KernelConfigurator fills in its part.
struct KernelPlan {
  std::string root = "/";            ///< host directory that becomes the instance's "/"
  std::vector<KernelMount> mounts;   ///< done in order, after the root
  std::string hostname;              ///< the UTS namespace's hostname ("" keeps the host's)
  std::uint64_t max_processes = 0;   ///< RLIMIT_NPROC of every launch (0: unchanged)
};

/// A plugin's part in configuring a kernel-backed instance. Unlike the other interfaces, every
/// loaded plugin that offers it is asked (in load order), once, before the instance starts.
class KernelConfigurator {
 public:
  /// The name it is offered under (the fs and proc plugins offer it).
  static constexpr std::string_view kName = "lxhost.kernel_configurator/1";
  virtual ~KernelConfigurator() = default;
  /// Adds this plugin's part to `plan`. Returns "" or one line saying what cannot be done.
  virtual std::string configure_kernel(KernelPlan& plan) noexcept = 0;
};
}  // namespace lx::sdk
