// build_dispatch: families → ERRNO ranges, plugin specs → routes and handlers, io_uring closed
// when a family translates or polices what io_uring could do behind the filter's back.
#include "runtime/dispatch_builder.h"

#include <sys/syscall.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include <lxhost/errno_names.h>
#include <lxhost/plugin.h>
#include <lxhost/syscall_table.h>

namespace lx::runtime {
namespace {

using sdk::Route;

// "ENOSYS", or "E<number>" when it has no name.
std::string errno_text(int e) {
  auto n = sdk::errno_name(e);
  return n ? std::string(*n) : fmt::format("E{}", e);
}

std::string route_text(Route r, int errno_value, bool has_rules) {
  std::string s = r == Route::kErrno ? fmt::format("errno({})", errno_text(errno_value)) : sdk::to_string(r);
  return has_rules ? s + "+rules" : s;
}

using Rows = std::map<int, CompatRow>;

// Every family's state; a disabled family's syscalls fail in the kernel (or pass through, if
// configured so).
void add_families(const std::map<std::string, config::FamilyConfig>& families, Dispatch& d, Rows& rows) {
  for (const auto& [name, fc] : families) {
    FamilyState st{name, fc.enabled, "", ""};
    auto fam = sdk::family_from_string(name);
    if (!fc.enabled) {
      st.summary = fc.on_disabled.passthrough
                       ? "disabled (on_disabled = passthrough: native)"
                       : fmt::format("disabled: its syscalls fail with {} in the kernel",
                                     errno_text(fc.on_disabled.errno_value));
      for (const auto& info : sdk::SyscallTable::all()) {
        if (!fam || info.family != *fam) continue;
        if (fc.on_disabled.passthrough) continue;
        d.policy.syscalls[info.nr] = driver::SyscallPolicy{{}, driver::Action::error(fc.on_disabled.errno_value)};
        rows[info.nr] = CompatRow{info.nr, std::string(info.name), name,
                                  route_text(Route::kErrno, fc.on_disabled.errno_value, false), "errno", "-",
                                  fmt::format("family '{}' disabled", name)};
      }
    } else {
      st.summary = "enabled, no plugin loaded: native passthrough";
    }
    d.families.push_back(std::move(st));
  }
}

// Whether any fs or net syscall is translated or policed: the instance is confined.
bool polices_io(const Dispatch& d) {
  for (const auto& [nr, pol] : d.policy.syscalls) {
    const sdk::SyscallInfo* sc = sdk::SyscallTable::find(nr);
    if (sc && (sc->family == sdk::Family::kFs || sc->family == sdk::Family::kNet) &&
        (pol.fallback.route != Route::kAllow || !pol.rules.empty()))
      return true;
  }
  return false;
}

// The calls that act on the host's kernel itself (its modules, a new kernel, BPF programs and
// maps, raw I/O ports): a guest of an lx that runs as root has the host's capabilities on the
// emulated backend, and these would reach far beyond its instance. Refused (EPERM) where the
// instance is confined, unless a plugin takes them on (a user namespace refuses them anyway).
void close_host_kernel(Dispatch& d, Rows& rows, const std::map<int, std::string>& claimed) {
  constexpr std::pair<int, const char*> kCalls[] = {
      {SYS_init_module, "init_module"},     {SYS_finit_module, "finit_module"}, {SYS_delete_module, "delete_module"},
      {SYS_kexec_load, "kexec_load"},       {SYS_kexec_file_load, "kexec_file_load"},
      {SYS_bpf, "bpf"},                     {SYS_iopl, "iopl"},                 {SYS_ioperm, "ioperm"}};
  for (const auto& [nr, name] : kCalls) {
    if (claimed.count(nr)) continue;
    d.policy.syscalls[nr] = driver::SyscallPolicy{{}, driver::Action::error(EPERM)};
    rows[nr] = CompatRow{nr, name, "other", "errno(EPERM)", "errno", "-",
                         "refused: it acts on the host's kernel, beyond the instance"};
  }
}

// io_uring performs opens, connects and the like without passing the filter: closed when any fs
// or net syscall is translated or policed, unless a plugin takes io_uring on itself.
void close_io_uring(Dispatch& d, Rows& rows, const std::map<int, std::string>& claimed) {
  if (!claimed.count(SYS_io_uring_setup)) {
    d.policy.syscalls[SYS_io_uring_setup] = driver::SyscallPolicy{{}, driver::Action::error(ENOSYS)};
    rows[SYS_io_uring_setup] =
        CompatRow{SYS_io_uring_setup, "io_uring_setup", "fs", "errno(ENOSYS)", "errno", "-",
                  "closed: fs/net calls are translated or policed, and io_uring would bypass the filter"};
  }
}

}  // namespace

Result<Dispatch> build_dispatch(const config::Config& config, const std::vector<FamilyPlugin>& plugins) {
  Dispatch d;
  auto families = config.families();
  Rows rows;
  add_families(families, d, rows);

  std::map<int, std::string> claimed;  // nr → plugin name
  for (const auto& fp : plugins) {
    const auto& info = fp.plugin->info();
    for (auto& st : d.families)
      if (st.name == fp.family) {
        st.plugin = info.name;
        st.summary = fmt::format("enabled, plugin '{}' {}", info.name, info.version);
      }
    for (const auto& spec : fp.plugin->plugin().syscalls()) {
      const sdk::SyscallInfo* sc = sdk::SyscallTable::find(spec.nr);
      if (!sc) return Error::msg(fmt::format("plugin '{}' asks for unknown syscall number {}", info.name, spec.nr));
      std::string fam_name(sdk::to_string(sc->family));
      if (auto it = families.find(fam_name); it != families.end() && !it->second.enabled) {
        continue;  // a disabled family wins over any plugin
      }
      if (auto it = claimed.find(spec.nr); it != claimed.end()) {
        return Error::msg(fmt::format("syscall {} is claimed by two plugins: '{}' and '{}'", sc->name, it->second,
                                      info.name));
      }
      claimed[spec.nr] = info.name;
      for (const auto& rule : spec.arg_rules)
        for (const auto& c : rule.all_of)
          if (c.arg < 0 || c.arg > 5)
            return Error::msg(fmt::format("plugin '{}': rule on {} names argument {} (must be 0..5)", info.name,
                                          sc->name, c.arg));
      driver::Action fallback{spec.route,
                              static_cast<std::uint16_t>(spec.route == Route::kErrno ? spec.errno_value : 0)};
      d.policy.syscalls[spec.nr] = driver::SyscallPolicy{spec.arg_rules, fallback};
      bool needs_handler = spec.route == Route::kNotify || spec.route == Route::kTrace;
      for (const auto& rule : spec.arg_rules)
        needs_handler |= rule.route == Route::kNotify || rule.route == Route::kTrace;
      if (needs_handler) d.table.set(spec.nr, &fp.plugin->plugin(), spec.route);
      rows[spec.nr] = CompatRow{spec.nr, std::string(sc->name), fam_name,
                                route_text(spec.route, spec.errno_value, !spec.arg_rules.empty()),
                                sdk::to_string(spec.support), info.name, spec.note};
    }
  }

  if (polices_io(d)) {
    close_io_uring(d, rows, claimed);
    close_host_kernel(d, rows, claimed);
    d.withheld_caps = sdk::kWithheldCapabilities;
  }
  for (auto& [nr, row] : rows) d.rows.push_back(std::move(row));
  return d;
}

}  // namespace lx::runtime
