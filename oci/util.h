// lxhost-runc's small helpers: times, files, TOML strings.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace lx::oci {

/// Now as RFC 3339 in UTC with nanoseconds ("2026-12-02T18:11:24.499241300Z").
std::string now_rfc3339();
/// The whole of file `path`; `found` says whether it could be opened.
std::string read_file(const std::string& path, bool& found);
/// A TOML basic string (quoted, escaped) holding `s`.
std::string toml_string(const std::string& s);
/// This process's user name (its uid when it has none).
std::string owner_name();
/// Writes `text` to `path` through a temporary file and a rename (a pid file a shim polls must
/// never be seen half written).
Result<void> write_atomically(const std::string& path, const std::string& text);

/// The options of a mount that are mount(2) flags, set in `flags` (as runc reads them: "ro",
/// "nosuid", "rro"...); the others (the filesystem's own, "mode=755") joined by commas.
/// Propagation and bind options are left out.
std::string mount_options(const std::vector<std::string>& options, unsigned long& flags);

}  // namespace lx::oci
