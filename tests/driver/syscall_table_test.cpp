// Tests of the syscall table against the C library's <sys/syscall.h> (preprocessed at configure
// time into LXHOST_SYSCALL_MACROS), plus lookups and family names.
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <lxhost/syscall_table.h>

namespace lx::sdk {
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

TEST(SyscallTable, EveryEntryTheHeaderNamesHasTheHeadersNumber) {
  auto h = header_numbers();
  int checked = 0;
  for (const auto& e : SyscallTable::all()) {
    auto it = h.find(std::string(e.name));
    if (it == h.end()) continue;  // newer than the C library's headers
    EXPECT_EQ(e.nr, it->second) << e.name;
    ++checked;
  }
  EXPECT_GT(checked, 300);
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

TEST(SyscallTable, CoversBothKernelRangesWithoutGaps) {
  for (int nr = 0; nr <= 334; ++nr) EXPECT_NE(SyscallTable::find(nr), nullptr) << nr;
  for (int nr = 424; nr <= 469; ++nr) EXPECT_NE(SyscallTable::find(nr), nullptr) << nr;
  EXPECT_EQ(SyscallTable::all().size(), 335u + 46u);
}

TEST(SyscallTable, LookupsAgreeWithTheList) {
  for (const auto& e : SyscallTable::all()) {
    EXPECT_EQ(SyscallTable::find(e.nr), &e) << e.name;
    EXPECT_EQ(SyscallTable::find(e.name), &e) << e.name;
    EXPECT_EQ(SyscallTable::name(e.nr), e.name);
    EXPECT_EQ(SyscallTable::name(e.nr).data()[e.name.size()], '\0') << e.name;  // usable as a C string
  }
  EXPECT_EQ(SyscallTable::name(400), "?");
  EXPECT_EQ(SyscallTable::name(SyscallTable::max_nr() + 1), "?");
}

TEST(SyscallTable, ArgumentKindsHaveNoHoles) {
  for (const auto& e : SyscallTable::all()) {
    int n = e.arg_count();
    for (int i = n; i < 6; ++i) EXPECT_EQ(e.args[i], ArgKind::kNone) << e.name << " arg " << i;
  }
}

TEST(SyscallTable, CoreFamilyIsExactlyWhatAProcessCannotLiveWithout) {
  std::set<std::string_view> core;
  for (const auto& e : SyscallTable::all())
    if (e.family == Family::kCore) core.insert(e.name);
  EXPECT_EQ(core, (std::set<std::string_view>{"exit", "exit_group", "rt_sigreturn", "restart_syscall"}));
}

TEST(SyscallTable, SignalFamilyHoldsTheSignalCalls) {
  for (const char* n : {"kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal",
                        "rt_sigaction", "rt_sigprocmask", "rt_sigpending", "rt_sigtimedwait", "rt_sigsuspend",
                        "sigaltstack", "signalfd", "signalfd4", "pause"}) {
    const SyscallInfo* e = SyscallTable::find(n);
    ASSERT_NE(e, nullptr) << n;
    EXPECT_EQ(e->family, Family::kSignal) << n;
  }
}

TEST(SyscallTable, PathArgumentsArePaths) {
  for (const char* n : {"open", "stat", "lstat", "access", "execve", "chdir", "unlink", "mkdir", "truncate"})
    EXPECT_EQ(SyscallTable::find(n)->args[0], ArgKind::kPath) << n;
  for (const char* n : {"openat", "newfstatat", "unlinkat", "mkdirat", "execveat", "statx", "faccessat2",
                        "fchmodat2", "openat2"}) {
    EXPECT_EQ(SyscallTable::find(n)->args[0], ArgKind::kFd) << n;
    EXPECT_EQ(SyscallTable::find(n)->args[1], ArgKind::kPath) << n;
  }
  EXPECT_EQ(SyscallTable::find("kill")->args[0], ArgKind::kPid);
  EXPECT_EQ(SyscallTable::find("read")->args[0], ArgKind::kFd);
}

TEST(SyscallTable, SpotChecks) {
  const SyscallInfo* openat = SyscallTable::find("openat");
  ASSERT_NE(openat, nullptr);
  EXPECT_EQ(openat->family, Family::kFs);
  EXPECT_EQ(openat->args[0], ArgKind::kFd);
  EXPECT_EQ(openat->args[1], ArgKind::kPath);
  EXPECT_EQ(openat->args[2], ArgKind::kFlags);
  EXPECT_EQ(openat->args[3], ArgKind::kFlags);
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
}  // namespace lx::sdk
