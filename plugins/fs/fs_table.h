// The fs family's syscall table (fs_table.cpp): the rows that apply under the state's config.
#pragma once

#include <vector>

#include <lxhost/plugin.h>

#include "fs_state.h"

namespace lx::fs {

/// The rows of the fs family under the config `s` holds (host root or not, /proc view or not).
std::vector<sdk::Row<FsState>> fs_rows(const FsState& s);

}  // namespace lx::fs
