// lxhost-runc: an OCI bundle's config.json (runtime-spec 1.x) read into what lxhost can honour,
// and everything else refused with an error naming the field. Untrusted input (a scheduler passes
// whatever a pod spec said): every field is checked for its type, nothing is assumed present.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"

namespace lx::oci {

/// One hook (runtime-spec config.md "POSIX-platform Hooks").
struct Hook {
  std::string path;               ///< absolute path of the program
  std::vector<std::string> args;  ///< argv, args[0] included (may be empty: then path)
  std::vector<std::string> env;   ///< its environment
  int timeout = 0;                ///< seconds; 0: none
};

/// One rlimit of process.rlimits.
struct Rlimit {
  int resource = 0;  ///< RLIMIT_*
  std::uint64_t soft = 0, hard = 0;
};

/// The process to run (config.json `process`, or an `exec --process` file).
struct Process {
  bool terminal = false;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::optional<mode_t> umask;
  std::vector<Rlimit> rlimits;
  /// process.capabilities.bounding as a mask (bit c: capability c); unset: not given.
  std::optional<std::uint64_t> bounding;
  /// process.capabilities.inheritable as a mask; unset: not given.
  std::optional<std::uint64_t> inheritable;
  /// process.capabilities.ambient as a mask (root's only); unset: not given.
  std::optional<std::uint64_t> ambient;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;  ///< process.oomScoreAdj
};

/// One mount, as lxhost gives it to the guest.
struct Mount {
  /// What lxhost does for it.
  enum class Kind {
    kBind,      ///< a bind mount of `source`
    kScratch,   ///< a tmpfs: a private directory of the container, removed with it
    kStandard,  ///< proc, sysfs, devpts, mqueue, cgroup, /dev: the instance's own (default mounts)
  };
  Kind kind = Kind::kBind;
  std::string destination;  ///< absolute guest path
  std::string source;       ///< host path (kBind), else as given ("shm", "proc"...)
  bool read_only = false;
  // As given, for the kernel backend, which mounts them exactly (driver::ExactMount):
  std::string type;         ///< "" for a bind
  bool recursive = false;   ///< rbind
  unsigned long flags = 0;  ///< the options that are mount(2) flags
  std::string data;         ///< the others, joined by commas (the filesystem's: "mode=755")
};

/// One namespace of linux.namespaces.
struct Namespace {
  std::string type;  ///< pid, network, mount, ipc, uts, user, cgroup, time
  std::string path;  ///< join this one ("": a new one)
};

/// What lxhost takes from a bundle's config.json.
struct Spec {
  std::string oci_version;
  std::string bundle;  ///< absolute bundle directory
  Process process;
  std::string root;    ///< absolute host path of the root
  bool root_readonly = false;
  std::string hostname;
  std::vector<Mount> mounts;
  std::vector<Namespace> namespaces;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  std::optional<nlohmann::json> seccomp;  ///< linux.seccomp, checked (compile with seccomp.h)
  std::uint64_t pids_limit = 0;           ///< linux.resources.pids.limit (0: none)
  std::map<std::string, std::vector<Hook>> hooks;  ///< by hook kind
  std::map<std::string, std::string> annotations;

  /// Whether linux.namespaces asks for a new namespace of `type` (listed without a path).
  bool wants_new(const std::string& type) const;
  /// The path of the namespace of `type` to join ("" when none is given).
  std::string join_path(const std::string& type) const;
};

/// Reads config.json text of bundle `bundle` (absolute). Errors name the field:
/// "config.json: mounts[3].type: overlay mounts are not supported (bind, tmpfs, proc, ...)".
Result<Spec> parse_spec(const std::string& json_text, const std::string& bundle);

/// Reads a `process` object (an `exec --process` file). `what` starts its errors.
Result<Process> parse_process(const nlohmann::json& j, const std::string& what);

/// The capability number of "CAP_SYS_ADMIN" (or "sys_admin"); -1 when unknown.
int capability_number(std::string name);

/// The annotations that set lxhost config keys: "io.lxhost.families.net.enabled" = "false" gives
/// "families.net.enabled=false". Other annotations are not lxhost's and are kept as they are.
std::vector<std::string> config_sets_of(const std::map<std::string, std::string>& annotations);

}  // namespace lx::oci
