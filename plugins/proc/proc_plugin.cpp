// The process family plugin: execve/execveat of programs in the guest root (through the fs
// family's PathResolver), fake root identity with per-process credentials that the setuid
// family changes consistently, a per-instance process limit, and the uname personality.
// Its calls are the rows of proc_table.cpp, handled by the topic files of handlers.h, on one
// ProcState (proc_state.h). Under the kernel backend the instance's user namespace makes root and
// setuid real, its PID namespace bounds exec and its UTS namespace has the hostname: the plugin
// keeps only the uname release (which no namespace fakes) and hands the hostname and the process
// limit to the kernel (kernel_part.h).
#include <sys/prctl.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <lxhost/interfaces.h>
#include <lxhost/plugin.h>

#include "handlers.h"
#include "kernel_part.h"
#include "proc_state.h"
#include "proc_table.h"

namespace lx::proc {
namespace {

// The capabilities root has here: those this kernel knows (/proc/sys/kernel/cap_last_cap, else
// `fallback`) that the bounding set of this process (the guest's too) allows. A host whose root
// lacks some (a container without CAP_SYS_RESOURCE) gives fake root none of those either: it
// reported them, and programs that trusted capget failed later (setrlimit past the hard limit).
std::uint64_t kernel_capabilities(std::uint64_t fallback) {
  if (FILE* f = std::fopen("/proc/sys/kernel/cap_last_cap", "re")) {
    int last = 0;
    if (std::fscanf(f, "%d", &last) == 1 && last > 0 && last < 64) fallback = (1ULL << (last + 1)) - 1;
    std::fclose(f);
  }
  std::uint64_t caps = 0;
  for (int cap = 0; cap < 64; ++cap)
    if ((fallback >> cap) & 1 && prctl(PR_CAPBSET_READ, cap) == 1) caps |= 1ULL << cap;
  return caps;
}

class ProcPlugin final : public sdk::PluginBase {
 public:
  sdk::PluginInfo info() const noexcept override {
    return {"proc", "0.1.0", "proc", "fake root identity, process limit, uname personality", "proc"};
  }
  std::vector<sdk::ConfigKey> config_keys() const noexcept override {
    using T = sdk::ConfigType;
    return {{"fake_root", T::kBoolean, "getuid() == 0; the setuid family succeeds and stays consistent"},
            {"max_processes", T::kInteger, "processes per instance; fork past it fails with EAGAIN (0: no limit)"},
            {"hostname", T::kString, "uname nodename the guest sees"},
            {"release", T::kString, "uname release the guest sees"}};
  }

