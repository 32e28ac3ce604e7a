// compile_filter: FilterPolicy → classic BPF. Layout: arch check, x32 check, then a balanced
// binary search (JGE) over number ranges, each leaf a RET or a per-syscall argument rule block.
// Conditional jumps only ever skip one instruction; every longer jump is a JA with a 32-bit
// offset resolved by a small label assembler, so programs of any size within BPF_MAXINSNS work.
#include "driver/bpf_compiler.h"

#include <linux/audit.h>
#include <linux/seccomp.h>

#include <cstddef>
#include <string>

#include <fmt/format.h>

namespace lx::driver {
namespace {

constexpr std::uint32_t kArchX86_64 = AUDIT_ARCH_X86_64;
constexpr std::uint32_t kX32Bit = 0x40000000;
constexpr std::uint32_t kOffNr = offsetof(seccomp_data, nr);
constexpr std::uint32_t kOffArch = offsetof(seccomp_data, arch);
constexpr std::uint32_t arg_lo(int i) { return offsetof(seccomp_data, args) + 8 * i; }
constexpr std::uint32_t arg_hi(int i) { return offsetof(seccomp_data, args) + 8 * i + 4; }

// A tiny assembler: instructions plus labels that JA instructions are resolved against.
class Assembler {
 public:
  int new_label() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void bind(int label) { labels_[label] = static_cast<int>(code_.size()); }
  void stmt(std::uint16_t code, std::uint32_t k) { code_.push_back(BPF_STMT(code, k)); }
  void load(std::uint32_t offset) { stmt(BPF_LD | BPF_W | BPF_ABS, offset); }
  void ret(std::uint32_t value) { stmt(BPF_RET | BPF_K, value); }
  // A conditional jump that skips `jt`/`jf` (0 or 1) instructions.
  void jump(std::uint16_t op, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
    code_.push_back(BPF_JUMP(BPF_JMP | op | BPF_K, k, jt, jf));
  }
  void ja(int label) {
    fixups_.push_back({code_.size(), label});
    code_.push_back(BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0));
  }
  Result<BpfProgram> finish() {
    for (auto [at, label] : fixups_) {
      int target = labels_[label];
      if (target < 0) return Error::msg("bpf assembler: unbound label");
      code_[at].k = static_cast<std::uint32_t>(target - static_cast<int>(at) - 1);
    }
    return std::move(code_);
  }

 private:
  BpfProgram code_;
  std::vector<int> labels_;
  std::vector<std::pair<std::size_t, int>> fixups_;
};

// A range of numbers with one simple action, or one number with argument rules.
struct Segment {
  std::uint32_t lo, hi;
  const SyscallPolicy* rules;  // non-null: a single number with rules
  Action action;
};

Result<std::vector<Segment>> make_segments(const FilterPolicy& policy) {
  std::vector<Segment> segs;
  auto push_simple = [&](std::uint32_t lo, std::uint32_t hi, Action a) {
    if (!segs.empty() && !segs.back().rules && segs.back().action == a && segs.back().hi + 1 == lo)
      segs.back().hi = hi;
    else
      segs.push_back({lo, hi, nullptr, a});
  };
  std::uint32_t next = 0;
  for (const auto& [nr, pol] : policy.syscalls) {
    if (nr < 0 || static_cast<std::uint32_t>(nr) >= kX32Bit)
      return Error::msg(fmt::format("syscall number {} out of range", nr));
    auto n = static_cast<std::uint32_t>(nr);
    if (n > next) push_simple(next, n - 1, policy.default_action);
    for (const auto& r : pol.rules)
      for (const auto& c : r.all_of)
        if (c.arg < 0 || c.arg > 5)
          return Error::msg(fmt::format("syscall {}: argument index {} is not 0..5", nr, c.arg));
    if (pol.rules.empty()) push_simple(n, n, pol.fallback);
    else segs.push_back({n, n, &pol, pol.fallback});
    next = n + 1;
  }
  if (next < kX32Bit) push_simple(next, kX32Bit - 1, policy.default_action);
  return segs;
}

// A conditional jump on one 32-bit half followed by a JA: the JA to `to_fail ? fail : pass` is
// taken when the comparison gives `when`, otherwise skipped.
struct Branch {
  std::uint16_t op;
  bool when;
  bool to_fail;
};

// How a comparison is made on the two halves of a 64-bit argument: one or two branches on the
// high half, then one on the low half. The low-half branch alone is the 32-bit comparison.
struct HalfBranches {
  Branch hi[2];
  int hi_count;
  Branch lo;
};

HalfBranches branches_for(ArgCondition::Op op) {
  using Op = ArgCondition::Op;
  switch (op) {
    case Op::kEq:
    case Op::kMaskedEq: return {{{BPF_JEQ, false, true}}, 1, {BPF_JEQ, false, true}};
    case Op::kNe: return {{{BPF_JEQ, false, false}}, 1, {BPF_JEQ, true, true}};
    case Op::kLt: return {{{BPF_JGT, true, true}, {BPF_JEQ, false, false}}, 2, {BPF_JGE, true, true}};
    case Op::kGe: return {{{BPF_JGT, true, false}, {BPF_JEQ, false, true}}, 2, {BPF_JGE, false, true}};
  }
  return {{{BPF_JEQ, false, true}}, 1, {BPF_JEQ, false, true}};
}

// Emits code that falls through when `c` holds and jumps to `fail` when it does not.
void emit_condition(Assembler& a, const ArgCondition& c, int fail) {
  HalfBranches b = branches_for(c.op);
  bool masked = c.op == ArgCondition::Op::kMaskedEq;
  int pass = a.new_label();
  auto half = [&](std::uint32_t offset, std::uint32_t value, std::uint32_t mask, const Branch* branches, int n) {
    a.load(offset);
    if (masked) {
      a.stmt(BPF_ALU | BPF_AND | BPF_K, mask);
      value &= mask;
    }
    for (int i = 0; i < n; ++i) {
      a.jump(branches[i].op, value, branches[i].when ? 0 : 1, branches[i].when ? 1 : 0);
      a.ja(branches[i].to_fail ? fail : pass);
    }
  };
  if (c.width != ArgCondition::Width::k32)
    half(arg_hi(c.arg), static_cast<std::uint32_t>(c.value >> 32), static_cast<std::uint32_t>(c.mask >> 32), b.hi,
         b.hi_count);
  half(arg_lo(c.arg), static_cast<std::uint32_t>(c.value), static_cast<std::uint32_t>(c.mask), &b.lo, 1);
  a.bind(pass);
}

void emit_leaf(Assembler& a, const Segment& s) {
  if (!s.rules) {
    a.ret(seccomp_return(s.action));
    return;
  }
  for (const auto& rule : s.rules->rules) {
    int next = a.new_label();
    for (const auto& c : rule.all_of) emit_condition(a, c, next);
    a.ret(seccomp_return(Action{rule.route, static_cast<std::uint16_t>(rule.errno_value)}));
    a.bind(next);
  }
  a.ret(seccomp_return(s.action));
}

// Binary search over segs[l..r] (the accumulator holds nr on entry to every node).
void emit_tree(Assembler& a, const std::vector<Segment>& segs, std::size_t l, std::size_t r) {
  if (l == r) {
    emit_leaf(a, segs[l]);
    return;
  }
  std::size_t mid = (l + r + 1) / 2;
  int right = a.new_label();
  a.jump(BPF_JGE, segs[mid].lo, 0, 1);
  a.ja(right);
  emit_tree(a, segs, l, mid - 1);
  a.bind(right);
  emit_tree(a, segs, mid, r);
}

}  // namespace

