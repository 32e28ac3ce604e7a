// SDK: argument policies, read as Chromium's bpf_dsl reads: what the kernel decides from a
// syscall's integer arguments before any plugin sees the call.
//
//   using namespace lx::sdk::policy;
//   If(Arg<int>(0) == AF_INET, Allow()).ElseIf(Arg<int>(0) == AF_UNIX, Notify()).Else(Error(EAFNOSUPPORT))
//   If((Arg<int>(1) & O_ACCMODE) == O_RDONLY, Allow()).Else(Notify())
//
// A Policy is a list of ArgRules tried in order (the first whose conditions all hold wins) and the
// route taken when none holds; the filter compiler turns it into BPF. Arg<T> compares 32 bits for
// a T of 4 bytes or less (an `int` argument: the kernel ignores the high half), 64 otherwise.
#pragma once

#include <cerrno>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include <lxhost/syscall_context.h>

namespace lx::sdk {

/// A comparison of one integer syscall argument, evaluated by the kernel in the BPF filter.
struct ArgCondition {
  /// The comparison.
  enum class Op : std::uint8_t {
    kEq,        ///< arg == value
    kNe,        ///< arg != value
    kLt,        ///< arg < value (unsigned)
    kGe,        ///< arg >= value (unsigned)
    kMaskedEq,  ///< (arg & mask) == value
  };
  /// Which argument is compared.
  enum class Width : std::uint8_t {
    k32,  ///< the low 32 bits only (an `int` argument: the kernel ignores the high half)
    k64,  ///< the whole 64-bit register
  };
  int arg = 0;               ///< argument index, 0..5
  Op op = Op::kEq;           ///< comparison
  std::uint64_t value = 0;   ///< right-hand side
  std::uint64_t mask = ~0ull;  ///< for kMaskedEq
  Width width = Width::k32;  ///< compared width
};

/// A rule on integer arguments: when all conditions hold, the call takes `route` (and `errno_value`
/// for Route::kErrno). Rules of a syscall are tried in order; the first that matches wins.
struct ArgRule {
  std::vector<ArgCondition> all_of;  ///< conditions that must all hold (empty: always)
  Route route = Route::kAllow;       ///< route when they hold
  int errno_value = 0;               ///< errno for Route::kErrno
};

/// The route of one decision: a route, and the errno for Route::kErrno.
struct Decision {
  Route route = Route::kNotify;  ///< the route
  int errno_value = 0;           ///< errno for Route::kErrno
};

/// How the kernel routes one syscall: `rules` tried in order, then `otherwise`.
struct Policy {
  std::vector<ArgRule> rules;  ///< kernel-side rules, first match wins
  Decision otherwise;          ///< when no rule matches
  Policy() = default;
  Policy(Decision d) : otherwise(d) {}  // NOLINT: a bare decision is a policy without rules
};

namespace policy {

/// Argument `index` of the call, compared as a T (see the file comment for the width).
template <class T>
struct Arg {
  static_assert(std::is_integral_v<T> || std::is_enum_v<T>, "Arg<T> compares integer arguments");
  explicit constexpr Arg(int i) : index(i) {}
  int index;  ///< 0..5
  /// The compared width for T.
  static constexpr ArgCondition::Width width() {
    return sizeof(T) <= 4 ? ArgCondition::Width::k32 : ArgCondition::Width::k64;
  }
  /// The bits of `v` the filter compares (a negative int compares as its 32-bit pattern).
  static constexpr std::uint64_t bits(T v) {
    auto u = static_cast<std::uint64_t>(v);
    return sizeof(T) <= 4 ? (u & 0xffffffffull) : u;
  }
};

/// A conjunction of argument comparisons.
struct Condition {
  std::vector<ArgCondition> all_of;  ///< every comparison must hold
};

/// `arg & mask`, to be compared with ==.
template <class T>
struct Masked {
  Arg<T> arg;          ///< the argument
  std::uint64_t mask;  ///< the bits kept
};

template <class T>
Condition operator==(Arg<T> a, T v) {
  return {{ArgCondition{a.index, ArgCondition::Op::kEq, Arg<T>::bits(v), ~0ull, Arg<T>::width()}}};
}
template <class T>
Condition operator!=(Arg<T> a, T v) {
  return {{ArgCondition{a.index, ArgCondition::Op::kNe, Arg<T>::bits(v), ~0ull, Arg<T>::width()}}};
}
/// Unsigned comparison.
template <class T>
Condition operator<(Arg<T> a, T v) {
  return {{ArgCondition{a.index, ArgCondition::Op::kLt, Arg<T>::bits(v), ~0ull, Arg<T>::width()}}};
}
/// Unsigned comparison.
template <class T>
Condition operator>=(Arg<T> a, T v) {
  return {{ArgCondition{a.index, ArgCondition::Op::kGe, Arg<T>::bits(v), ~0ull, Arg<T>::width()}}};
}
template <class T>
Masked<T> operator&(Arg<T> a, T mask) {
  return {a, Arg<T>::bits(mask)};
}
template <class T>
Condition operator==(Masked<T> m, T v) {
  return {{ArgCondition{m.arg.index, ArgCondition::Op::kMaskedEq, Arg<T>::bits(v), m.mask, Arg<T>::width()}}};
}
/// Both conditions.
inline Condition operator&&(Condition a, const Condition& b) {
  a.all_of.insert(a.all_of.end(), b.all_of.begin(), b.all_of.end());
  return a;
}

/// Native passthrough, decided in the kernel.
constexpr Decision Allow() { return {Route::kAllow, 0}; }
/// Fails with errno `e`, decided in the kernel.
constexpr Decision Error(int e) { return {Route::kErrno, e}; }
/// Completed by the plugin's handler through seccomp user notification.
constexpr Decision Notify() { return {Route::kNotify, 0}; }
/// Handled by the plugin's handler at a ptrace seccomp stop.
constexpr Decision Trace() { return {Route::kTrace, 0}; }

/// A chain of If/ElseIf rules waiting for its Else.
class Chain {
 public:
  Chain(Condition c, Decision d) { ElseIf(std::move(c), d); }
  /// Another rule, tried when the earlier ones did not match.
  Chain& ElseIf(Condition c, Decision d) {
    rules_.push_back(ArgRule{std::move(c.all_of), d.route, d.errno_value});
    return *this;
  }
  /// The route when no rule matched: the finished policy.
  Policy Else(Decision d) const {
    Policy p;
    p.rules = rules_;
    p.otherwise = d;
    return p;
  }

 private:
  std::vector<ArgRule> rules_;
};

/// The first rule of a policy.
inline Chain If(Condition c, Decision d) { return Chain(std::move(c), d); }

}  // namespace policy
}  // namespace lx::sdk
