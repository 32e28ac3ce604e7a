// The proc family's syscall table: every call it takes on, in one place (proc_table.cpp), as
// gVisor's linux64.go lists a kernel's calls: the syscall, how the kernel routes it, the
// handler, the support level and a note for `lx syscalls`.
#pragma once

#include <span>

#include <lxhost/plugin.h>

#include "proc_state.h"

namespace lx::proc {

/// When a row applies.
enum class When {
  kFakeRoot,      ///< [proc] fake_root
  kProcessLimit,  ///< [proc] max_processes > 0
  kUtsName,       ///< [proc] hostname or release set
  kGuestRoot,     ///< the fs family runs the guest in a guest root (it offers a PathResolver)
  kKernelRelease, ///< the kernel backend with [proc] release set: the one thing its UTS namespace cannot fake
  kRealCredentials, ///< no fake root, in a privileged lx: plugins act with the guest's real credentials
};

/// One row of the table, with the condition under which the plugin takes it on.
struct ProcRow {
  When when;                ///< when the row applies
  sdk::Row<ProcState> row;  ///< the syscall, its policy, handler, support and note
};

/// Every row, by topic.
std::span<const ProcRow> proc_table();

}  // namespace lx::proc
