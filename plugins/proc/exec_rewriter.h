// execve(2)/execveat(2) of a guest whose files live in a guest root: the program, its "#!"
// interpreter and its ELF interpreter come from the guest root (through the fs family's
// PathResolver), argv is rebuilt as the kernel would build it, and the call is rewritten on the
// TRACE route to run the host paths.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <lxhost/interfaces.h>
#include <lxhost/syscall_context.h>

namespace lx::proc {

/// Rewrites execve calls; remembers each process's program for /proc/<pid>/exe.
class ExecRewriter final : public sdk::ProgramNames {
 public:
  /// Resolves paths with `paths` (must outlive this).
  explicit ExecRewriter(sdk::PathResolver& paths) : paths_(paths) {}
  /// Removes the private directory of interpreter links.
  ~ExecRewriter() override;

  /// Implements execve(2) (`execveat` false: path, argv) and execveat(2) (true: dirfd, path, argv,
  /// envp, flags; it becomes execve). Returns rewritten() or an error.
  sdk::SyscallResult rewrite(sdk::SyscallContext& c, int dirfd, std::uint64_t path_addr, std::uint64_t argv_addr,
                             bool execveat);
  std::string program_of(pid_t pid) noexcept override;
  /// After the exec of `ctx.pid()`: AT_EXECFN shows the file name the guest passed, as natively
  /// (it points at the host path the call was rewritten to; overwritten in place when it fits).
  void fix_execfn(sdk::SyscallContext& ctx) noexcept;
  /// Forgets process `pid`.
  void forget(pid_t pid) noexcept;

 private:
  bool interp_has_argv0(const std::string& interp);
  std::string named_interp(const std::string& interp, const std::string& name);

  sdk::PathResolver& paths_;
  std::mutex mu_;
  std::map<pid_t, std::string> programs_;     // guarded by mu_
  std::map<pid_t, std::string> requested_;    // guarded by mu_: file name as the guest passed it
  std::string links_dir_;                       // guarded by mu_: private dir of interpreter links
  std::map<std::string, std::string> links_;    // guarded by mu_: interp + '\0' + name -> link
  std::map<std::string, int> interp_index_;     // guarded by mu_
  std::map<std::string, bool> argv0_support_; // guarded by mu_
};

}  // namespace lx::proc
