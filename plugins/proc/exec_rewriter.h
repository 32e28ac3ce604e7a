// execve(2)/execveat(2) of a guest whose files live in a guest root: the program, its "#!"
// interpreter and its ELF interpreter come from the guest root (through the fs family's
// PathResolver), argv is rebuilt as the kernel would build it, and the call is rewritten on the
// TRACE route to run the host paths.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <lxhost/interfaces.h>
#include <lxhost/syscall_context.h>

namespace lx::proc {

/// One execve or execveat call, its arguments read once.
struct ExecCall {
  int dirfd = AT_FDCWD;    ///< execveat's directory fd (AT_FDCWD for execve)
  std::string path;        ///< the file name as the guest passed it
  std::uint64_t argv = 0;  ///< guest address of argv
  std::uint64_t envp = 0;  ///< guest address of envp (execveat: it moves to argument 2)
  bool execveat = false;   ///< execveat(dirfd, path, argv, envp, flags): it becomes execve
};

/// Rewrites execve calls; remembers each process's program for /proc/<pid>/exe.
class ExecRewriter final : public sdk::ProgramNames {
 public:
  ExecRewriter() = default;
  /// Removes the private directory of interpreter links.
  ~ExecRewriter() override;

  /// Resolves guest paths with `paths` (must outlive this; nullptr: the host's own root).
  void set_resolver(sdk::PathResolver* paths) noexcept { paths_ = paths; }
  /// Whether there is a guest root to run programs from (a resolver was set).
  bool active() const noexcept { return paths_ != nullptr; }
  /// The resolver (active() only).
  sdk::PathResolver& paths() const noexcept { return *paths_; }

  /// Implements execve(2) and execveat(2) (which becomes execve) when active(). Returns
  /// rewritten() or an error.
  sdk::SyscallResult rewrite(sdk::SyscallContext& c, const ExecCall& call);
  std::string program_of(pid_t pid) noexcept override;
  bool runs(dev_t dev, ino_t ino) noexcept override;
  /// After the exec of `ctx.pid()`: AT_EXECFN shows the file name the guest passed, as natively
  /// (it points at the host path the call was rewritten to; overwritten in place when it fits).
  void fix_execfn(sdk::SyscallContext& ctx) noexcept;
  /// A new process (or thread) `child` of `parent` runs its parent's program until it execs.
  void inherit(pid_t child, pid_t parent) noexcept;
  /// Forgets process `pid`.
  void forget(pid_t pid) noexcept;

 private:
  struct Plan;
  int follow_scripts(pid_t tid, const ExecCall& call, Plan& plan);
  std::string through_interpreter(const ExecCall& call, Plan& plan);
  void remember(pid_t pid, const std::string& program, const std::string& requested, const std::string& host);
  bool interp_has_argv0(const std::string& interp);
  std::string named_interp(const std::string& interp, const std::string& name);

  sdk::PathResolver* paths_ = nullptr;
  std::mutex mu_;
  std::map<pid_t, std::string> programs_;     // guarded by mu_
  std::map<pid_t, std::string> requested_;    // guarded by mu_: file name as the guest passed it
  std::map<pid_t, std::pair<dev_t, ino_t>> files_;  // guarded by mu_: the program's file
  std::string links_dir_;                     // guarded by mu_: private dir of interpreter links
  std::map<std::string, std::string> links_;  // guarded by mu_: interp + '\0' + name -> link
  std::map<std::string, int> interp_index_;   // guarded by mu_
  std::map<std::string, bool> argv0_support_; // guarded by mu_
};

}  // namespace lx::proc
