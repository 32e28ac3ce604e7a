// The crashy test plugin: its getppid handler writes to memory it may not touch, as a buggy
// plugin would, and dies of SIGSEGV (a page with no access rather than a null pointer, so that
// UBSan in a sanitized build does not stop it first). The service tests use it to show that a
// crashing plugin ends one instance only.
#include <sys/mman.h>
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
          void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          *static_cast<volatile int*>(page) = 1;  // the bug
          return lx::sdk::SyscallResult::continue_native();
        });
    return {};
  }
};

}  // namespace

LXHOST_PLUGIN(CrashyPlugin)