  std::string configure(const sdk::PluginConfig& cfg) noexcept override {
    try {
      clear_syscalls();
      state_.fake_root = cfg.get_bool("fake_root").value_or(false);
      state_.all_caps = kernel_capabilities(state_.all_caps);
      state_.max_processes = cfg.get_int("max_processes").value_or(0);
      if (state_.max_processes < 0)
        return "max_processes must be 0 (no limit) or more (" + cfg.where("max_processes") + ")";
      state_.hostname = cfg.get_string("hostname").value_or("");
      state_.release = cfg.get_string("release").value_or("");
      if (state_.hostname.size() >= 65 || state_.release.size() >= 65)
        return "hostname and release must be shorter than 65 bytes";
      offer_interfaces(nullptr, nullptr);
      kernel_ = cfg.backend() == sdk::Backend::kKernel;
      if (kernel_) return configure_kernel_part();
      if (state_.fake_root) add_rows_when(When::kFakeRoot);
      // A privileged lx acts on the guest's behalf as the guest thread would (the fs family
      // takes its credentials for each call), so it must know them: fake root's are emulated
      // here, real ones are read from the kernel and read anew after each change.
      bool real = !state_.fake_root && privileged_process();
      if (real) add_rows_when(When::kRealCredentials);
      if (state_.max_processes > 0) add_rows_when(When::kProcessLimit);
      if (!state_.hostname.empty() || !state_.release.empty()) add_rows_when(When::kUtsName);
      // ProgramNames is offered now, as other plugins look it up in connect(); it knows programs
      // once execve is ours.
      offer_interfaces(state_.fake_root ? &state_.creds : nullptr, &state_.exec);
      state_.own_creds = OwnCredentials::current();
      state_.acting = state_.fake_root ? static_cast<sdk::GuestCredentials*>(&state_.creds)
                      : real           ? &state_.real_creds
                                       : nullptr;
      offer<sdk::GuestCredentials>(state_.acting);
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  // execve resolves and opens the program as the guest thread would (base/acting_as.h): a
  // program it may not execute is EACCES, not a failure of the ELF interpreter afterwards.
  sdk::SyscallResult handle(sdk::SyscallContext& ctx) noexcept override {
    if (ctx.nr() != sdk::sys::execve && ctx.nr() != sdk::sys::execveat) return PluginBase::handle(ctx);
    ActingAs as(state_.acting, state_.own_creds, ctx);
    if (!as.ok()) return sdk::fail(EPERM);
    return PluginBase::handle(ctx);
  }

  void connect(const sdk::PluginRegistry& registry) noexcept override {
    if (kernel_) return;  // exec is the kernel's, in the instance's mount namespace
    try {
      auto* paths = registry.find<sdk::PathResolver>();
      if (!paths) return;  // the host's own root: execve means the same natively
      state_.exec.set_resolver(paths);
      add_rows_when(When::kGuestRoot);
    } catch (...) {
    }
  }

  void on_exec(sdk::SyscallContext& ctx) noexcept override {
    if (kernel_) return;
    try {
      if (state_.fake_root) caps_after_exec(state_, ctx.tid());
      state_.real_creds.forget(ctx.tid());
      if (state_.exec.active()) state_.exec.fix_execfn(ctx);
    } catch (...) {
    }
  }

  void on_process_start(pid_t tid, pid_t parent) noexcept override {
    if (kernel_) return;
    try {
      state_.creds.start(tid, parent);
    } catch (...) {
    }
    if (state_.exec.active()) state_.exec.inherit(tid, parent);
  }
  void on_process_exit(pid_t tid) noexcept override {
    if (kernel_) return;
    if (state_.exec.active()) state_.exec.forget(tid);
    state_.creds.exit(tid);
    state_.real_creds.forget(tid);
  }

 private:
  // The kernel backend: the uname release is the only row (with the hostname kept as set, as
  // uname is answered outside the UTS namespace); the hostname and the process limit are the
  // kernel's. No identity is offered: the user namespace's ids are real.
  std::string configure_kernel_part() {
    if (!state_.release.empty()) add_rows_when(When::kKernelRelease);
    kernel_part_.hostname = state_.hostname;
    kernel_part_.max_processes = static_cast<std::uint64_t>(state_.max_processes);
    offer<sdk::KernelConfigurator>(&kernel_part_);
    return {};
  }

  // Offers the fake root's identity interfaces (`creds`, nullptr withdraws them) and the program
  // names (`programs`); withdraws the kernel part.
  void offer_interfaces(CredentialTable* creds, sdk::ProgramNames* programs) {
    offer<sdk::IdentityMap>(creds);
    offer<sdk::LaunchIdentity>(creds);
    offer<sdk::Credentials>(creds);
    offer<sdk::ProgramNames>(programs);
    offer<sdk::GuestCredentials>(nullptr);
    offer<sdk::KernelConfigurator>(nullptr);
  }

  void add_rows_when(When when) {
    for (const ProcRow& r : proc_table())
      if (r.when == when) add_row(state_, r.row);
  }

  ProcState state_;
  bool kernel_ = false;  // configured for the kernel backend
  ProcKernelPart kernel_part_;
};

}  // namespace
}  // namespace lx::proc

LXHOST_PLUGIN(lx::proc::ProcPlugin)
