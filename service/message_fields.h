// How a message of the control protocol maps to JSON, written once for all of them: each message
// (or record inside one) lists its fields in one table, `static constexpr auto fields()`
// returning field("key", &Type::member[, bound]) for each, the bound being what a client may send
// (MaxBytes, IntRange, SignalNumbers, OneOf). write_fields() turns the table into a JSON object;
// read_fields() reads one back, checking every field's type and bound and naming the first bad
// one ("malformed request: 'cols' is not an integer from 0 to 65535"). A missing or null field
// keeps the member's default. messages.h declares the messages.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "protocol.h"

namespace lx::service {

/// The longest a string field may be, in bytes (kMaxString when not given).
struct MaxBytes {
  std::size_t n;
};
/// The range of an integer field (the member type's own when not given).
struct IntRange {
  long long lo, hi;
};
/// A list of signal numbers: each from 1 to kMaxSignal, at most kMaxSignal of them.
struct SignalNumbers {};
/// A string that is one of a closed set of words (a backend's name, ...).
struct OneOf {
  std::span<const std::string_view> words;
};
/// No bound beyond the member's type.
struct NoBound {};

/// One row of a field table: the key, the member, its bound.
template <class M, class T, class B = NoBound>
struct FieldSpec {
  const char* key;
  T M::*member;
  B bound{};
};
template <class M, class T>
constexpr FieldSpec<M, T> field(const char* key, T M::*member) {
  return {key, member};
}
template <class M, class T, class B>
constexpr FieldSpec<M, T, B> field(const char* key, T M::*member, B bound) {
  return {key, member, bound};
}

/// A type with a field table (a message, or a record inside one).
template <class T>
concept Record = requires { T::fields(); };

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
struct IsRecordList : std::false_type {};
template <Record T>
struct IsRecordList<std::vector<T>> : std::true_type {};

/// A field being read: what it is part of ("request", "reply", "event") and its key.
struct FieldName {
  std::string_view what;
  std::string_view key;
  /// "malformed <what>: '<key>' <why>" (EBADMSG).
  Error bad(std::string_view why) const;
};

// One JSON value into a member, checked against its type and bound.
Result<void> read_value(const nlohmann::json& j, const FieldName& f, std::string& out, MaxBytes max = {kMaxString});
inline Result<void> read_value(const nlohmann::json& j, const FieldName& f, std::string& out, OneOf one_of) {
  std::string words;
  for (std::string_view w : one_of.words) words += (words.empty() ? "" : ", ") + std::string(w);
  if (!j.is_string() || std::find(one_of.words.begin(), one_of.words.end(), j.get_ref<const std::string&>()) == one_of.words.end())
    return f.bad("is not one of " + words);
  out = j.get<std::string>();
  return ok();
}
Result<void> read_value(const nlohmann::json& j, const FieldName& f, bool& out);
Result<void> read_value(const nlohmann::json& j, const FieldName& f, int& out, IntRange range = {INT_MIN, INT_MAX});
Result<void> read_value(const nlohmann::json& j, const FieldName& f, long long& out,
                        IntRange range = {LLONG_MIN, LLONG_MAX});
Result<void> read_value(const nlohmann::json& j, const FieldName& f, unsigned long& out);
Result<void> read_value(const nlohmann::json& j, const FieldName& f, std::vector<std::string>& out);
Result<void> read_value(const nlohmann::json& j, const FieldName& f, std::vector<int>& out, SignalNumbers);
template <Record T>
Result<void> read_value(const nlohmann::json& j, const FieldName& f, T& out);
template <Record T>
Result<void> read_value(const nlohmann::json& j, const FieldName& f, std::vector<T>& out);
template <class T, class... Bound>
Result<void> read_value(const nlohmann::json& j, const FieldName& f, std::optional<T>& out, const Bound&... bound) {
  out.emplace();
  return read_value(j, f, *out, bound...);
}

/// Reads one row of `out`'s table from `object`.
template <class M, class T, class B, class Out>
Result<void> read_field(const nlohmann::json& object, std::string_view what, const FieldSpec<M, T, B>& spec, Out& out) {
  auto it = object.find(spec.key);
  if (it == object.end() || it->is_null()) return ok();
  FieldName name{what, spec.key};
  if constexpr (std::is_same_v<B, NoBound>) return read_value(*it, name, out.*spec.member);
  else return read_value(*it, name, out.*spec.member, spec.bound);
}

/// Reads `out`'s fields from `object` (a JSON object), as part of a `what`; the first bad field
/// is the error.
template <Record M>
Result<void> read_fields(const nlohmann::json& object, std::string_view what, M& out) {
  Result<void> result;
  std::apply([&](const auto&... spec) { (void)((result = read_field(object, what, spec, out)).ok() && ...); },
             M::fields());
  return result;
}

template <Record T>
Result<void> read_value(const nlohmann::json& j, const FieldName& f, T& out) {
  if (!j.is_object()) return f.bad("is not an object");
  return read_fields(j, f.what, out);
}

template <Record T>
Result<void> read_value(const nlohmann::json& j, const FieldName& f, std::vector<T>& out) {
  if (!j.is_array()) return f.bad("is not an array of objects");
  out.clear();
  for (const auto& e : j) {
    T item;
    LX_TRY(read_value(e, f, item));
    out.push_back(std::move(item));
  }
  return ok();
}

template <class T>
nlohmann::json to_json_value(const T& value);

/// Writes `m`'s fields into `object`; an empty optional is left out.
template <Record M>
void write_fields(const M& m, nlohmann::json& object) {
  auto write = [&](const auto& spec) {
    const auto& member = m.*spec.member;
    if constexpr (IsOptional<std::decay_t<decltype(member)>>::value) {
      if (member) object[spec.key] = to_json_value(*member);
    } else {
      object[spec.key] = to_json_value(member);
    }
  };
  std::apply([&](const auto&... spec) { (write(spec), ...); }, M::fields());
}

/// A member as JSON: a Record as an object of its fields, a list of them as an array.
template <class T>
nlohmann::json to_json_value(const T& value) {
  if constexpr (Record<T>) {
    nlohmann::json object = nlohmann::json::object();
    write_fields(value, object);
    return object;
  } else if constexpr (IsRecordList<T>::value) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& e : value) array.push_back(to_json_value(e));
    return array;
  } else {
    return nlohmann::json(value);
  }
}

}  // namespace lx::service