std::uint32_t seccomp_return(const Action& a) noexcept {
  switch (a.route) {
    case Route::kAllow: return SECCOMP_RET_ALLOW;
    case Route::kErrno: return SECCOMP_RET_ERRNO | (a.data & SECCOMP_RET_DATA);
    case Route::kNotify: return SECCOMP_RET_USER_NOTIF;
    case Route::kTrace: return SECCOMP_RET_TRACE | (a.data & SECCOMP_RET_DATA);
  }
  return SECCOMP_RET_KILL_PROCESS;
}

Result<BpfProgram> compile_filter(const FilterPolicy& policy) {
  Assembler a;
  a.load(kOffArch);
  a.jump(BPF_JEQ, kArchX86_64, 1, 0);
  a.ret(seccomp_return(policy.foreign_arch_action));
  a.load(kOffNr);
  a.jump(BPF_JGE, kX32Bit, 0, 1);
  a.ret(seccomp_return(policy.x32_action));
  LX_TRY_ASSIGN(segs, make_segments(policy));
  emit_tree(a, segs, 0, segs.size() - 1);
  LX_TRY_ASSIGN(prog, a.finish());
  if (prog.size() > BPF_MAXINSNS)
    return Error::msg(fmt::format("seccomp filter has {} instructions, more than {}", prog.size(), BPF_MAXINSNS));
  return prog;
}

std::string disassemble(const BpfProgram& prog) {
  auto ret_text = [](std::uint32_t k) -> std::string {
    switch (k & SECCOMP_RET_ACTION_FULL) {
      case SECCOMP_RET_ALLOW: return "ALLOW";
      case SECCOMP_RET_ERRNO: return fmt::format("ERRNO({})", k & SECCOMP_RET_DATA);
      case SECCOMP_RET_USER_NOTIF: return "USER_NOTIF";
      case SECCOMP_RET_TRACE: return fmt::format("TRACE({})", k & SECCOMP_RET_DATA);
      case SECCOMP_RET_KILL_PROCESS: return "KILL_PROCESS";
      case SECCOMP_RET_KILL_THREAD: return "KILL_THREAD";
      default: return fmt::format("{:#x}", k);
    }
  };
  std::string out;
  for (std::size_t i = 0; i < prog.size(); ++i) {
    const sock_filter& f = prog[i];
    std::string s;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD: s = fmt::format("ld [{}]", f.k); break;
      case BPF_ALU: s = fmt::format("alu {:#x} #{:#x}", BPF_OP(f.code), f.k); break;
      case BPF_RET: s = "ret " + ret_text(f.k); break;
      case BPF_JMP:
        if (BPF_OP(f.code) == BPF_JA) {
          s = fmt::format("ja {}", i + 1 + f.k);
        } else {
          const char* op = BPF_OP(f.code) == BPF_JEQ ? "jeq" : BPF_OP(f.code) == BPF_JGE ? "jge"
                         : BPF_OP(f.code) == BPF_JGT ? "jgt" : "jset";
          s = fmt::format("{} #{:#x} jt {} jf {}", op, f.k, i + 1 + f.jt, i + 1 + f.jf);
        }
        break;
      default: s = fmt::format("op {:#x} k {:#x}", f.code, f.k);
    }
    out += fmt::format("{:4}: {}\n", i, s);
  }
  return out;
}

}  // namespace lx::driver
