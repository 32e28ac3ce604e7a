// Host-side error handling: Error (errno + the failed call's text) and Result<T>, a small
// std::expected-like type. Guest errors are sdk::SyscallResult; never mix the two.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace lx {

/// A host error: the errno (0 when none applies) and one line naming what failed and why.
struct Error {
  int code = 0;          ///< errno, or 0
  std::string message;   ///< e.g. "ptrace(PTRACE_SEIZE, pid=42) failed: Operation not permitted"

  /// An error for a failed system call: "<call> failed: <strerror(code)>".
  static Error from_errno(std::string call, int code = errno);
  /// An error with a message and no errno.
  static Error msg(std::string message);
};

/// Either a T or an Error.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  /// Whether a value is held.
  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  /// The value (must be ok()).
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  /// The error (must be !ok()).
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation with no value.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }

 private:
  Error err_;
  bool ok_ = true;
};

/// Shorthand for a successful Result<void>.
inline Result<void> ok() { return {}; }

}  // namespace lx

/// Propagation: evaluates `expr` (a Result<void>) and returns its error from the enclosing
/// function (which returns some Result<U>) when it failed.
///   LX_TRY(write_all(fd, data));
#define LX_TRY(expr)                                          \
  do {                                                        \
    auto&& lx_try_result_ = (expr);                           \
    if (!lx_try_result_.ok()) return std::move(lx_try_result_).error(); \
  } while (0)

/// Propagation with a value: declares `var` from `expr` (a Result<T>), or returns its error from
/// the enclosing function when it failed.
///   LX_TRY_ASSIGN(fd, open_dir(path));   // fd is a T
#define LX_TRY_ASSIGN(var, expr)                              \
  auto&& var##_result_ = (expr);                              \
  if (!var##_result_.ok()) return std::move(var##_result_).error(); \
  auto var = std::move(var##_result_).value()

/// Propagation into an existing lvalue: assigns `lhs` from `expr` (a Result<T>), or returns its
/// error from the enclosing function when it failed.
///   LX_TRY_ASSIGN_TO(options.root, parse_root(j));
#define LX_TRY_ASSIGN_TO(lhs, expr)                                          \
  do {                                                                       \
    auto&& lx_try_result_ = (expr);                                          \
    if (!lx_try_result_.ok()) return std::move(lx_try_result_).error();     \
    (lhs) = std::move(lx_try_result_).value();                               \
  } while (0)
