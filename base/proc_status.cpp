#include "base/proc_status.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>

#include "base/unique_fd.h"

namespace lx {
namespace {

std::string_view skip_blanks(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// Parses the next number of `s` in `base` (blanks before it skipped) and drops it from `s`.
template <class T>
std::optional<T> next_number(std::string_view& s, int base) noexcept {
  s = skip_blanks(s);
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  s.remove_prefix(static_cast<std::size_t>(end - s.data()));
  return v;
}

template <class T>
std::vector<T> number_list(std::optional<std::string_view> value) {
  std::vector<T> out;
  if (!value) return out;
  std::string_view s = *value;
  while (auto v = next_number<T>(s, 10)) out.push_back(*v);
  return out;
}

}  // namespace

Result<ProcStatus> ProcStatus::read(pid_t pid) {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(pid));
  return read_path(path);
}

Result<ProcStatus> ProcStatus::read_task(pid_t pid, pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task/%d/status", static_cast<int>(pid), static_cast<int>(tid));
  return read_path(path);
}

Result<ProcStatus> ProcStatus::read_path(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(std::string("open(") + path + ")");
  ProcStatus s;
  for (;;) {
    ssize_t n = ::read(fd.get(), s.buf_.data() + s.len_, s.buf_.size() - s.len_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(std::string("read(") + path + ")");
    if (n == 0) return s;
    s.len_ += static_cast<std::size_t>(n);
    if (s.len_ == s.buf_.size()) break;
  }
  // Rare: more than the buffer holds; gather the rest on the heap.
  s.big_.assign(s.buf_.data(), s.len_);
  char more[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), more, sizeof more);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(std::string("read(") + path + ")");
    if (n == 0) return s;
    s.big_.append(more, static_cast<std::size_t>(n));
  }
}

ProcStatus ProcStatus::parse(std::string_view text) {
  ProcStatus s;
  s.assign(text);
  return s;
}

void ProcStatus::assign(std::string_view text) {
  if (text.size() <= buf_.size()) {
    std::memcpy(buf_.data(), text.data(), text.size());
    len_ = text.size();
    big_.clear();
  } else {
    len_ = 0;
    big_.assign(text);
  }
}

std::optional<std::string_view> ProcStatus::field(std::string_view key) const noexcept {
  std::string_view t = text();
  std::size_t at = 0;
  while (at < t.size()) {
    std::size_t eol = t.find('\n', at);
    if (eol == std::string_view::npos) eol = t.size();
    std::string_view line = t.substr(at, eol - at);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':')
      return skip_blanks(line.substr(key.size() + 1));
    at = eol + 1;
  }
  return std::nullopt;
}

std::optional<std::int64_t> ProcStatus::decimal(std::string_view key) const noexcept {
  auto v = field(key);
  if (!v) return std::nullopt;
  return next_number<std::int64_t>(*v, 10);
}

std::optional<std::uint64_t> ProcStatus::hex(std::string_view key) const noexcept {
  auto v = field(key);
  if (!v) return std::nullopt;
  return next_number<std::uint64_t>(*v, 16);
}

std::optional<ProcIds> ProcStatus::ids(std::string_view key) const noexcept {
  auto v = field(key);
  if (!v) return std::nullopt;
  std::string_view s = *v;
  unsigned out[4];
  for (unsigned& o : out) {
    auto n = next_number<unsigned>(s, 10);
    if (!n) return std::nullopt;
    o = *n;
  }
  return ProcIds{out[0], out[1], out[2], out[3]};
}

std::optional<char> ProcStatus::state() const noexcept {
  auto v = field("State");
  if (!v || v->empty()) return std::nullopt;
  return v->front();
}

std::optional<pid_t> ProcStatus::tgid() const noexcept { return decimal("Tgid"); }
std::optional<pid_t> ProcStatus::pid() const noexcept { return decimal("Pid"); }
std::optional<pid_t> ProcStatus::ppid() const noexcept { return decimal("PPid"); }
std::optional<pid_t> ProcStatus::tracer_pid() const noexcept { return decimal("TracerPid"); }
std::optional<ProcIds> ProcStatus::uid() const noexcept { return ids("Uid"); }
std::optional<ProcIds> ProcStatus::gid() const noexcept { return ids("Gid"); }
std::optional<int> ProcStatus::threads() const noexcept { return decimal("Threads"); }
std::optional<std::uint64_t> ProcStatus::sig_pending() const noexcept { return hex("SigPnd"); }
std::optional<std::uint64_t> ProcStatus::shared_pending() const noexcept { return hex("ShdPnd"); }
std::optional<std::uint64_t> ProcStatus::sig_blocked() const noexcept { return hex("SigBlk"); }
std::optional<std::uint64_t> ProcStatus::sig_ignored() const noexcept { return hex("SigIgn"); }
std::optional<std::uint64_t> ProcStatus::sig_caught() const noexcept { return hex("SigCgt"); }
std::optional<std::uint64_t> ProcStatus::cap_effective() const noexcept { return hex("CapEff"); }
std::optional<std::uint64_t> ProcStatus::cap_permitted() const noexcept { return hex("CapPrm"); }

std::optional<std::uint64_t> ProcStatus::cap_bounding() const noexcept { return hex("CapBnd"); }

std::optional<mode_t> ProcStatus::umask() const noexcept {
  auto v = field("Umask");
  if (!v) return std::nullopt;
  return next_number<mode_t>(*v, 8);
}

std::vector<gid_t> ProcStatus::groups() const { return number_list<gid_t>(field("Groups")); }
std::vector<pid_t> ProcStatus::nspid() const { return number_list<pid_t>(field("NSpid")); }

}  // namespace lx
