// SyscallTable: the entries of syscalls_x86_64.def as a sorted constexpr array, with a dense
// number index and name lookup.
#include "driver/syscall_table.h"

#include <algorithm>
#include <array>

namespace lx::driver {
namespace {

constexpr SyscallInfo kTable[] = {
#define LX_SYSCALL(nr, name, family, a0, a1, a2, a3, a4, a5) \
  {nr, #name, Family::family, {ArgKind::a0, ArgKind::a1, ArgKind::a2, ArgKind::a3, ArgKind::a4, ArgKind::a5}},
#include "driver/syscalls_x86_64.def"
#undef LX_SYSCALL
};

constexpr int kMaxNr = [] {
  int m = 0;
  for (const auto& e : kTable) m = std::max(m, e.nr);
  return m;
}();

// Index from number to table position (-1: unassigned).
constexpr std::array<short, kMaxNr + 1> kIndex = [] {
  std::array<short, kMaxNr + 1> idx{};
  for (auto& i : idx) i = -1;
  for (std::size_t i = 0; i < std::size(kTable); ++i) idx[kTable[i].nr] = static_cast<short>(i);
  return idx;
}();

constexpr bool sorted_and_unique() {
  for (std::size_t i = 1; i < std::size(kTable); ++i)
    if (kTable[i - 1].nr >= kTable[i].nr) return false;
  return true;
}
static_assert(sorted_and_unique(), "syscalls_x86_64.def must be sorted by number without duplicates");
static_assert(kMaxNr < 512, "x32-only numbers (512 and up) do not belong in the x86_64 table");

constexpr bool names_unique() {
  for (std::size_t i = 0; i < std::size(kTable); ++i)
    for (std::size_t j = i + 1; j < std::size(kTable); ++j)
      if (kTable[i].name == kTable[j].name) return false;
  return true;
}
static_assert(names_unique(), "syscalls_x86_64.def must not name two numbers alike");

constexpr std::string_view kFamilyNames[kFamilyCount] = {"fs",     "proc", "net", "signal", "memory",
                                                         "time",   "ipc",  "core", "other"};

}  // namespace

int SyscallInfo::arg_count() const noexcept {
  int n = 0;
  while (n < 6 && args[n] != ArgKind::kNone) ++n;
  return n;
}

std::span<const SyscallInfo> SyscallTable::all() noexcept { return kTable; }

const SyscallInfo* SyscallTable::find(int nr) noexcept {
  if (nr < 0 || nr > kMaxNr || kIndex[nr] < 0) return nullptr;
  return &kTable[kIndex[nr]];
}

const SyscallInfo* SyscallTable::find(std::string_view name) noexcept {
  for (const auto& e : kTable)
    if (e.name == name) return &e;
  return nullptr;
}

int SyscallTable::max_nr() noexcept { return kMaxNr; }

std::string_view SyscallTable::name(int nr) noexcept {
  const SyscallInfo* e = find(nr);
  return e ? e->name : std::string_view("?");
}

std::string_view to_string(Family f) noexcept {
  auto i = static_cast<int>(f);
  return i >= 0 && i < kFamilyCount ? kFamilyNames[i] : "?";
}

std::optional<Family> family_from_string(std::string_view name) noexcept {
  for (int i = 0; i < kFamilyCount; ++i)
    if (kFamilyNames[i] == name) return static_cast<Family>(i);
  return std::nullopt;
}

}  // namespace lx::driver
