// The signal family plugin: confinement of every call that names a process. A guest runs with
// the host uid, so the kernel would let it reach every process of that uid: signals, ptrace,
// process memory, pidfds, priorities, scheduling, I/O signal owners and the rest reach only
// the instance's processes, and a target outside it gets ESRCH, as if it did not exist.
// The plugin knows the instance's members (on_process_start/on_process_exit); its calls are
// the rows of signal_table.cpp, handled by the topic files of handlers.h. Under the kernel
// backend the plugin takes on nothing: the instance's PID namespace confines kill and every call
// that takes a pid (a pid outside it does not exist there).
#include <unistd.h>

#include <exception>
#include <string>
#include <vector>

#include <lxhost/interfaces.h>
#include <lxhost/plugin.h>

#include "members.h"
#include "signal_table.h"

namespace lx::signal {
namespace {

class SignalPlugin final : public sdk::PluginBase {
 public:
  sdk::PluginInfo info() const noexcept override {
    return {"signal", "0.2.0", "signal", "signals and every call naming a process confined to the instance",
            "signal"};
  }
  std::vector<sdk::ConfigKey> config_keys() const noexcept override {
    return {{"confine", sdk::ConfigType::kBoolean,
             "signals and calls naming a process reach only the instance's processes (default true)"}};
  }

  std::string configure(const sdk::PluginConfig& cfg) noexcept override {
    try {
      clear_syscalls();
      confine_ = cfg.get_bool("confine").value_or(true);
      kernel_ = cfg.backend() == sdk::Backend::kKernel;
      if (confine_ && !kernel_) add_rows_when(When::kConfined);
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  void connect(const sdk::PluginRegistry& registry) noexcept override {
    try {
      members_.creds = registry.find<sdk::GuestCredentials>();
      members_.emulated = registry.find<sdk::Credentials>() != nullptr;
      // capget is the proc family's when it emulates capabilities (fake root): its handler
      // confines the pid there. Otherwise it is ours. Two plugins cannot claim one syscall:
      // capset is the proc family's too when it follows real credentials (sdk::GuestCredentials).
      if (confine_ && !kernel_ && !registry.find<sdk::Credentials>()) {
        add_rows_when(When::kCapsNotEmulated);
        if (!registry.find<sdk::GuestCredentials>()) add_rows_when(When::kCapsetNative);
      }
    } catch (...) {
    }
  }

  void on_process_start(pid_t tid, pid_t parent) noexcept override {
    if (kernel_) return;
    try {
      members_.add(tid, parent == 0);
      if (parent == 0) {
        pid_t g = getpgid(tid);
        if (g > 0) members_.add_launch_group(g);
      }
    } catch (...) {
    }
  }
  void on_process_exit(pid_t tid) noexcept override {
    if (!kernel_) members_.remove(tid);
  }
  void on_exec(sdk::SyscallContext& ctx) noexcept override {
    if (!kernel_) members_.launched(ctx.pid());
  }

 private:
  void add_rows_when(When when) {
    for (const SignalRow& r : signal_table())
      if (r.when == when) add_row(members_, r.row);
  }

  bool confine_ = true;
  bool kernel_ = false;  // configured for the kernel backend: the PID namespace confines
  Members members_;
};

}  // namespace
}  // namespace lx::signal

LXHOST_PLUGIN(lx::signal::SignalPlugin)
