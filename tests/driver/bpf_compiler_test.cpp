// Tests of the BPF compiler, run in the BPF evaluator without a kernel (bpf_dsl style):
// arch and x32 checks, number dispatch, argument rules, long programs.
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <random>

#include <gtest/gtest.h>

#include "driver/bpf_compiler.h"
#include "driver/bpf_evaluator.h"

namespace lx::driver {
namespace {

using Op = ArgCondition::Op;
using Width = ArgCondition::Width;

// The filter's answer to `data` (an invalid program fails the test).
std::uint32_t run(const BpfProgram& p, const seccomp_data& data, std::size_t* executed = nullptr) {
  auto r = evaluate_filter(p, data, executed);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : ~0u;
}

std::uint32_t eval(const BpfProgram& p, int nr, std::uint64_t a0 = 0, std::uint64_t a1 = 0) {
  return run(p, make_seccomp_data(nr, a0, a1));
}

// The compiled policy (a failure to compile fails the test).
BpfProgram compiled(const FilterPolicy& pol) {
  auto p = compile_filter(pol);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p.ok() ? std::move(p).value() : BpfProgram{};
}

void expect_action(const BpfProgram& p, int nr, Action a, std::uint64_t a0 = 0) {
  EXPECT_EQ(eval(p, nr, a0), seccomp_return(a)) << "nr " << nr << " arg0 " << a0 << "\n" << disassemble(p);
}

TEST(BpfCompiler, SeccompReturnValues) {
  EXPECT_EQ(seccomp_return(Action::allow()), SECCOMP_RET_ALLOW);
  EXPECT_EQ(seccomp_return(Action::error(ENOSYS)), SECCOMP_RET_ERRNO | ENOSYS);
  EXPECT_EQ(seccomp_return(Action::notify()), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(seccomp_return(Action::trace()), SECCOMP_RET_TRACE);
}

TEST(BpfCompiler, EmptyPolicyAllowsEverything) {
  auto p = compiled({});
  for (int nr = 0; nr <= 470; ++nr) expect_action(p, nr, Action::allow());
}

TEST(BpfCompiler, ForeignArchAndX32AreRefused) {
  FilterPolicy pol;
  pol.foreign_arch_action = Action::error(EPERM);
  pol.x32_action = Action::error(ENOSYS);
  auto p = compiled(pol);
  EXPECT_EQ(run(p, make_seccomp_data(SYS_getpid, 0, 0, 0, 0, 0, 0, AUDIT_ARCH_I386)),
            SECCOMP_RET_ERRNO | EPERM);
  EXPECT_EQ(eval(p, 0x40000000 | 39), SECCOMP_RET_ERRNO | ENOSYS);
  EXPECT_EQ(eval(p, 0x40000000 | 512), SECCOMP_RET_ERRNO | ENOSYS);
  EXPECT_EQ(eval(p, 39), SECCOMP_RET_ALLOW);
}

TEST(BpfCompiler, RoutesAndBoundaries) {
  FilterPolicy pol;
  pol.syscalls[SYS_openat] = {{}, Action::notify()};
  pol.syscalls[SYS_execve] = {{}, Action::trace()};
  std::vector<int> net = {41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 288, 299, 307};
  for (int nr : net) pol.syscalls[nr] = {{}, Action::error(ENOSYS)};
  auto p = compiled(pol);
  expect_action(p, SYS_openat, Action::notify());
  expect_action(p, SYS_openat - 1, Action::allow());
  expect_action(p, SYS_openat + 1, Action::allow());
  expect_action(p, SYS_execve, Action::trace());
  expect_action(p, SYS_execve - 1, Action::allow());
  expect_action(p, SYS_execve + 1, Action::allow());
  for (int nr : net) {
    expect_action(p, nr, Action::error(ENOSYS));
  }
  for (int nr : {40, 56, 287, 289, 298, 300, 306, 308, 0, 469, 1000}) expect_action(p, nr, Action::allow());
}

TEST(BpfCompiler, RandomPoliciesMatchTheirMapExhaustively) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 5; ++round) {
    FilterPolicy pol;
    Action choices[] = {Action::allow(), Action::error(ENOSYS), Action::error(EPERM), Action::notify(),
                        Action::trace()};
    for (int i = 0; i < 150; ++i) pol.syscalls[static_cast<int>(rng() % 480)] = {{}, choices[rng() % 5]};
    pol.default_action = choices[rng() % 5];
    auto p = compiled(pol);
    for (int nr = 0; nr <= 600; ++nr) {
      auto it = pol.syscalls.find(nr);
      Action want = it == pol.syscalls.end() ? pol.default_action : it->second.fallback;
      ASSERT_EQ(eval(p, nr), seccomp_return(want)) << "round " << round << " nr " << nr;
    }
  }
}

TEST(BpfCompiler, ManyDistinctRulesNeedLongJumps) {
  FilterPolicy pol;
  for (int nr = 0; nr < 400; ++nr) pol.syscalls[nr] = {{}, nr % 2 ? Action::error(1 + nr % 100) : Action::notify()};
  auto p = compiled(pol);
  EXPECT_LE(p.size(), static_cast<std::size_t>(BPF_MAXINSNS));
  bool has_far_jump = false;
  for (const auto& f : p) has_far_jump |= BPF_CLASS(f.code) == BPF_JMP && BPF_OP(f.code) == BPF_JA && f.k > 255;
  EXPECT_TRUE(has_far_jump) << "the test should exercise jumps beyond 8-bit offsets";
  for (int nr = 0; nr < 420; ++nr) {
    Action want = nr >= 400 ? Action::allow() : nr % 2 ? Action::error(1 + nr % 100) : Action::notify();
    ASSERT_EQ(eval(p, nr), seccomp_return(want)) << nr;
  }
}

TEST(BpfCompiler, AllowedSyscallRunsFewInstructions) {
  std::mt19937 rng(7);
  FilterPolicy pol;
  for (int i = 0; i < 150; ++i) pol.syscalls[static_cast<int>(rng() % 450)] = {{}, Action::error(1 + i % 3)};
  auto p = compiled(pol);
  std::size_t worst = 0;
  for (int nr = 0; nr < 470; ++nr) {
    std::size_t n = 0;
    run(p, make_seccomp_data(nr), &n);
    worst = std::max(worst, n);
  }
  // 6 instructions of preamble, then at most 2 per level of a tree over ≤ 301 ranges, then ret.
  EXPECT_LE(worst, 6u + 2u * 9u + 1u);
}

TEST(BpfCompiler, SocketDomainRuleIn32BitsIgnoresTheHighHalf) {
  FilterPolicy pol;
  ArgRule unix_only{{{0, Op::kEq, AF_UNIX}}, Route::kAllow, 0};
  pol.syscalls[SYS_socket] = {{unix_only}, Action::error(EAFNOSUPPORT)};
  auto p = compiled(pol);
  expect_action(p, SYS_socket, Action::allow(), AF_UNIX);
  expect_action(p, SYS_socket, Action::allow(), 0xdeadbeef00000000ull | AF_UNIX);  // the kernel reads an int
  expect_action(p, SYS_socket, Action::error(EAFNOSUPPORT), AF_INET);
  expect_action(p, SYS_socket, Action::error(EAFNOSUPPORT), AF_INET6);
  expect_action(p, SYS_socketpair, Action::allow(), AF_INET);
}

TEST(BpfCompiler, SixtyFourBitComparisons) {
  const std::uint64_t v = 0x0000000100000005ull;
  struct Case {
    Op op;
    std::uint64_t arg;
    bool holds;
  } cases[] = {
      {Op::kEq, v, true},          {Op::kEq, 5, false},          {Op::kEq, v | (1ull << 40), false},
      {Op::kNe, v, false},         {Op::kNe, 5, true},           {Op::kNe, 0x0000000200000005ull, true},
      {Op::kLt, v - 1, true},      {Op::kLt, v, false},          {Op::kLt, 0xFFFFFFFFull, true},
      {Op::kLt, 0x0000000100000006ull, false},                   {Op::kLt, 0x0000000200000000ull, false},
      {Op::kGe, v, true},          {Op::kGe, v - 1, false},      {Op::kGe, ~0ull, true},
      {Op::kGe, 0xFFFFFFFFull, false},                           {Op::kGe, 0x0000000100000004ull, false},
  };
  for (const auto& c : cases) {
    FilterPolicy pol;
    pol.syscalls[SYS_getpid] = {{ArgRule{{{0, c.op, v, ~0ull, Width::k64}}, Route::kNotify, 0}}, Action::allow()};
    auto p = compiled(pol);
    EXPECT_EQ(eval(p, SYS_getpid, c.arg), seccomp_return(c.holds ? Action::notify() : Action::allow()))
        << "op " << static_cast<int>(c.op) << " arg " << std::hex << c.arg;
  }
}

TEST(BpfCompiler, MaskedEqualityIn32And64Bits) {
  FilterPolicy pol;
  // Notify when (flags & O_ACCMODE|O_CREAT) == O_WRONLY|O_CREAT, in 32 bits; 64-bit mask on arg1.
  pol.syscalls[SYS_open] = {{ArgRule{{{0, Op::kMaskedEq, 0101, 0103, Width::k32}}, Route::kNotify, 0}},
                            Action::allow()};
  pol.syscalls[SYS_read] = {
      {ArgRule{{{0, Op::kMaskedEq, 0x100000000ull, 0xF00000000ull, Width::k64}}, Route::kTrace, 0}}, Action::allow()};
  auto p = compiled(pol);
  expect_action(p, SYS_open, Action::notify(), 0101);
  expect_action(p, SYS_open, Action::notify(), 0101 | 02000000);
  expect_action(p, SYS_open, Action::allow(), 0102);
  expect_action(p, SYS_read, Action::trace(), 0x1000000FFull);
  expect_action(p, SYS_read, Action::allow(), 0x2000000FFull);
}

TEST(BpfCompiler, FirstMatchingRuleWins) {
  FilterPolicy pol;
  pol.syscalls[SYS_kill] = {{ArgRule{{{1, Op::kEq, 0}}, Route::kAllow, 0},          // kill(pid, 0): allow
                             ArgRule{{{0, Op::kLt, 100}, {1, Op::kEq, 9}}, Route::kErrno, EPERM},
                             ArgRule{{{1, Op::kEq, 9}}, Route::kNotify, 0}},
                            Action::trace()};
  auto p = compiled(pol);
  auto kill = [&](std::uint64_t pid, std::uint64_t sig) { return run(p, make_seccomp_data(SYS_kill, pid, sig)); };
  EXPECT_EQ(kill(50, 0), SECCOMP_RET_ALLOW);
  EXPECT_EQ(kill(50, 9), SECCOMP_RET_ERRNO | EPERM);
  EXPECT_EQ(kill(500, 9), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(kill(500, 15), SECCOMP_RET_TRACE);
}

TEST(BpfCompiler, BadArgumentIndexOrNumberIsAnError) {
  FilterPolicy pol;
  pol.syscalls[SYS_read] = {{ArgRule{{{6, Op::kEq, 0}}, Route::kAllow, 0}}, Action::allow()};
  auto bad_arg = compile_filter(pol);
  ASSERT_FALSE(bad_arg.ok());
  EXPECT_NE(bad_arg.error().message.find("argument index 6"), std::string::npos) << bad_arg.error().message;
  pol.syscalls.clear();
  pol.syscalls[-3] = {{}, Action::notify()};
  auto bad_nr = compile_filter(pol);
  ASSERT_FALSE(bad_nr.ok());
  EXPECT_NE(bad_nr.error().message.find("syscall number -3 out of range"), std::string::npos) << bad_nr.error().message;
}

TEST(BpfEvaluator, RejectsBrokenPrograms) {
  BpfProgram jump_out = {BPF_JUMP(BPF_JMP | BPF_JA, 5, 0, 0), BPF_STMT(BPF_RET | BPF_K, 0)};
  EXPECT_FALSE(evaluate_filter(jump_out, make_seccomp_data(0)).ok());
  BpfProgram no_ret = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0)};
  EXPECT_FALSE(evaluate_filter(no_ret, make_seccomp_data(0)).ok());
  BpfProgram bad_load = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), BPF_STMT(BPF_RET | BPF_K, 0)};
  EXPECT_FALSE(evaluate_filter(bad_load, make_seccomp_data(0)).ok());
}

TEST(BpfCompiler, DisassemblyNamesActions) {
  FilterPolicy pol;
  pol.syscalls[SYS_getppid] = {{}, Action::notify()};
  auto text = disassemble(compiled(pol));
  EXPECT_NE(text.find("ret USER_NOTIF"), std::string::npos) << text;
  EXPECT_NE(text.find("ret ALLOW"), std::string::npos);
  EXPECT_NE(text.find("ld [4]"), std::string::npos);
}

}  // namespace
}  // namespace lx::driver
