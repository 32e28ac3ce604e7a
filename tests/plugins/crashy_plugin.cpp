// The crashy test plugin: its getppid handler dereferences a null pointer, as a buggy plugin
// would. The service tests use it to show that a crashing plugin ends one instance only.
#include <signal.h>
#include <sys/syscall.h>

#include <lxhost/plugin.h>

namespace {

class CrashyPlugin final : public lx::sdk::PluginBase {
 public:
  lx::sdk::PluginInfo info() const noexcept override {
    return {"crashy", "1.0.0", "other", "test plugin: crashes on getppid", ""};
  }
  std::vector<lx::sdk::ConfigKey> config_keys() const noexcept override { return {}; }
  std::string configure(const lx::sdk::PluginConfig&) noexcept override {
    clear_syscalls();
    add({SYS_getppid, lx::sdk::Route::kNotify, 0, {}, lx::sdk::Support::kFull, "crashy: crashes"},
        [](lx::sdk::SyscallContext&) -> lx::sdk::SyscallResult {
          volatile int* p = nullptr;
          *p = 1;  // the bug
          return lx::sdk::SyscallResult::continue_native();
        });
    return {};
  }
};

}  // namespace

LXHOST_PLUGIN(CrashyPlugin)
