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
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <lxhost/syscall_context.h>

namespace lx::sdk {

/// The plugin ABI version. Bump on any change to a class or struct in the SDK headers.
inline constexpr std::uint32_t kAbiVersion = 2;

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

/// A comparison of one integer syscall argument, evaluated by the kernel in the BPF filter.
struct ArgCondition {
  /// The comparison.
  enum class Op : std::uint8_t {
    kEq,        ///< arg == value
    kNe,        ///< arg != value
    kLt,        ///< arg < value (unsigned)
    kGe,        ///< arg >= value (unsigned)
    kMaskedEq,  ///< (arg & mask) == value
  };
  /// Which argument is compared.
  enum class Width : std::uint8_t {
    k32,  ///< the low 32 bits only (an `int` argument: the kernel ignores the high half)
    k64,  ///< the whole 64-bit register
  };
  int arg = 0;               ///< argument index, 0..5
  Op op = Op::kEq;           ///< comparison
  std::uint64_t value = 0;   ///< right-hand side
  std::uint64_t mask = ~0ull;  ///< for kMaskedEq
  Width width = Width::k32;  ///< compared width
};

/// A rule on integer arguments: when all conditions hold, the call takes `route` (and `errno_value`
/// for Route::kErrno). Rules of a syscall are tried in order; the first that matches wins.
struct ArgRule {
  std::vector<ArgCondition> all_of;  ///< conditions that must all hold (empty: always)
  Route route = Route::kAllow;       ///< route when they hold
  int errno_value = 0;               ///< errno for Route::kErrno
};

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
  /// The whole table as TOML text, for plugins with nested structure.
  virtual std::string toml() const noexcept = 0;
  /// Where a key was set ("file:line:column"), for the plugin's own error messages.
  virtual std::string where(std::string_view key) const noexcept = 0;
};

/// What plugins offer each other through the host: named interfaces (see path_resolver.h).
class PluginRegistry {
 public:
  virtual ~PluginRegistry() = default;
  /// The interface named `name` that a loaded plugin offers, or nullptr. The pointer stays valid
  /// while the plugins are loaded; cast it to the interface's type (its header says which).
  virtual void* find_interface(std::string_view name) const noexcept = 0;
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

/// Convenience base: register handlers per syscall with `add`; `handle` dispatches to them and
/// turns any exception into EIO so that none crosses the plugin ABI.
class PluginBase : public Plugin {
 public:
  /// A handler: returns the result for one call.
  using Handler = std::function<SyscallResult(SyscallContext&)>;

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
  /// Forgets every registered syscall (call at the start of configure()).
  void clear_syscalls() noexcept { entries_.clear(); }

 private:
  struct Entry {
    SyscallSpec spec;
    Handler handler;
  };
  std::map<int, Entry> entries_;
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
