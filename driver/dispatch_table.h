// The dispatch table: for every syscall number, the plugin that handles it and its route.
#pragma once

#include <array>

#include <lxhost/plugin.h>

namespace lx::driver {

/// Which plugin handles a syscall, and on which route it arrives.
struct DispatchEntry {
  sdk::Plugin* plugin = nullptr;         ///< handler, or nullptr (native)
  sdk::Route route = sdk::Route::kAllow; ///< fallback route asked for
};

/// Per-number dispatch entries; read concurrently by the NOTIFY workers and the tracer.
class DispatchTable {
 public:
  /// One past the highest number the table holds.
  static constexpr int kSize = 512;

  /// Sets the entry of `nr` (ignored outside 0..kSize-1).
  void set(int nr, sdk::Plugin* plugin, sdk::Route route) noexcept {
    if (nr >= 0 && nr < kSize) entries_[nr] = DispatchEntry{plugin, route};
  }
  /// The entry of `nr` (an empty entry outside 0..kSize-1).
  const DispatchEntry& at(int nr) const noexcept {
    static const DispatchEntry kNone{};
    return nr >= 0 && nr < kSize ? entries_[nr] : kNone;
  }

 private:
  std::array<DispatchEntry, kSize> entries_{};
};

}  // namespace lx::driver
