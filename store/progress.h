// Progress of a long store operation (install, import, export) and its rate-limited reporter.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace lx::store {

/// How far an operation has got.
struct Progress {
  std::uint64_t done_bytes = 0;   ///< bytes processed (compressed input read, or file data copied)
  std::uint64_t total_bytes = 0;  ///< bytes expected in all, 0 if unknown
  std::uint64_t entries = 0;      ///< filesystem entries done
  std::string current;            ///< the entry being processed
};

/// Receives progress; called at most about ten times a second, and once at the end.
using ProgressFn = std::function<void(const Progress&)>;

/// Passes progress on to a ProgressFn no more than ten times a second.
class ProgressReporter {
 public:
  /// Reports to `fn` (which may be empty).
  explicit ProgressReporter(const ProgressFn& fn) : fn_(fn) {}

  /// Reports `p` unless the last report was less than 100 ms ago (always when `final`).
  void update(const Progress& p, bool final = false) {
    if (!fn_) return;
    auto now = std::chrono::steady_clock::now();
    if (!final && reported_ && now - last_ < std::chrono::milliseconds(100)) return;
    reported_ = true;
    last_ = now;
    fn_(p);
  }

 private:
  const ProgressFn& fn_;
  std::chrono::steady_clock::time_point last_{};
  bool reported_ = false;
};

}  // namespace lx::store
