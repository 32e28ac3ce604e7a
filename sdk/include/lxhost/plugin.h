// SDK: the plugin interface a syscall-family plugin implements, and the macro that exports it.
//
// A plugin is a shared library exporting, through BOOST_DLL_ALIAS, its ABI version and a
// factory (LXHOST_PLUGIN). The host checks the ABI version before it calls anything else,
// then creates the plugin, configures it with its family's config table, asks for its syscall
// table, and compiles that into the seccomp filter. No exception crosses this interface:
// every virtual function is noexcept, and PluginBase turns a throwing handler into an errno.
#pragma once

#include <cerrno>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <lxhost/arg_policy.h>
#include <lxhost/interfaces.h>
#include <lxhost/syscall_context.h>
#include <lxhost/syscall_table.h>

namespace lx::sdk {

/// The plugin ABI version. Bump on any change to a class or struct in the SDK headers.
inline constexpr std::uint32_t kAbiVersion = 4;

/// The backend an instance runs on: the families emulate on the NOTIFY and TRACE routes, or the
/// kernel does the work in the instance's namespaces (user, mount, PID, UTS) and the families
/// keep only what it cannot do. A plugin reads it in configure() and picks its rows for it.
enum class Backend : std::uint8_t {
  kEmulated,  ///< no namespaces: paths, processes and identity are the families' work
  kKernel,    ///< the instance is a set of namespaces: paths, pids and root are the kernel's
};

/// Returns "emulated" or "kernel".
constexpr const char* to_string(Backend b) noexcept { return b == Backend::kKernel ? "kernel" : "emulated"; }

/// The capabilities (bit c: capability c) a guest of a confined instance on the emulated backend
/// never holds, even when lx runs as root: each acts on the host as a whole (its clock, its
/// network configuration and traffic, its devices, modules, log, audit, power, namespaces and
/// mounts: CAP_SYS_ADMIN), not on what the guest can name in its instance. They are dropped from
/// the guest's bounding set at launch, so the kernel refuses what they guard. A family that
/// emulates a call one of them guards within the instance (mount, umount2: CAP_SYS_ADMIN) counts
/// it as held by a guest thread that holds every capability its bounding set has left.
struct NamedCapability {
  int cap;           ///< its number (linux/capability.h)
  const char* name;  ///< e.g. "CAP_SYS_ADMIN"
};
inline constexpr NamedCapability kWithheldCapabilityList[] = {
    {12, "CAP_NET_ADMIN"},   {13, "CAP_NET_RAW"},      {15, "CAP_IPC_OWNER"},          {16, "CAP_SYS_MODULE"},
    {17, "CAP_SYS_RAWIO"},   {20, "CAP_SYS_PACCT"},    {21, "CAP_SYS_ADMIN"},          {22, "CAP_SYS_BOOT"},
    {25, "CAP_SYS_TIME"},    {26, "CAP_SYS_TTY_CONFIG"}, {27, "CAP_MKNOD"},            {30, "CAP_AUDIT_CONTROL"},
    {32, "CAP_MAC_OVERRIDE"}, {33, "CAP_MAC_ADMIN"},   {34, "CAP_SYSLOG"},             {35, "CAP_WAKE_ALARM"},
    {36, "CAP_BLOCK_SUSPEND"}, {37, "CAP_AUDIT_READ"}, {38, "CAP_PERFMON"},            {39, "CAP_BPF"},
    {40, "CAP_CHECKPOINT_RESTORE"}};
/// kWithheldCapabilityList as a mask.
inline constexpr std::uint64_t kWithheldCapabilities = [] {
  std::uint64_t m = 0;
  for (const auto& c : kWithheldCapabilityList) m |= 1ull << c.cap;
  return m;
}();

/// How completely a plugin implements a syscall (printed by `lx syscalls`).
enum class Support : std::uint8_t {
  kFull,     ///< behaves as on native Linux
  kPartial,  ///< works for common uses; the note says what differs
  kErrno,    ///< always fails with an errno
};

/// Returns "full", "partial" or "errno".
constexpr const char* to_string(Support s) noexcept {
  switch (s) {
    case Support::kFull: return "full";
    case Support::kPartial: return "partial";
    case Support::kErrno: return "errno";
  }
  return "?";
}

/// One syscall a plugin takes on, with the route it asks for and its support level.
struct SyscallSpec {
  int nr = -1;                     ///< x86_64 syscall number
  Route route = Route::kNotify;    ///< route when no arg rule matches
  int errno_value = ENOSYS;        ///< errno for Route::kErrno
  std::vector<ArgRule> arg_rules;  ///< kernel-side rules tried before `route`
  Support support = Support::kFull;  ///< support level for the compatibility table
  std::string note;                ///< one line for the compatibility table
};

/// The value type of one config key a plugin accepts.
enum class ConfigType : std::uint8_t { kString, kInteger, kBoolean, kStringArray, kTableArray, kAny };

/// One key of the plugin's config table, used to validate it (unknown keys are errors).
struct ConfigKey {
  std::string name;         ///< key inside the family table
  ConfigType type;          ///< expected type
  std::string description;  ///< one line for `lx plugins`
};

/// A plugin's self-description.
struct PluginInfo {
  std::string name;         ///< plugin name ("fs")
  std::string version;      ///< plugin version ("0.1.0")
  std::string family;       ///< the family it serves ("fs", "proc", "net", "signal", ...)
  std::string description;  ///< one line
  std::string config_table; ///< name of its config table ("fs" for [fs]); empty: none
};

/// One table of an array of tables (each [[fs.mount]]): its keys by type.
struct ConfigTable {
  std::map<std::string, std::string, std::less<>> strings;     ///< string values
  std::map<std::string, std::int64_t, std::less<>> integers;   ///< integer values
  std::map<std::string, bool, std::less<>> booleans;           ///< boolean values
  /// The string at `key`, if set to a string.
  std::optional<std::string> get_string(std::string_view key) const {
    auto it = strings.find(key);
    return it == strings.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  /// The integer at `key`, if set to an integer.
  std::optional<std::int64_t> get_int(std::string_view key) const {
    auto it = integers.find(key);
    return it == integers.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
  }
  /// The boolean at `key`, if set to a boolean.
  std::optional<bool> get_bool(std::string_view key) const {
    auto it = booleans.find(key);
    return it == booleans.end() ? std::nullopt : std::optional<bool>(it->second);
  }
};

/// The plugin's view of its config table (e.g. [fs]), already merged from all layers.
class PluginConfig {
 public:
  virtual ~PluginConfig() = default;
  /// A string value, if the key is set to a string.
  virtual std::optional<std::string> get_string(std::string_view key) const noexcept = 0;
  /// An integer value, if the key is set to an integer.
  virtual std::optional<std::int64_t> get_int(std::string_view key) const noexcept = 0;
  /// A boolean value, if the key is set to a boolean.
  virtual std::optional<bool> get_bool(std::string_view key) const noexcept = 0;
  /// An array of strings, if the key is set to one.
  virtual std::optional<std::vector<std::string>> get_string_list(std::string_view key) const noexcept = 0;
  /// An array of tables ([[fs.mount]] is get_table_array("mount")), if the key is set to one.
  virtual std::optional<std::vector<ConfigTable>> get_table_array(std::string_view key) const noexcept = 0;
  /// The whole table as TOML text, for plugins with nested structure.
  virtual std::string toml() const noexcept = 0;
  /// Where a key was set ("file:line:column"), for the plugin's own error messages.
  virtual std::string where(std::string_view key) const noexcept = 0;
  /// The backend the instance runs on (decided before any plugin is configured).
  virtual Backend backend() const noexcept { return Backend::kEmulated; }
};

/// What plugins offer each other through the host: typed interfaces (see interfaces.h).
class PluginRegistry {
 public:
  virtual ~PluginRegistry() = default;
  /// The interface named `name` that a loaded plugin offers, or nullptr (use find<I>()).
  virtual void* find_interface(std::string_view name) const noexcept = 0;
  /// The interface I (a class of interfaces.h) that a loaded plugin offers, or nullptr. The
  /// pointer stays valid while the plugins are loaded: look it up once, in connect().
  template <class I>
  I* find() const noexcept {
    return static_cast<I*>(find_interface(I::kName));
  }
};

/// The interface every plugin implements. Use PluginBase rather than this directly.
class Plugin {
 public:
  virtual ~Plugin() = default;
  /// Name, version, family.
  virtual PluginInfo info() const noexcept = 0;
  /// The keys of the plugin's config table.
  virtual std::vector<ConfigKey> config_keys() const noexcept = 0;
  /// Reads the config. Returns an empty string on success, else one line saying what is wrong.
  virtual std::string configure(const PluginConfig& config) noexcept = 0;
  /// The syscalls taken on under the current config.
  virtual std::vector<SyscallSpec> syscalls() const noexcept = 0;
  /// Handles one syscall that arrived on the NOTIFY or TRACE route.
  virtual SyscallResult handle(SyscallContext& ctx) noexcept = 0;
  /// Called when a guest process or thread appears (`parent` is 0 for the first one).
  virtual void on_process_start(pid_t tid, pid_t parent) noexcept { (void)tid, (void)parent; }
  /// Called when a guest process or thread is gone.
  virtual void on_process_exit(pid_t tid) noexcept { (void)tid; }
  /// The interface named `name` this plugin offers other plugins, or nullptr.
  virtual void* query_interface(std::string_view name) noexcept {
    (void)name;
    return nullptr;
  }
  /// Called once every plugin is configured, with the registry of their interfaces.
  virtual void connect(const PluginRegistry& registry) noexcept { (void)registry; }
  /// Called when guest process `ctx.pid()` has just exec'd, stopped before its first instruction:
  /// its new memory can be read and written through `ctx` (nr() is meaningless here).
  virtual void on_exec(SyscallContext& ctx) noexcept { (void)ctx; }
};

/// The result that fails the call with errno `e` (shorthand for SyscallResult::error).
constexpr SyscallResult fail(int e) noexcept { return SyscallResult::error(e); }

/// One row of a plugin's syscall table, as in gVisor's linux64.go: the syscall, its policy (a
/// route, or arg rules then a route: see arg_policy.h), the handler, the support level and a
/// note for `lx syscalls`. `State` is what the handler works on (usually the plugin's state).
template <class State>
struct Row {
  /// A handler of this table: the call of one guest thread, on the plugin's state.
  using Handler = SyscallResult (*)(State&, SyscallContext&);
  int nr;                            ///< the syscall (sys::openat)
  Policy policy;                     ///< how the kernel routes it (Notify(), If(...).Else(...))
  Handler handler = nullptr;         ///< for NOTIFY/TRACE routes; nullptr for kernel-only ones
  Support support = Support::kFull;  ///< for the compatibility table
  std::string_view note = {};        ///< one line for the compatibility table
};

/// Convenience base: a plugin declares its rows (add_rows, or add per syscall); `handle`
/// dispatches to them and turns any exception into EIO so that none crosses the plugin ABI.
class PluginBase : public Plugin {
 public:
  /// A handler: returns the result for one call.
  using Handler = std::function<SyscallResult(SyscallContext&)>;

