// The driver's SyscallContext implementations: NotifyContext (seccomp user notification) and
// TraceContext (ptrace seccomp stop, with register rewriting).
#pragma once

#include <linux/seccomp.h>
#include <sys/user.h>

#include <functional>
#include <string>

#include <lxhost/syscall_context.h>

#include "driver/guest_memory.h"

namespace lx::driver {

/// Argument `i` of x86_64 registers (rdi, rsi, rdx, r10, r8, r9).
std::uint64_t reg_arg(const user_regs_struct& regs, int i) noexcept;
/// Sets argument `i` in x86_64 registers.
void set_reg_arg(user_regs_struct& regs, int i, std::uint64_t v) noexcept;

/// The thread group id of `tid` (from /proc/<tid>/status); `tid` itself when unreadable.
pid_t thread_group_of(pid_t tid) noexcept;

/// A call that arrived as a seccomp user notification.
class NotifyContext final : public sdk::SyscallContext {
 public:
  /// Wraps `req`, received on `listener`, for instance `instance`.
  NotifyContext(const seccomp_notif& req, int listener, const std::string& instance,
                std::function<void()> on_will_block = {}) noexcept
      : req_(req), listener_(listener), instance_(instance), mem_(static_cast<pid_t>(req.pid)),
        on_will_block_(std::move(on_will_block)) {}

  int nr() const noexcept override { return req_.data.nr; }
  const char* name() const noexcept override;
  std::uint64_t arg(int i) const noexcept override { return i >= 0 && i < 6 ? req_.data.args[i] : 0; }
  pid_t pid() const noexcept override;
  pid_t tid() const noexcept override { return static_cast<pid_t>(req_.pid); }
  sdk::Route route() const noexcept override { return sdk::Route::kNotify; }
  const std::string& instance() const noexcept override { return instance_; }
  int read_memory(std::uint64_t addr, void* out, std::size_t len) noexcept override;
  int write_memory(std::uint64_t addr, const void* in, std::size_t len) noexcept override;
  int read_string(std::uint64_t addr, std::string& out, std::size_t max) noexcept override;
  bool still_valid() noexcept override;
  sdk::SyscallResult install_fd(int host_fd, unsigned guest_flags) noexcept override;
  bool can_rewrite() const noexcept override { return false; }
  int set_arg(int, std::uint64_t) noexcept override { return EINVAL; }
  int set_nr(int) noexcept override { return EINVAL; }
  std::uint64_t stack_pointer() const noexcept override { return 0; }
  void will_block() noexcept override {
    if (on_will_block_) on_will_block_();
  }

  /// The notification id.
  std::uint64_t id() const noexcept { return req_.id; }
  /// Answers the notification with the handler's `result` and returns it as the guest sees it
  /// (a rewrite, impossible on this route, becomes ENOSYS). The kernel hears the answer to a
  /// NOTIFY call from here only: from this SEND, or from install_fd's atomic add-and-send, after
  /// which the handler returns kResponded and nothing more is sent.
  sdk::SyscallResult reply(sdk::SyscallResult result) noexcept;

 private:
  const seccomp_notif& req_;
  int listener_;
  const std::string& instance_;
  GuestMemory mem_;
  std::function<void()> on_will_block_;
  mutable pid_t tgid_ = 0;
};

/// A call that arrived at a ptrace seccomp stop (SECCOMP_RET_TRACE).
class TraceContext final : public sdk::SyscallContext {
 public:
  /// Wraps the registers `regs` of stopped thread `tid` (thread group `tgid`).
  TraceContext(pid_t tid, pid_t tgid, user_regs_struct& regs, const std::string& instance) noexcept
      : tid_(tid), tgid_(tgid), regs_(regs), instance_(instance), mem_(tid) {}

  int nr() const noexcept override { return static_cast<int>(nr_); }
  const char* name() const noexcept override;
  std::uint64_t arg(int i) const noexcept override { return args_[i >= 0 && i < 6 ? i : 0]; }
  pid_t pid() const noexcept override { return tgid_; }
  pid_t tid() const noexcept override { return tid_; }
  sdk::Route route() const noexcept override { return sdk::Route::kTrace; }
  const std::string& instance() const noexcept override { return instance_; }
  int read_memory(std::uint64_t addr, void* out, std::size_t len) noexcept override {
    return mem_.read(addr, out, len);
  }
  int write_memory(std::uint64_t addr, const void* in, std::size_t len) noexcept override {
    return mem_.write(addr, in, len);
  }
  int read_string(std::uint64_t addr, std::string& out, std::size_t max) noexcept override {
    return mem_.read_string(addr, out, max);
  }
  bool still_valid() noexcept override { return true; }  // the thread is stopped
  sdk::SyscallResult install_fd(int, unsigned) noexcept override { return sdk::SyscallResult::error(ENOSYS); }
  bool can_rewrite() const noexcept override { return true; }
  int set_arg(int i, std::uint64_t value) noexcept override;
  int set_nr(int nr) noexcept override;
  std::uint64_t stack_pointer() const noexcept override { return regs_.rsp; }
  bool check_return(ReturnCheck check) noexcept override {
    return_check_ = std::move(check);
    return true;
  }

  /// Whether the handler changed any register.
  bool dirty() const noexcept { return dirty_; }
  /// What the handler asked to check of the rewritten call's result (empty: nothing).
  ReturnCheck take_return_check() noexcept { return std::move(return_check_); }

 private:
  pid_t tid_;
  pid_t tgid_;
  user_regs_struct& regs_;
  const std::string& instance_;
  GuestMemory mem_;
  ReturnCheck return_check_;
  // The syscall as the guest made it: read once, when the context is made.
  std::uint64_t nr_ = regs_.orig_rax;
  std::uint64_t args_[6] = {regs_.rdi, regs_.rsi, regs_.rdx, regs_.r10, regs_.r8, regs_.r9};
  bool dirty_ = false;
};

}  // namespace lx::driver
