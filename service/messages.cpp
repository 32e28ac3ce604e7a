// The envelopes of the control protocol's messages: the only place their keys are written.
#include "messages.h"

#include <fmt/format.h>

namespace lx::service {

using nlohmann::json;

namespace {

constexpr const char* kVersionKey = "v";
constexpr const char* kCommandKey = "cmd";
constexpr const char* kEventKey = "event";
constexpr const char* kOkKey = "ok";
constexpr const char* kErrorKey = "error";
// The longest name of a command or event.
constexpr std::size_t kMaxName = 64;

// A request's protocol version: anything but kProtocolVersion is refused (EPROTO).
Result<void> check_version(const json& body) {
  auto v = body.find(kVersionKey);
  if (v != body.end() && v->is_number_integer() && v->get<long long>() == kProtocolVersion) return ok();
  std::string got = v == body.end()            ? "none"
                    : v->is_number_integer() ? std::to_string(v->get<long long>())
                                             : "not a number";
  return Error{EPROTO, fmt::format("protocol version {} is not supported (lxhostd speaks {}); restart the service "
                                   "with 'lx service stop'",
                                   got, kProtocolVersion)};
}

}  // namespace

std::string_view doing(StoreOp op) {
  constexpr std::string_view kDoing[] = {"installing", "importing", "exporting", "uninstalling"};
  return kDoing[static_cast<int>(op)];
}

json envelope(Envelope e, std::string_view name) {
  switch (e) {
    case Envelope::kRequest:
      return json{{kVersionKey, kProtocolVersion}, {kCommandKey, name}};
    case Envelope::kCommand:
      return json{{kCommandKey, name}};
    case Envelope::kEvent:
      return json{{kEventKey, name}};
    case Envelope::kReply:
      return json{{kOkKey, true}};
    case Envelope::kError:
      break;
  }
  return json::object();
}

std::string_view envelope_what(Envelope e) {
  switch (e) {
    case Envelope::kRequest:
    case Envelope::kCommand:
      return "request";
    case Envelope::kEvent:
      return "event";
    case Envelope::kReply:
    case Envelope::kError:
      break;
  }
  return "reply";
}

Result<std::string> message_name(const json& body, Envelope e) {
  std::string_view what = envelope_what(e);
  if (!body.is_object()) return Error{EBADMSG, fmt::format("malformed {}: not a JSON object", what)};
  if (e == Envelope::kRequest) LX_TRY(check_version(body));
  const char* key = e == Envelope::kEvent ? kEventKey : kCommandKey;
  std::string name;
  auto it = body.find(key);
  if (it != body.end() && !it->is_null()) LX_TRY(read_value(*it, FieldName{what, key}, name, MaxBytes{kMaxName}));
  return name;
}

Error unknown_message(Envelope e, const std::string& name) {
  if (e == Envelope::kRequest) return Error{EINVAL, fmt::format("unknown command '{}' (list-commands lists them)", name)};
  return Error{EINVAL, fmt::format("unknown {} '{}'", e == Envelope::kEvent ? "event" : "command", name)};
}

Error too_many_fds(std::string_view name, std::size_t max, std::size_t fds) {
  return Error{EBADMSG, fmt::format("malformed request: '{}' passes at most {} fds, not {}", name, max, fds)};
}

bool is_event(const json& body) { return body.is_object() && body.contains(kEventKey); }

Result<json> check_request(const json& request, std::size_t fds) {
  LX_TRY_ASSIGN(checked, decode_message<AnyRequest>(request, fds));
  return std::visit([](const auto& m) { return encode(m); }, checked);
}

std::optional<Error> reply_error(const json& reply) {
  if (!reply.is_object()) return std::nullopt;
  auto it = reply.find(kErrorKey);
  if (it == reply.end() || !it->is_string() || is_event(reply)) return std::nullopt;
  auto e = decode<ErrorReply>(reply);
  if (!e) return Error{0, it->get<std::string>()};
  return Error{e->code, e->error};
}

}  // namespace lx::service