  void* query_interface(std::string_view name) noexcept override {
    for (const auto& [n, p] : offered_)
      if (n == name) return p;
    return nullptr;
  }

  std::vector<SyscallSpec> syscalls() const noexcept override {
    std::vector<SyscallSpec> out;
    try {
      out.reserve(entries_.size());
      for (const auto& [nr, e] : entries_) out.push_back(e.spec);
    } catch (...) {
      out.clear();
    }
    return out;
  }

  SyscallResult handle(SyscallContext& ctx) noexcept override {
    auto it = entries_.find(ctx.nr());
    if (it == entries_.end() || !it->second.handler) return SyscallResult::continue_native();
    try {
      return it->second.handler(ctx);
    } catch (...) {
      return SyscallResult::error(EIO);
    }
  }

 protected:
  /// Takes on syscall `spec.nr` with `handler` (may be empty for kernel-only routes).
  void add(SyscallSpec spec, Handler handler = {}) {
    int nr = spec.nr;
    entries_[nr] = Entry{std::move(spec), std::move(handler)};
  }
  /// Takes on every syscall of `rows`, each handled on `state` (which must outlive the plugin's
  /// use of the rows). A later row for the same syscall replaces an earlier one.
  template <class State>
  void add_rows(State& state, std::span<const Row<State>> rows) {
    for (const Row<State>& r : rows) add_row(state, r);
  }
  /// Takes on the syscall of one row (see add_rows).
  template <class State>
  void add_row(State& state, const Row<State>& r) {
    SyscallSpec spec;
    spec.nr = r.nr;
    spec.route = r.policy.otherwise.route;
    spec.errno_value = r.policy.otherwise.errno_value;
    spec.arg_rules = r.policy.rules;
    spec.support = r.support;
    spec.note = std::string(r.note);
    Handler h;
    if (r.handler) h = [&state, fn = r.handler](SyscallContext& ctx) { return fn(state, ctx); };
    add(std::move(spec), std::move(h));
  }
  /// Forgets every registered syscall (call at the start of configure()).
  void clear_syscalls() noexcept { entries_.clear(); }
  /// Offers interface I (a class of interfaces.h) to other plugins, implemented by `impl`
  /// (nullptr withdraws it). Call from configure(); others find it in connect().
  template <class I>
  void offer(I* impl) {
    for (auto it = offered_.begin(); it != offered_.end(); ++it)
      if (it->first == I::kName) {
        offered_.erase(it);
        break;
      }
    if (impl) offered_.emplace_back(I::kName, static_cast<void*>(impl));
  }

