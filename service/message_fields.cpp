// The checked reading of one field of a message: its type, then its bound; the error names the
// field and the bound it broke.
#include "message_fields.h"

#include <fmt/format.h>

namespace lx::service {

using nlohmann::json;

Error FieldName::bad(std::string_view why) const {
  return Error{EBADMSG, fmt::format("malformed {}: '{}' {}", what, key, why)};
}

Result<void> read_value(const json& j, const FieldName& f, std::string& out, MaxBytes max) {
  if (!j.is_string()) return f.bad("is not a string");
  const auto& s = j.get_ref<const std::string&>();
  if (s.size() > max.n) return f.bad(fmt::format("is longer than {} bytes", max.n));
  if (s.find('\0') != std::string::npos) return f.bad("contains a NUL byte");
  out = s;
  return ok();
}

Result<void> read_value(const json& j, const FieldName& f, bool& out) {
  if (!j.is_boolean()) return f.bad("is not true or false");
  out = j.get<bool>();
  return ok();
}

Result<void> read_value(const json& j, const FieldName& f, long long& out, IntRange range) {
  if (!j.is_number_integer() || j.get<long long>() < range.lo || j.get<long long>() > range.hi)
    return f.bad(fmt::format("is not an integer from {} to {}", range.lo, range.hi));
  out = j.get<long long>();
  return ok();
}

Result<void> read_value(const json& j, const FieldName& f, int& out, IntRange range) {
  long long v = 0;
  LX_TRY(read_value(j, f, v, range));
  out = static_cast<int>(v);
  return ok();
}

Result<void> read_value(const json& j, const FieldName& f, unsigned long& out) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<long long>() >= 0))
    return f.bad(fmt::format("is not an integer from 0 to {}", static_cast<unsigned long>(-1)));
  out = j.get<unsigned long>();
  return ok();
}

Result<void> read_value(const json& j, const FieldName& f, std::vector<std::string>& out) {
  if (!j.is_array()) return f.bad("is not an array of strings");
  if (j.size() > kMaxItems) return f.bad(fmt::format("has more than {} entries (kMaxItems)", kMaxItems));
  out.clear();
  for (const auto& v : j) {
    if (!v.is_string()) return f.bad("is not an array of strings");
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() > kMaxString) return f.bad(fmt::format("has a string longer than {} bytes (kMaxString)", kMaxString));
    if (s.find('\0') != std::string::npos) return f.bad("has a string with a NUL byte");
    out.push_back(s);
  }
  return ok();
}

Result<void> read_value(const json& j, const FieldName& f, std::vector<int>& out, SignalNumbers) {
  if (!j.is_array()) return f.bad("is not an array of signal numbers");
  if (j.size() > static_cast<std::size_t>(kMaxSignal)) return f.bad(fmt::format("has more than {} entries", kMaxSignal));
  out.clear();
  for (const auto& v : j) {
    if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > kMaxSignal)
      return f.bad(fmt::format("has an entry that is not a signal number (1 to {})", kMaxSignal));
    out.push_back(v.get<int>());
  }
  return ok();
}

}  // namespace lx::service
