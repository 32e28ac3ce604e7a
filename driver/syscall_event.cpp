// Formatting of intercepted syscalls for --trace, strace style.
#include "driver/syscall_event.h"

#include <cstring>

#include <fmt/format.h>

#include "driver/guest_memory.h"
#include <lxhost/errno_names.h>
#include <lxhost/syscall_table.h>

namespace lx::driver {
using sdk::ArgKind;
using sdk::SyscallInfo;
using sdk::SyscallTable;

void capture_string_args(SyscallEvent& ev) noexcept {
  const SyscallInfo* info = SyscallTable::find(ev.nr);
  if (!info) return;
  GuestMemory mem(ev.tid);
  for (int i = 0; i < 6; ++i) {
    if (info->args[i] == ArgKind::kPath || info->args[i] == ArgKind::kString) {
      try {
        if (mem.read_string(ev.args[i], ev.strings[i], 256) != 0) ev.strings[i] = "?";
      } catch (...) {
      }
    }
  }
}

namespace {

// "ENOENT", or the number when it has no name.
std::string errno_text(int e) {
  auto n = sdk::errno_name(e);
  return n ? std::string(*n) : fmt::format("{}", e);
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += fmt::format("\\{}", static_cast<char>(c));
    else if (c == '\n') out += "\\n";
    else if (c < 0x20 || c >= 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string format_arg(ArgKind kind, std::uint64_t v, const std::string& str) {
  switch (kind) {
    case ArgKind::kPath:
    case ArgKind::kString:
      if (v == 0) return "NULL";
      return str == "?" ? fmt::format("{:#x}", v) : quote(str);
    case ArgKind::kFd:
      if (static_cast<int>(v) == -100) return "AT_FDCWD";
      return fmt::format("{}", static_cast<int>(v));
    case ArgKind::kInt:
    case ArgKind::kPid:
      return fmt::format("{}", static_cast<std::int64_t>(v));
    case ArgKind::kUint:
      return fmt::format("{}", v);
    case ArgKind::kPtr:
      return v == 0 ? "NULL" : fmt::format("{:#x}", v);
    case ArgKind::kFlags:
      return fmt::format("{:#x}", v);
    case ArgKind::kNone:
      break;
  }
  return fmt::format("{:#x}", v);
}

}  // namespace

std::string format_event(const SyscallEvent& ev) {
  const SyscallInfo* info = SyscallTable::find(ev.nr);
  std::string out = fmt::format("[pid {}] ", ev.tid);
  if (!info) {
    out += fmt::format("syscall_{}(", ev.nr);
    for (int i = 0; i < 6; ++i) out += fmt::format("{}{:#x}", i ? ", " : "", ev.args[i]);
  } else {
    out += fmt::format("{}(", info->name);
    for (int i = 0; i < info->arg_count(); ++i)
      out += (i ? ", " : "") + format_arg(info->args[i], ev.args[i], ev.strings[i]);
  }
  out += ")";
  using K = sdk::SyscallResult::Kind;
  switch (ev.result.kind()) {
    case K::kContinue: out += " = <native>"; break;
    case K::kRewritten: out += " = <native, rewritten>"; break;
    case K::kError:
      out += fmt::format(" = -1 {} ({})", errno_text(ev.result.error()), std::strerror(ev.result.error()));
      break;
    case K::kValue:
    case K::kResponded: {
      std::int64_t v = ev.result.value();
      if (v < 0 && v > -4096) out += fmt::format(" = -1 {} ({})", errno_text(static_cast<int>(-v)), std::strerror(static_cast<int>(-v)));
      else out += fmt::format(" = {}", v);
      break;
    }
  }
  return out + fmt::format(" <{}>", sdk::to_string(ev.route));
}

}  // namespace lx::driver
