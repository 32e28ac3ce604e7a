// The one reader of /proc/<pid>/status (and /proc/<pid>/task/<tid>/status): a process's or a
// thread's thread group, parent, ids, umask, state, pid namespaces, signal masks and
// capabilities, as the kernel shows them (fs/proc/array.c). It is on hot paths: one open(), one
// read() into a buffer inside the object, no allocation unless the file outgrows that buffer
// (thousands of groups), and each field parsed only when asked for.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace lx {

/// The four ids of "Uid:" or "Gid:": real, effective, saved set, filesystem.
struct ProcIds {
  unsigned real = 0;
  unsigned effective = 0;
  unsigned saved = 0;
  unsigned fs = 0;
};

/// One snapshot of a status file. Accessors return nullopt when the field is missing or
/// malformed (a kernel without it, or a thread that died half-way through).
class ProcStatus {
 public:
  /// Reads /proc/<pid>/status (`pid` may be any thread id: the kernel answers for that thread).
  static Result<ProcStatus> read(pid_t pid);
  /// Reads /proc/<pid>/task/<tid>/status: thread `tid` only while it belongs to process `pid`.
  static Result<ProcStatus> read_task(pid_t pid, pid_t tid);
  /// Parses the text of a status file (tests; what read() does after its read()).
  static ProcStatus parse(std::string_view text);

  ProcStatus(const ProcStatus& o) { assign(o.text()); }
  ProcStatus& operator=(const ProcStatus& o) {
    if (this != &o) assign(o.text());
    return *this;
  }

  /// The raw value of field `key` (e.g. "Tgid"), leading blanks dropped, without its newline.
  std::optional<std::string_view> field(std::string_view key) const noexcept;

  std::optional<char> state() const noexcept;            ///< "State:" letter: R, S, D, T, t, Z, X...
  std::optional<pid_t> tgid() const noexcept;            ///< "Tgid:"
  std::optional<pid_t> pid() const noexcept;             ///< "Pid:" (the thread id)
  std::optional<pid_t> ppid() const noexcept;            ///< "PPid:"
  std::optional<pid_t> tracer_pid() const noexcept;      ///< "TracerPid:"
  std::optional<ProcIds> uid() const noexcept;           ///< "Uid:"
  std::optional<ProcIds> gid() const noexcept;           ///< "Gid:"
  std::optional<mode_t> umask() const noexcept;          ///< "Umask:" (octal)
  std::optional<int> threads() const noexcept;           ///< "Threads:"
  std::optional<std::uint64_t> sig_pending() const noexcept;     ///< "SigPnd:" (this thread's)
  std::optional<std::uint64_t> shared_pending() const noexcept;  ///< "ShdPnd:" (the process's)
  std::optional<std::uint64_t> sig_blocked() const noexcept;     ///< "SigBlk:"
  std::optional<std::uint64_t> sig_ignored() const noexcept;     ///< "SigIgn:"
  std::optional<std::uint64_t> sig_caught() const noexcept;      ///< "SigCgt:"
  std::optional<std::uint64_t> cap_effective() const noexcept;   ///< "CapEff:"
  std::optional<std::uint64_t> cap_permitted() const noexcept;   ///< "CapPrm:"
  std::optional<std::uint64_t> cap_bounding() const noexcept;    ///< "CapBnd:"
  /// "Groups:", the supplementary groups (empty when none or missing).
  std::vector<gid_t> groups() const;
  /// "NSpid:", the thread's id in each pid namespace, outermost first (empty when missing).
  std::vector<pid_t> nspid() const;

 private:
  ProcStatus() = default;
  static Result<ProcStatus> read_path(const char* path);
  void assign(std::string_view text);
  std::string_view text() const noexcept { return big_.empty() ? std::string_view(buf_.data(), len_) : big_; }
  std::optional<std::int64_t> decimal(std::string_view key) const noexcept;
  std::optional<std::uint64_t> hex(std::string_view key) const noexcept;
  std::optional<ProcIds> ids(std::string_view key) const noexcept;

  std::array<char, 4096> buf_;
  std::size_t len_ = 0;
  std::string big_;  ///< the whole text when it outgrew buf_
};

}  // namespace lx
