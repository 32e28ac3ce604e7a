// The fs family's PathResolver (lxhost/interfaces.h): guest paths resolved in the guest's
// namespace for other plugins (net binds AF_UNIX paths, proc rewrites execve with exec_paths).
#pragma once

#include <string>

#include <lxhost/interfaces.h>

#include "fs_state.h"

namespace lx::fs {

/// The resolver the fs plugin offers, over its state.
class FsPathResolver final : public sdk::PathResolver {
 public:
  explicit FsPathResolver(FsState& state) : s_(state) {}
  int host_path(pid_t tid, int dirfd, const std::string& path, bool follow, std::string& out) noexcept override;
  std::string guest_path(const std::string& host) noexcept override;
  int exec_paths(pid_t tid, int dirfd, const std::string& path, std::string& program, std::string& interpreter,
                 FileId& runs) noexcept override;

 private:
  FsState& s_;
};

/// The PT_INTERP path of the ELF file open as `fd`; "" for static binaries and non-ELF files.
std::string elf_interp(int fd);

}  // namespace lx::fs
