// The probe test plugin: getppid on a configurable route, a magic path opened on the NOTIFY
// route and installed into the guest with ADDFD, and exit_group rewritten on the TRACE route.
// Built out of tree against the installed SDK by the tests.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <lxhost/plugin.h>

namespace {

using lx::sdk::Route;
using lx::sdk::SyscallContext;
using lx::sdk::SyscallResult;
using lx::sdk::SyscallSpec;

class ProbePlugin final : public lx::sdk::PluginBase {
 public:
  lx::sdk::PluginInfo info() const noexcept override {
    return {"probe", "1.0.0", "other", "test plugin: getppid, a magic file, exit status rewriting", "probe"};
  }

  std::vector<lx::sdk::ConfigKey> config_keys() const noexcept override {
    using T = lx::sdk::ConfigType;
    return {{"getppid_route", T::kString, "route for getppid: none, allow, errno, notify, trace"},
            {"getppid_value", T::kInteger, "value getppid returns on notify/trace (unset: the real one)"},
            {"magic_path", T::kString, "opening this path returns a file holding magic_content"},
            {"magic_content", T::kString, "content of the magic file"},
            {"exit_from", T::kInteger, "exit_group status to rewrite (TRACE route)"},
            {"exit_to", T::kInteger, "status it becomes"}};
  }

  std::string configure(const lx::sdk::PluginConfig& cfg) noexcept override {
    try {
      clear_syscalls();
      std::string route = cfg.get_string("getppid_route").value_or("notify");
      value_ = cfg.get_int("getppid_value");
      if (route != "none") {
        SyscallSpec spec;
        spec.nr = SYS_getppid;
        spec.note = "probe: " + route;
        if (route == "allow") spec.route = Route::kAllow;
        else if (route == "errno") spec.route = Route::kErrno, spec.errno_value = EPERM;
        else if (route == "notify") spec.route = Route::kNotify;
        else if (route == "trace") spec.route = Route::kTrace;
        else return "getppid_route must be none, allow, errno, notify or trace, not '" + route + "' (" +
                    cfg.where("getppid_route") + ")";
        add(spec, [this](SyscallContext& ctx) { return getppid_(ctx); });
      }
      magic_ = cfg.get_string("magic_path").value_or("");
      content_ = cfg.get_string("magic_content").value_or("hello from the probe plugin\n");
      if (!magic_.empty()) {
        add({SYS_openat, Route::kNotify, 0, {}, lx::sdk::Support::kPartial, "probe: magic path"},
            [this](SyscallContext& ctx) { return open_(ctx, ctx.arg(1), ctx.arg(2)); });
        add({SYS_open, Route::kNotify, 0, {}, lx::sdk::Support::kPartial, "probe: magic path"},
            [this](SyscallContext& ctx) { return open_(ctx, ctx.arg(0), ctx.arg(1)); });
      }
      exit_from_ = cfg.get_int("exit_from");
      exit_to_ = cfg.get_int("exit_to").value_or(0);
      if (exit_from_) {
        add({SYS_exit_group, Route::kTrace, 0, {}, lx::sdk::Support::kFull, "probe: exit status rewriting"},
            [this](SyscallContext& ctx) { return exit_(ctx); });
      }
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

 private:
  // Implements getppid(2): the configured value, or the real one.
  SyscallResult getppid_(SyscallContext&) {
    if (value_) return SyscallResult::value(*value_);
    return SyscallResult::continue_native();
  }

  // Implements open(2)/openat(2) of the magic path: a memfd with the content, installed with ADDFD.
  SyscallResult open_(SyscallContext& ctx, std::uint64_t path_arg, std::uint64_t flags) {
    std::string path;
    if (int e = ctx.read_string(path_arg, path); e != 0) return SyscallResult::error(e);
    if (path != magic_) return SyscallResult::continue_native();
    int fd = memfd_create("lxhost-probe", MFD_CLOEXEC);
    if (fd < 0) return SyscallResult::error(errno);
    if (write(fd, content_.data(), content_.size()) != static_cast<ssize_t>(content_.size()) ||
        lseek(fd, 0, SEEK_SET) != 0) {
      int e = errno;
      close(fd);
      return SyscallResult::error(e ? e : EIO);
    }
    SyscallResult r = ctx.install_fd(fd, static_cast<unsigned>(flags) & O_CLOEXEC);
    close(fd);
    return r;
  }

  // Implements exit_group(2): rewrites the status on the TRACE route.
  SyscallResult exit_(SyscallContext& ctx) {
    if (static_cast<int>(ctx.arg(0)) != *exit_from_) return SyscallResult::continue_native();
    if (ctx.set_arg(0, static_cast<std::uint64_t>(exit_to_)) != 0) return SyscallResult::continue_native();
    return SyscallResult::rewritten();
  }

  std::optional<std::int64_t> value_;
  std::string magic_;
  std::string content_;
  std::optional<std::int64_t> exit_from_;
  std::int64_t exit_to_ = 0;
};

}  // namespace

LXHOST_PLUGIN(ProbePlugin)
