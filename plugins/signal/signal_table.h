// The signal family's syscall table: every call it takes on, in one place (signal_table.cpp),
// as gVisor's linux64.go lists a kernel's calls: the syscall, how the kernel routes it, the
// handler, the support level and a note for `lx syscalls`.
#pragma once

#include <span>

#include <lxhost/plugin.h>

#include "members.h"

namespace lx::signal {

/// When a row applies.
enum class When {
  kConfined,        ///< [signal] confine is on (the default)
  kCapsNotEmulated, ///< confined, and no plugin emulates capabilities (sdk::Credentials)
  kCapsetNative,    ///< as kCapsNotEmulated, and no plugin follows capset (sdk::GuestCredentials)
};

/// One row of the table, with the condition under which the plugin takes it on.
struct SignalRow {
  When when;                 ///< when the row applies
  sdk::Row<Members> row;     ///< the syscall, its policy, handler, support and note
};

/// Every row, in syscall order within each topic.
std::span<const SignalRow> signal_table();

}  // namespace lx::signal
