// The messages of the control protocol, each a struct whose JSON mapping is its field table
// (message_fields.h), and the envelopes that carry them, written once: a client's request to
// lxhostd ({"v": 1, "cmd": ...}), lxhostd's commands to an instance and a launch client's to its
// instance ({"cmd": ...}), events ({"event": ...}) and final replies ({"ok": true, ...} or
// {"error": ..., "errno": ...}). encode() and decode_message() are all that read or write them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "message_fields.h"
#include "protocol.h"

namespace lx::service {

/// How a message is wrapped on the wire.
enum class Envelope {
  kRequest,  ///< a client's request to lxhostd: {"v": kProtocolVersion, "cmd": name, fields...}
  kCommand,  ///< lxhostd to an instance, or a launch's client to it: {"cmd": name, fields...}
  kEvent,    ///< news before the reply, or from an instance to lxhostd: {"event": name, fields...}
  kReply,    ///< a final answer: {"ok": true, fields...}
  kError,    ///< a final answer when the request failed: {"error": ..., "errno": ...}
};

/// A message's name in its envelope, as a template argument.
template <std::size_t N>
struct Name {
  char text[N];
  constexpr Name(const char (&s)[N]) { std::copy_n(s, N, text); }  // NOLINT: implicit by design
  constexpr std::string_view view() const { return {text, N - 1}; }
};

/// What every message has: its envelope, its name in it, the fds it may come with (`Fds`), and a
/// field table (none here).
template <Envelope E, Name N = "", std::size_t Fds = 0>
struct Message {
  static constexpr Envelope kEnvelope = E;
  static constexpr std::string_view kName = N.view();
  static constexpr std::size_t kMaxFds = Fds;
  static constexpr auto fields() { return std::tuple<>{}; }
  bool operator==(const Message&) const = default;
};
template <Name N, std::size_t Fds = 0>
using Request = Message<Envelope::kRequest, N, Fds>;
template <Name N, std::size_t Fds = 0>
using Command = Message<Envelope::kCommand, N, Fds>;
template <Name N>
using Event = Message<Envelope::kEvent, N>;
using Reply = Message<Envelope::kReply>;

// --- A client's requests to lxhostd, in the order list-commands gives them.

struct PingRequest : Request<"ping"> {};
struct ListCommandsRequest : Request<"list-commands"> {};
/// `lx run`: passed with the client's stdin, stdout and stderr.
struct RunRequest : Request<"run", kMaxLaunchFds> {
  std::string distro;  ///< "" for the default distro (or the host root)
  std::string cwd;     ///< the client's working directory
  std::string cd;      ///< --cd
  std::string user;    ///< -u
  std::vector<std::string> argv, env, sets;
  std::vector<int> ignored_signals, blocked_signals;
  bool tty = false;          ///< a pseudo-terminal for the guest
  bool stderr_tty = true;    ///< its stderr too
  int rows = 24, cols = 80;  ///< the terminal's size
  static constexpr auto fields() {
    using R = RunRequest;
    return std::tuple{field("distro", &R::distro), field("cwd", &R::cwd), field("cd", &R::cd), field("user", &R::user),
                      field("argv", &R::argv), field("env", &R::env), field("sets", &R::sets),
                      field("ignored_signals", &R::ignored_signals, SignalNumbers{}),
                      field("blocked_signals", &R::blocked_signals, SignalNumbers{}), field("tty", &R::tty),
                      field("stderr_tty", &R::stderr_tty), field("rows", &R::rows, IntRange{0, 65535}),
                      field("cols", &R::cols, IntRange{0, 65535})};
  }
  bool operator==(const RunRequest&) const = default;
};
struct StatusRequest : Request<"status"> {};
/// A request naming one distro: terminate (its instance; "" the host's), default (sets it).
template <Name N>
struct DistroRequest : Request<N> {
  std::string distro;
  static constexpr auto fields() { return std::tuple{field("distro", &DistroRequest::distro)}; }
};
using TerminateRequest = DistroRequest<"terminate">;
using DefaultRequest = DistroRequest<"default">;
struct ShutdownRequest : Request<"shutdown"> {};
/// The operations on the install state.
enum class StoreOp { kInstall, kImport, kExport, kUninstall };
/// What an operation is doing, as `lx list` and a progress line say it: "installing", ...
std::string_view doing(StoreOp op);
/// install, import, export, uninstall: a distro and a path (the tarball or directory).
template <StoreOp Op, Name N>
struct StoreRequest : Request<N> {
  static constexpr StoreOp kOp = Op;
  std::string distro, path;
  static constexpr auto fields() {
    return std::tuple{field("distro", &StoreRequest::distro), field("path", &StoreRequest::path)};
  }
};
using InstallRequest = StoreRequest<StoreOp::kInstall, "install">;
using ImportRequest = StoreRequest<StoreOp::kImport, "import">;
using ExportRequest = StoreRequest<StoreOp::kExport, "export">;
using UninstallRequest = StoreRequest<StoreOp::kUninstall, "uninstall">;
struct ListRequest : Request<"list"> {};

/// Every request lxhostd serves.
using AnyRequest = std::variant<PingRequest, ListCommandsRequest, RunRequest, StatusRequest, TerminateRequest,
                                ShutdownRequest, InstallRequest, ImportRequest, ExportRequest, UninstallRequest,
                                ListRequest, DefaultRequest>;

// --- lxhostd's commands to an instance (init first), and a launch client's to it.

/// The instance's name, root and config layers, in the order they merge (InstanceProcess::init).
struct InitCommand : Command<"init"> {
  std::string name = "default";
  std::string rootfs;  ///< "" or "/": the host root
  std::string system_config_dir = "/etc/lxhost";
  std::vector<std::string> service_sets;  ///< under the distro's config
  std::string distro_config;              ///< the distro's lxhost.toml, "" for none
  std::vector<std::string> root_sets;     ///< over it (its rootfs: the user's --set cannot move it)
  std::vector<std::string> sets;          ///< the user's --set
  static constexpr auto fields() {
    using C = InitCommand;
    return std::tuple{field("name", &C::name), field("rootfs", &C::rootfs),
                      field("system_config_dir", &C::system_config_dir), field("service_sets", &C::service_sets),
                      field("distro_config", &C::distro_config), field("root_sets", &C::root_sets),
                      field("sets", &C::sets)};
  }
};
/// A launch: passed with the client's connection, then its stdio fds.
struct LaunchCommand : Command<"launch", 1 + kMaxLaunchFds> {
  RunRequest request;
  static constexpr auto fields() { return std::tuple{field("request", &LaunchCommand::request)}; }
};
/// Asks for the instance's processes: answered by an InstanceStatusEvent with the same id.
struct StatusCommand : Command<"status"> {
  int id = 0;
  static constexpr auto fields() { return std::tuple{field("id", &StatusCommand::id)}; }
};
struct EndCommand : Command<"end"> {};
/// What lxhostd tells an instance.
using InstanceCommand = std::variant<InitCommand, LaunchCommand, StatusCommand, EndCommand>;

/// The one thing a launch's client sends its instance: a signal for the guest.
struct SignalCommand : Command<"signal"> {
  std::optional<long long> signal;
  static constexpr auto fields() { return std::tuple{field("signal", &SignalCommand::signal)}; }
};

// --- Events.

/// A request waits (for an install of its distro, for an instance to end).
struct WaitingEvent : Event<"waiting"> {
  std::string message;
  static constexpr auto fields() { return std::tuple{field("message", &WaitingEvent::message)}; }
};
/// How far an install, import or export is.
struct ProgressEvent : Event<"progress"> {
  std::uint64_t done = 0, total = 0, entries = 0;
  std::string current;
  static constexpr auto fields() {
    using P = ProgressEvent;
    return std::tuple{field("done", &P::done), field("total", &P::total), field("entries", &P::entries),
                      field("current", &P::current)};
  }
};
/// The launch's first process runs (passed with the pseudo-terminal's master when it has one).
struct StartedEvent : Event<"started"> {
  int pid = 0;
  static constexpr auto fields() { return std::tuple{field("pid", &StartedEvent::pid)}; }
};
/// The launch's first process exited: `status` as a shell gives it.
struct ExitEvent : Event<"exit"> {
  int status = 0, signal = 0, code = 0;
  static constexpr auto fields() {
    return std::tuple{field("status", &ExitEvent::status), field("signal", &ExitEvent::signal),
                      field("code", &ExitEvent::code)};
  }
};
/// The launch failed; `lx run` exits with `exit`.
struct ErrorEvent : Event<"error"> {
  std::string error;
  int exit = 125;
  static constexpr auto fields() { return std::tuple{field("error", &ErrorEvent::error), field("exit", &ErrorEvent::exit)}; }
};
/// What a client hears before its reply.
using ClientEvent = std::variant<WaitingEvent, ProgressEvent, StartedEvent, ExitEvent, ErrorEvent>;

/// No client is attached to the instance after `received` launches.
struct IdleEvent : Event<"idle"> {
  int received = -1;
  static constexpr auto fields() { return std::tuple{field("received", &IdleEvent::received)}; }
};
/// The instance ends (its process exits next).
struct EndedEvent : Event<"ended"> {};
/// One process of an instance, as `lx status` shows it.
struct ProcessInfo {
  int pid = 0, parent = 0, threads = 1, launch = 0;
  std::string state = "?", command;
  static constexpr auto fields() {
    using P = ProcessInfo;
    return std::tuple{field("pid", &P::pid), field("parent", &P::parent), field("threads", &P::threads),
                      field("launch", &P::launch), field("state", &P::state), field("command", &P::command)};
  }
};
/// The answer to a StatusCommand.
struct InstanceStatusEvent : Event<"status"> {
  int id = 0;
  std::vector<ProcessInfo> processes;
  int clients = 0;
  static constexpr auto fields() {
    using S = InstanceStatusEvent;
    return std::tuple{field("id", &S::id), field("processes", &S::processes), field("clients", &S::clients)};
  }
};
/// What an instance tells lxhostd after its InitReply.
using InstanceEvent = std::variant<IdleEvent, EndedEvent, InstanceStatusEvent>;

// --- Replies.

/// {"ok": true} alone: terminate, shutdown, export, uninstall.
struct DoneReply : Reply {};
struct PingReply : Reply {
  int pid = 0, protocol = 0;
  std::string socket, data_dir;
  static constexpr auto fields() {
    return std::tuple{field("pid", &PingReply::pid), field("protocol", &PingReply::protocol),
                      field("socket", &PingReply::socket), field("data_dir", &PingReply::data_dir)};
  }
};
struct CommandsReply : Reply {
  std::vector<std::string> commands;
  static constexpr auto fields() { return std::tuple{field("commands", &CommandsReply::commands)}; }
};
/// The backends an instance runs on, as the protocol names them (sdk::to_string(sdk::Backend)).
inline constexpr std::string_view kBackendNames[] = {"kernel", "emulated"};
/// One running instance, as `lx status` shows it.
struct InstanceInfo {
  std::string name, rootfs;
  std::string state;  ///< running, idle, ending, not answering
  int pid = 0;
  std::vector<ProcessInfo> processes;
  std::optional<int> clients;  ///< none when it did not answer
  std::optional<std::string> backend;  ///< one of kBackendNames, as its InitReply gave it
  std::string backend_why;             ///< why that one
  static constexpr auto fields() {
    using I = InstanceInfo;
    return std::tuple{field("name", &I::name), field("rootfs", &I::rootfs), field("state", &I::state),
                      field("pid", &I::pid), field("processes", &I::processes), field("clients", &I::clients),
                      field("backend", &I::backend, OneOf{kBackendNames}), field("backend_why", &I::backend_why)};
  }
};
struct StatusReply : Reply {
  std::vector<InstanceInfo> instances;
  int pid = 0;  ///< lxhostd's
  static constexpr auto fields() {
    return std::tuple{field("instances", &StatusReply::instances), field("pid", &StatusReply::pid)};
  }
};
/// install, import: the distro installed.
struct InstalledReply : Reply {
  std::uint64_t size = 0;
  std::string rootfs;
  bool is_default = false;
  static constexpr auto fields() {
    return std::tuple{field("size", &InstalledReply::size), field("rootfs", &InstalledReply::rootfs),
                      field("default", &InstalledReply::is_default)};
  }
};
/// One distro as `lx list` shows it; one still being installed has no source, time or rootfs.
struct DistroEntry {
  std::string name, state;
  std::uint64_t size = 0;
  bool is_default = false, running = false;
  std::optional<std::string> source, installed_at, rootfs;
  static constexpr auto fields() {
    using D = DistroEntry;
    return std::tuple{field("name", &D::name), field("state", &D::state), field("size", &D::size),
                      field("default", &D::is_default), field("running", &D::running), field("source", &D::source),
                      field("installed_at", &D::installed_at), field("rootfs", &D::rootfs)};
  }
};
struct ListReply : Reply {
  std::vector<DistroEntry> distros;
  static constexpr auto fields() { return std::tuple{field("distros", &ListReply::distros)}; }
};
struct DefaultReply : Reply {
  std::string name;  ///< "" when none
  static constexpr auto fields() { return std::tuple{field("default", &DefaultReply::name)}; }
};
/// Every answer lxhostd gives a request itself (a launch's come from its instance).
using DaemonReply = std::variant<PingReply, CommandsReply, StatusReply, DoneReply, InstalledReply, ListReply, DefaultReply>;

/// An instance's answer to InitCommand.
struct InitReply : Reply {
  int pid = 0;
  long long linger_ms = 0;  ///< -1: forever
  long long grace_ms = 2000;
  std::optional<std::string> backend;  ///< one of kBackendNames: what the instance runs on
  std::string backend_why;             ///< why (runtime::BackendChoice::why)
  static constexpr auto fields() {
    using I = InitReply;
    return std::tuple{field("pid", &I::pid), field("linger_ms", &I::linger_ms), field("grace_ms", &I::grace_ms),
                      field("backend", &I::backend, OneOf{kBackendNames}), field("backend_why", &I::backend_why)};
  }
};

/// The answer when a request failed.
struct ErrorReply : Message<Envelope::kError> {
  std::string error;
  int code = 0;  ///< errno
  static constexpr auto fields() { return std::tuple{field("error", &ErrorReply::error), field("errno", &ErrorReply::code)}; }
  static ErrorReply from(const Error& e) {
    ErrorReply r;
    r.error = e.message;
    r.code = e.code;
    return r;
  }
};

// --- Encoding and decoding.

/// The envelope of a message named `name` ({"v": 1, "cmd": name}, {"event": name}, {"ok": true}).
nlohmann::json envelope(Envelope e, std::string_view name);
/// What a message of envelope `e` is called in an error ("request", "event", "reply").
std::string_view envelope_what(Envelope e);
/// The name a frame gives in envelope `e`, checked (a request's version first: EPROTO).
Result<std::string> message_name(const nlohmann::json& body, Envelope e);
/// The error for a message `name` that is none of those expected (EINVAL).
Error unknown_message(Envelope e, const std::string& name);
/// The error for a message passed with more fds than it takes (EBADMSG).
Error too_many_fds(std::string_view name, std::size_t max, std::size_t fds);

/// Whether a frame is an event.
bool is_event(const nlohmann::json& body);

/// A message as the JSON of one frame.
template <class M>
nlohmann::json encode(const M& m) {
  nlohmann::json body = envelope(M::kEnvelope, M::kName);
  write_fields(m, body);
  return body;
}

/// A message of type M from a frame's JSON (its envelope already told which).
template <class M>
Result<M> decode(const nlohmann::json& body) {
  M m;
  LX_TRY(read_fields(body, envelope_what(M::kEnvelope), m));
  return m;
}

namespace detail {
template <class Variant, std::size_t I = 0>
std::optional<Result<Variant>> decode_named(const nlohmann::json& body, std::string_view name, std::size_t fds) {
  if constexpr (I == std::variant_size_v<Variant>) {
    return std::nullopt;
  } else {
    using M = std::variant_alternative_t<I, Variant>;
    if (M::kName != name) return decode_named<Variant, I + 1>(body, name, fds);
    auto m = decode<M>(body);
    if (!m) return Result<Variant>(std::move(m).error());
    if (M::kEnvelope != Envelope::kEvent && fds > M::kMaxFds) return Result<Variant>(too_many_fds(name, M::kMaxFds, fds));
    return Result<Variant>(Variant(std::in_place_index<I>, std::move(*m)));
  }
}
}  // namespace detail

/// The message a frame holds, one of the alternatives of `Variant` (all of one envelope), checked
/// as lxhostd checks a client's request: the envelope (a request's version first: EPROTO), the
/// name (EINVAL when unknown), every field (EBADMSG, naming the first bad one), then the number
/// of `fds` that came with it (EBADMSG; not for events).
template <class Variant>
Result<Variant> decode_message(const nlohmann::json& body, std::size_t fds = 0) {
  constexpr Envelope e = std::variant_alternative_t<0, Variant>::kEnvelope;
  LX_TRY_ASSIGN(name, message_name(body, e));
  auto m = detail::decode_named<Variant>(body, name, fds);
  if (!m) return unknown_message(e, name);
  return std::move(*m);
}

/// The names of the alternatives of `Variant`, in order.
template <class Variant>
std::vector<std::string> message_names() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return std::vector<std::string>{std::string(std::variant_alternative_t<I, Variant>::kName)...};
  }(std::make_index_sequence<std::variant_size_v<Variant>>());
}

/// A visitor for std::visit over a message variant, from one lambda per alternative.
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};

/// Sends `m` as one frame on `sock`, with `fds`.
template <class M>
Result<void> send_message(int sock, const M& m, std::span<const int> fds = {}) {
  return send_frame(sock, encode(m), fds);
}

/// Checks a request from a client (`fds` passed with it) as lxhostd does before acting on it
/// (decode_message<AnyRequest>) and returns it rebuilt from its known fields only, defaults
/// filled in: all that is ever forwarded.
Result<nlohmann::json> check_request(const nlohmann::json& request, std::size_t fds);

/// The error an error reply carries; nullopt for another frame.
std::optional<Error> reply_error(const nlohmann::json& reply);

}  // namespace lx::service
