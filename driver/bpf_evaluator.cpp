// evaluate_filter: a classic-BPF interpreter for the instructions seccomp filters use.
#include "driver/bpf_evaluator.h"

#include <cstring>

#include <fmt/format.h>

namespace lx::driver {

namespace {

// BPF_ALU: applies `code`'s operation to `a`. False on a division by zero (the kernel returns 0).
Result<bool> alu(const sock_filter& f, std::uint32_t& a, std::uint32_t x, std::size_t pc) {
  std::uint32_t v = BPF_SRC(f.code) == BPF_X ? x : f.k;
  switch (BPF_OP(f.code)) {
    case BPF_ADD: a += v; break;
    case BPF_SUB: a -= v; break;
    case BPF_MUL: a *= v; break;
    case BPF_DIV:
      if (v == 0) return false;
      a /= v;
      break;
    case BPF_AND: a &= v; break;
    case BPF_OR: a |= v; break;
    case BPF_XOR: a ^= v; break;
    case BPF_LSH: a = v < 32 ? a << v : 0; break;
    case BPF_RSH: a = v < 32 ? a >> v : 0; break;
    case BPF_NEG: a = -a; break;
    default: return Error::msg(fmt::format("bpf: bad alu {:#x} at {}", f.code, pc));
  }
  return true;
}

// BPF_JMP: the index of the next instruction after the one at `pc`.
Result<std::size_t> jump_target(const sock_filter& f, std::uint32_t a, std::uint32_t x, std::size_t pc, std::size_t size) {
  std::size_t target;
  if (BPF_OP(f.code) == BPF_JA) {
    target = pc + 1 + f.k;
  } else {
    std::uint32_t v = BPF_SRC(f.code) == BPF_X ? x : f.k;
    bool cond;
    switch (BPF_OP(f.code)) {
      case BPF_JEQ: cond = a == v; break;
      case BPF_JGT: cond = a > v; break;
      case BPF_JGE: cond = a >= v; break;
      case BPF_JSET: cond = (a & v) != 0; break;
      default: return Error::msg(fmt::format("bpf: bad jump {:#x} at {}", f.code, pc));
    }
    target = pc + 1 + (cond ? f.jt : f.jf);
  }
  if (target >= size) return Error::msg(fmt::format("bpf: jump out of the program at {}", pc));
  return target;
}

// BPF_LD: the value loaded into the accumulator.
Result<std::uint32_t> load(const sock_filter& f, const seccomp_data& data, const std::uint32_t* mem, std::size_t pc) {
  std::uint32_t a = 0;
  if (f.code == (BPF_LD | BPF_W | BPF_ABS)) {
    if (f.k % 4 != 0 || f.k + 4 > sizeof(seccomp_data))
      return Error::msg(fmt::format("bpf: load of offset {} at {}", f.k, pc));
    std::memcpy(&a, reinterpret_cast<const char*>(&data) + f.k, 4);
  } else if (f.code == (BPF_LD | BPF_IMM)) {
    a = f.k;
  } else if (f.code == (BPF_LD | BPF_MEM) && f.k < BPF_MEMWORDS) {
    a = mem[f.k];
  } else {
    return Error::msg(fmt::format("bpf: bad load {:#x} at {}", f.code, pc));
  }
  return a;
}

}  // namespace

Result<std::uint32_t> evaluate_filter(const BpfProgram& prog, const seccomp_data& data, std::size_t* executed) {
  std::uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  std::size_t count = 0;
  for (std::size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    ++count;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD: {
        LX_TRY_ASSIGN(loaded, load(f, data, mem, pc));
        a = loaded;
        break;
      }
      case BPF_LDX:
        if (f.code == (BPF_LDX | BPF_IMM)) x = f.k;
        else if (f.code == (BPF_LDX | BPF_MEM) && f.k < BPF_MEMWORDS) x = mem[f.k];
        else return Error::msg(fmt::format("bpf: bad ldx {:#x} at {}", f.code, pc));
        break;
      case BPF_ST:
        if (f.k >= BPF_MEMWORDS) return Error::msg("bpf: bad st");
        mem[f.k] = a;
        break;
      case BPF_STX:
        if (f.k >= BPF_MEMWORDS) return Error::msg("bpf: bad stx");
        mem[f.k] = x;
        break;
      case BPF_ALU: {
        LX_TRY_ASSIGN(divided, alu(f, a, x, pc));
        if (!divided) return 0u;  // division by zero: the kernel returns 0 (kill)
        break;
      }
      case BPF_JMP: {
        LX_TRY_ASSIGN(target, jump_target(f, a, x, pc, prog.size()));
        pc = target - 1;
        break;
      }
      case BPF_RET:
        if (executed) *executed = count;
        return BPF_RVAL(f.code) == BPF_A ? a : f.k;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) == BPF_TAX) x = a;
        else a = x;
        break;
      default:
        return Error::msg(fmt::format("bpf: bad instruction {:#x} at {}", f.code, pc));
    }
  }
  return Error::msg("bpf: program ends without a return");
}

seccomp_data make_seccomp_data(int nr, std::uint64_t a0, std::uint64_t a1, std::uint64_t a2, std::uint64_t a3,
                               std::uint64_t a4, std::uint64_t a5, std::uint32_t arch) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  d.args[0] = a0;
  d.args[1] = a1;
  d.args[2] = a2;
  d.args[3] = a3;
  d.args[4] = a4;
  d.args[5] = a5;
  return d;
}

}  // namespace lx::driver
