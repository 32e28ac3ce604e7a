// SDK (tests): a SyscallContext without a guest, so that a handler is unit-tested without a
// kernel round trip: the test sets the syscall and its arguments, places the guest's memory
// (strings, structures, buffers) at fake addresses, calls the handler and checks its result,
// what it wrote back, the fd it installed, and that it read every argument as its table kind.
//
//   FakeSyscallContext ctx(sys::openat);
//   ctx.set_args({AT_FDCWD, ctx.put_string("/etc/hostname"), O_RDONLY});
//   EXPECT_EQ(handler(state, ctx).error(), ENOENT);
//   EXPECT_TRUE(ctx.kind_mismatches().empty());
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <lxhost/syscall_context.h>

namespace lx::sdk::testing {

/// A fake guest call: arguments, memory regions at fake addresses, and what the handler did.
class FakeSyscallContext : public SyscallContext {
 public:
  /// A call of syscall `nr` by guest thread `tid` (pid == tid) on `route`.
  explicit FakeSyscallContext(int nr, pid_t tid = ::getpid(), Route route = Route::kNotify)
      : nr_(nr), tid_(tid), route_(route) {}
  ~FakeSyscallContext() override {
    for (auto& [guest, host] : installed_) ::close(host);
  }

  /// Sets the arguments (missing ones are 0).
  void set_args(std::initializer_list<std::uint64_t> args) {
    args_.fill(0);
    std::copy_n(args.begin(), std::min<std::size_t>(args.size(), 6), args_.begin());
  }
  /// Sets argument `i`.
  void set_arg_value(int i, std::uint64_t v) { args_.at(i) = v; }
  /// Places `bytes` in guest memory; returns their fake address.
  std::uint64_t put(const void* bytes, std::size_t len) {
    std::uint64_t addr = next_;
    next_ += (len + 0x1000) & ~std::uint64_t{0xfff};
    auto* p = static_cast<const unsigned char*>(bytes);
    regions_[addr] = std::vector<unsigned char>(p, p + len);
    return addr;
  }
  /// Places a NUL-terminated string in guest memory; returns its fake address.
  std::uint64_t put_string(const std::string& s) { return put(s.c_str(), s.size() + 1); }
  /// Places a zeroed buffer of `len` bytes (for the handler to write to); returns its address.
  std::uint64_t put_zeroes(std::size_t len) { return put(std::vector<unsigned char>(len).data(), len); }
  /// The bytes at `addr` (a fake address returned by put...), as the handler left them.
  const std::vector<unsigned char>& memory(std::uint64_t addr) const { return regions_.at(addr); }
  /// The value of type T at `addr`, as the handler left it.
  template <class T>
  T memory_as(std::uint64_t addr) const {
    T v{};
    std::memcpy(&v, regions_.at(addr).data(), std::min(sizeof(T), regions_.at(addr).size()));
    return v;
  }
  /// Host fds the handler installed, by the guest fd number the fake gave (the fake owns them).
  const std::map<int, int>& installed_fds() const { return installed_; }
  /// Arguments and number the handler rewrote (TRACE).
  const std::map<int, std::uint64_t>& rewritten_args() const { return rewritten_; }
  /// The syscall number the handler set (TRACE), or -1.
  int rewritten_nr() const { return new_nr_; }
  /// Every (argument, kind) a handler read as a kind the table does not give it.
  const std::vector<std::pair<int, ArgKind>>& kind_mismatches() const { return mismatches_; }
  /// Whether the handler said it would block.
  bool blocked() const { return blocked_; }
  /// Makes still_valid() false (the guest thread went away).
  void invalidate() { valid_ = false; }

  int nr() const noexcept override { return nr_; }
  const char* name() const noexcept override { return SyscallTable::name(nr_).data(); }
  std::uint64_t arg(int i) const noexcept override { return i >= 0 && i < 6 ? args_[i] : 0; }
  pid_t pid() const noexcept override { return tid_; }
  pid_t tid() const noexcept override { return tid_; }
  Route route() const noexcept override { return route_; }
  const std::string& instance() const noexcept override { return instance_; }

  int read_memory(std::uint64_t addr, void* out, std::size_t len) noexcept override {
    const unsigned char* p = locate(addr, len);
    if (!p) return EFAULT;
    std::memcpy(out, p, len);
    return 0;
  }
  int write_memory(std::uint64_t addr, const void* in, std::size_t len) noexcept override {
    auto* p = const_cast<unsigned char*>(locate(addr, len));
    if (!p) return EFAULT;
    std::memcpy(p, in, len);
    return 0;
  }
  int read_string(std::uint64_t addr, std::string& out, std::size_t max = PATH_MAX) noexcept override {
    const unsigned char* p = locate(addr, 1);
    if (!p) return EFAULT;
    auto it = regions_.upper_bound(addr);
    --it;
    std::size_t avail = it->second.size() - (addr - it->first);
    std::size_t n = strnlen(reinterpret_cast<const char*>(p), avail);
    if (n == avail) return EFAULT;
    if (n >= max) return ENAMETOOLONG;
    out.assign(reinterpret_cast<const char*>(p), n);
    return 0;
  }
  bool still_valid() noexcept override { return valid_; }
  SyscallResult install_fd(int host_fd, unsigned guest_flags) noexcept override {
    (void)guest_flags;
    int copy = ::fcntl(host_fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return SyscallResult::error(errno);
    int guest = next_fd_++;
    installed_[guest] = copy;
    return SyscallResult::responded(guest);
  }
  bool can_rewrite() const noexcept override { return route_ == Route::kTrace; }
  int set_arg(int i, std::uint64_t value) noexcept override {
    if (route_ != Route::kTrace) return EPERM;
    rewritten_[i] = value;
    return 0;
  }
  int set_nr(int nr) noexcept override {
    if (route_ != Route::kTrace) return EPERM;
    new_nr_ = nr;
    return 0;
  }
  std::uint64_t stack_pointer() const noexcept override { return 0; }
  bool check_return(ReturnCheck check) noexcept override {
    if (route_ != Route::kTrace) return false;
    return_check_ = std::move(check);
    return true;
  }
  void will_block() noexcept override { blocked_ = true; }
  /// What the handler asked to check of its rewritten call's result (empty: nothing): a test
  /// calls it with the result it makes up, as the driver does at the call's exit.
  const ReturnCheck& return_check() const noexcept { return return_check_; }

 protected:
  void arg_kind_mismatch(int i, ArgKind wanted) const noexcept override {
    try {
      mismatches_.emplace_back(i, wanted);
    } catch (...) {
    }
  }

 private:
  const unsigned char* locate(std::uint64_t addr, std::size_t len) const {
    auto it = regions_.upper_bound(addr);
    if (it == regions_.begin()) return nullptr;
    --it;
    std::uint64_t off = addr - it->first;
    if (off > it->second.size() || len > it->second.size() - off) return nullptr;
    return it->second.data() + off;
  }

  int nr_;
  pid_t tid_;
  Route route_;
  std::string instance_ = "test";
  std::array<std::uint64_t, 6> args_{};
  std::map<std::uint64_t, std::vector<unsigned char>> regions_;
  std::uint64_t next_ = 0x10000000;
  std::map<int, int> installed_;
  int next_fd_ = 100;
  ReturnCheck return_check_;
  std::map<int, std::uint64_t> rewritten_;
  int new_nr_ = -1;
  mutable std::vector<std::pair<int, ArgKind>> mismatches_;
  bool valid_ = true;
  bool blocked_ = false;
};

}  // namespace lx::sdk::testing
