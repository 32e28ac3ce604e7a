// lxhostd's log: one timestamped line per event on stderr (the log file when started on demand).
#pragma once

#include <string>

namespace lx::service {

/// Writes "<time> lxhostd[<pid>]: <line>" to stderr.
void log(const std::string& line);

/// Writes `line` only when LXHOSTD_DEBUG is set.
void debug_log(const std::string& line);

}  // namespace lx::service