 private:
  struct Entry {
    SyscallSpec spec;
    Handler handler;
  };
  std::map<int, Entry> entries_;
  std::vector<std::pair<std::string_view, void*>> offered_;
};

}  // namespace lx::sdk

// Exports plugin class `Class` (default-constructible, derived from lx::sdk::Plugin) with the
// ABI version it was built for. Use once per plugin library, at namespace scope.
#include <boost/dll/alias.hpp>

namespace lx::sdk::detail {
/// The signature of the exported factory.
using PluginFactory = lx::sdk::Plugin*();
/// The signature of the exported ABI query.
using AbiVersionFn = std::uint32_t();
}  // namespace lx::sdk::detail

#define LXHOST_PLUGIN(Class)                                                          \
  namespace lxhost_plugin_export {                                                    \
  inline std::uint32_t abi_version() { return ::lx::sdk::kAbiVersion; }               \
  inline ::lx::sdk::Plugin* create_plugin() {                                         \
    try {                                                                             \
      return new Class();                                                             \
    } catch (...) {                                                                   \
      return nullptr;                                                                 \
    }                                                                                 \
  }                                                                                   \
  }                                                                                   \
  BOOST_DLL_ALIAS(lxhost_plugin_export::abi_version, lxhost_abi_version)              \
  BOOST_DLL_ALIAS(lxhost_plugin_export::create_plugin, lxhost_create_plugin)
