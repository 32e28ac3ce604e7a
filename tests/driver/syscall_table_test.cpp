// Tests of the syscall table against the C library's <sys/syscall.h> (preprocessed at configure
// time into LXHOST_SYSCALL_MACROS), plus lookups and family names.
#include <fstream>
#include <map>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "driver/syscall_table.h"

namespace lx::driver {
namespace {

// __NR_<name> → number, from the preprocessed header (x86_64 numbers only).
std::map<std::string, int> header_numbers() {
  std::ifstream f(LXHOST_SYSCALL_MACROS);
  std::map<std::string, int> out;
  std::regex re(R"(^#define __NR_(\w+) (\d+)\s*$)");
  std::string line;
  std::smatch m;
  while (std::getline(f, line))
    if (std::regex_match(line, m, re) && std::stoi(m[2]) < 512) out[m[1]] = std::stoi(m[2]);
  return out;
}

TEST(SyscallTable, HeaderIsReadable) { EXPECT_GT(header_numbers().size(), 300u); }

TEST(SyscallTable, EveryHeaderSyscallHasTheSameNumberAndName) {
  for (const auto& [name, nr] : header_numbers()) {
    const SyscallInfo* e = SyscallTable::find(nr);
    ASSERT_NE(e, nullptr) << "no entry for " << name << " = " << nr;
    EXPECT_EQ(e->name, name) << "number " << nr;
    const SyscallInfo* byname = SyscallTable::find(name);
    ASSERT_NE(byname, nullptr) << name;
    EXPECT_EQ(byname->nr, nr) << name;
  }
}

TEST(SyscallTable, EveryNumberUpToTheHeadersMaxHasAnEntryWhenTheHeaderHasOne) {
  auto h = header_numbers();
  std::map<int, std::string> by_nr;
  for (const auto& [n, nr] : h) by_nr[nr] = n;
  for (int nr = 0; nr <= by_nr.rbegin()->first; ++nr)
    EXPECT_EQ(SyscallTable::find(nr) != nullptr, by_nr.count(nr) != 0) << "number " << nr;
}

TEST(SyscallTable, SortedUniqueAndCoversNewerKernels) {
  auto all = SyscallTable::all();
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].nr, all[i].nr);
  EXPECT_EQ(SyscallTable::max_nr(), 469);
  EXPECT_EQ(SyscallTable::find("fchmodat2")->nr, 452);
  EXPECT_EQ(SyscallTable::find("mseal")->nr, 462);
  EXPECT_EQ(SyscallTable::find("file_setattr")->nr, 469);
  for (int nr = 335; nr < 424; ++nr) EXPECT_EQ(SyscallTable::find(nr), nullptr) << nr;
}

TEST(SyscallTable, SpotChecks) {
  const SyscallInfo* openat = SyscallTable::find("openat");
  ASSERT_NE(openat, nullptr);
  EXPECT_EQ(openat->family, Family::kFs);
  EXPECT_EQ(openat->args[0], ArgKind::kFd);
  EXPECT_EQ(openat->args[1], ArgKind::kPath);
  EXPECT_EQ(openat->args[2], ArgKind::kFlags);
  EXPECT_EQ(openat->arg_count(), 4);
  EXPECT_EQ(SyscallTable::find("socket")->family, Family::kNet);
  EXPECT_EQ(SyscallTable::find("kill")->family, Family::kSignal);
  EXPECT_EQ(SyscallTable::find("exit_group")->family, Family::kCore);
  EXPECT_EQ(SyscallTable::find("execve")->family, Family::kProc);
  EXPECT_EQ(SyscallTable::find("execve")->args[0], ArgKind::kPath);
  EXPECT_EQ(SyscallTable::find("mmap")->family, Family::kMemory);
  EXPECT_EQ(SyscallTable::find("futex")->family, Family::kIpc);
  EXPECT_EQ(SyscallTable::find("clock_gettime")->family, Family::kTime);
  EXPECT_EQ(SyscallTable::find("getpid")->arg_count(), 0);
  EXPECT_EQ(SyscallTable::find("nonexistent"), nullptr);
  EXPECT_EQ(SyscallTable::find(1000), nullptr);
  EXPECT_EQ(SyscallTable::find(-1), nullptr);
  EXPECT_EQ(SyscallTable::name(0), "read");
  EXPECT_EQ(SyscallTable::name(-5), "?");
}

TEST(SyscallTable, EveryNetFamilyMemberIsASocketCall) {
  int n = 0;
  for (const auto& e : SyscallTable::all())
    if (e.family == Family::kNet) ++n;
  EXPECT_EQ(n, 18);
}

TEST(SyscallTable, FamilyNamesRoundTrip) {
  for (int i = 0; i < kFamilyCount; ++i) {
    auto f = static_cast<Family>(i);
    EXPECT_EQ(family_from_string(to_string(f)), f);
  }
  EXPECT_EQ(family_from_string("bogus"), std::nullopt);
}

}  // namespace
}  // namespace lx::driver
