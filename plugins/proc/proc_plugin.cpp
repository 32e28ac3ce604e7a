// The process family plugin: execve/execveat of programs in the guest root (through the fs
// family's PathResolver), fake root identity with per-process credentials that the setuid
// family changes consistently, a per-instance process limit, and the uname personality.
// Its calls are the rows of proc_table.cpp, handled by the topic files of handlers.h, on one
// ProcState (proc_state.h).
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <lxhost/interfaces.h>
#include <lxhost/plugin.h>

#include "handlers.h"
#include "proc_state.h"
#include "proc_table.h"

namespace lx::proc {
namespace {

// The capabilities this kernel knows (/proc/sys/kernel/cap_last_cap), or `fallback`.
std::uint64_t kernel_capabilities(std::uint64_t fallback) {
  FILE* f = std::fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (!f) return fallback;
  int last = 0;
  if (std::fscanf(f, "%d", &last) == 1 && last > 0 && last < 64) fallback = (1ULL << (last + 1)) - 1;
  std::fclose(f);
  return fallback;
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
      if (state_.fake_root) add_rows_when(When::kFakeRoot);
      if (state_.max_processes > 0) add_rows_when(When::kProcessLimit);
      if (!state_.hostname.empty() || !state_.release.empty()) add_rows_when(When::kUtsName);
      CredentialTable* creds = state_.fake_root ? &state_.creds : nullptr;
      offer<sdk::IdentityMap>(creds);
      offer<sdk::LaunchIdentity>(creds);
      offer<sdk::Credentials>(creds);
      // Offered now, as other plugins look it up in connect(); it knows programs once execve is ours.
      offer<sdk::ProgramNames>(&state_.exec);
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  void connect(const sdk::PluginRegistry& registry) noexcept override {
    try {
      auto* paths = registry.find<sdk::PathResolver>();
      if (!paths) return;  // the host's own root: execve means the same natively
      state_.exec.set_resolver(paths);
      add_rows_when(When::kGuestRoot);
    } catch (...) {
    }
  }

  void on_exec(sdk::SyscallContext& ctx) noexcept override {
    try {
      if (state_.fake_root) caps_after_exec(state_, ctx.tid());
      if (state_.exec.active()) state_.exec.fix_execfn(ctx);
    } catch (...) {
    }
  }

  void on_process_start(pid_t tid, pid_t parent) noexcept override {
    try {
      state_.creds.start(tid, parent);
    } catch (...) {
    }
  }
  void on_process_exit(pid_t tid) noexcept override {
    if (state_.exec.active()) state_.exec.forget(tid);
    state_.creds.exit(tid);
  }

 private:
  void add_rows_when(When when) {
    for (const ProcRow& r : proc_table())
      if (r.when == when) add_row(state_, r.row);
  }

  ProcState state_;
};

}  // namespace
}  // namespace lx::proc

LXHOST_PLUGIN(lx::proc::ProcPlugin)
