// What the backend tests of the family plugins share (backend_routes_test: *_backend_test.cpp):
// the built plugins loaded as the runtime loads them, configured with a fake [family] table that
// says which backend the instance runs on, and asked which syscalls they want and what they ask of
// the kernel (their KernelConfigurator part).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <lxhost/interfaces.h>
#include <lxhost/plugin.h>

#include "runtime/plugin_loader.h"
#include "unprivileged.h"

namespace lx::backend_test {

namespace sys = sdk::sys;
using sdk::Backend;
using Kind = sdk::KernelMount::Kind;

// A family's config table as the config layer gives it, on a chosen backend.
class FakeConfig : public sdk::PluginConfig {
 public:
  explicit FakeConfig(Backend backend) : backend_(backend) {}
  std::map<std::string, std::string, std::less<>> strings;
  std::map<std::string, std::int64_t, std::less<>> integers;
  std::map<std::string, bool, std::less<>> booleans;
  std::map<std::string, std::vector<std::string>, std::less<>> lists;
  std::map<std::string, std::vector<sdk::ConfigTable>, std::less<>> tables;

  std::optional<std::string> get_string(std::string_view key) const noexcept override { return find(strings, key); }
  std::optional<std::int64_t> get_int(std::string_view key) const noexcept override { return find(integers, key); }
  std::optional<bool> get_bool(std::string_view key) const noexcept override { return find(booleans, key); }
  std::optional<std::vector<std::string>> get_string_list(std::string_view key) const noexcept override {
    return find(lists, key);
  }
  std::optional<std::vector<sdk::ConfigTable>> get_table_array(std::string_view key) const noexcept override {
    return find(tables, key);
  }
  std::string toml() const noexcept override { return {}; }
  std::string where(std::string_view key) const noexcept override { return "test.toml:" + std::string(key); }
  Backend backend() const noexcept override { return backend_; }

 private:
  template <class M>
  static std::optional<typename M::mapped_type> find(const M& m, std::string_view key) {
    auto it = m.find(key);
    return it == m.end() ? std::nullopt : std::optional<typename M::mapped_type>(it->second);
  }
  Backend backend_;
};

// Interfaces other plugins offer, by name.
class FakeRegistry : public sdk::PluginRegistry {
 public:
  std::map<std::string, void*, std::less<>> offered;
  void* find_interface(std::string_view name) const noexcept override {
    auto it = offered.find(name);
    return it == offered.end() ? nullptr : it->second;
  }
};

// A PathResolver that resolves nothing: what a translating fs plugin would offer.
class NoPaths final : public sdk::PathResolver {
 public:
  int host_path(pid_t, int, const std::string&, bool, std::string&) noexcept override { return ENOENT; }
  std::string guest_path(const std::string&) noexcept override { return {}; }
  int exec_paths(pid_t, int, const std::string&, std::string&, std::string&, FileId&) noexcept override {
    return ENOENT;
  }
};

// One family plugin, loaded from the build tree.
class Family {
 public:
  explicit Family(const std::string& name) {
    auto loaded = runtime::load_plugin(std::string(PLUGIN_DIR) + "/lxhost-" + name + ".so");
    if (!loaded) ADD_FAILURE() << "loading " << name << ": " << loaded.error().message;
    else plugin_ = *loaded;
  }
  sdk::Plugin& plugin() { return plugin_->plugin(); }
  std::string configure(const FakeConfig& cfg) { return plugin().configure(cfg); }

  // The syscalls it asks for, by number.
  std::map<int, sdk::SyscallSpec> specs() {
    std::map<int, sdk::SyscallSpec> out;
    for (auto& s : plugin().syscalls()) out[s.nr] = s;
    return out;
  }
  // The names of the syscalls it asks for.
  std::set<std::string> names() {
    std::set<std::string> out;
    for (auto& [nr, s] : specs()) out.insert(std::string(sdk::SyscallTable::name(nr)));
    return out;
  }
  template <class I>
  I* offered() {
    return static_cast<I*>(plugin().query_interface(I::kName));
  }
  // Its part of a fresh plan (it must offer KernelConfigurator, and its part must succeed).
  sdk::KernelPlan plan() {
    sdk::KernelPlan plan;
    auto* k = offered<sdk::KernelConfigurator>();
    if (!k) {
      ADD_FAILURE() << "no KernelConfigurator offered";
      return plan;
    }
    if (std::string err = k->configure_kernel(plan); !err.empty()) ADD_FAILURE() << err;
    return plan;
  }

 private:
  std::shared_ptr<runtime::LoadedPlugin> plugin_;
};

inline std::string real(const std::string& p) {
  char buf[PATH_MAX];
  return realpath(p.c_str(), buf) ? buf : p;
}

inline sdk::ConfigTable mount_table(const std::string& host, const std::string& guest, bool read_only = false) {
  sdk::ConfigTable t;
  t.strings = {{"host", host}, {"guest", guest}};
  t.booleans = {{"read_only", read_only}};
  return t;
}

// "kind host guest [ro]" of each mount, for comparing plans.
inline std::vector<std::string> described(const std::vector<sdk::KernelMount>& mounts) {
  std::vector<std::string> out;
  for (const auto& m : mounts) {
    const char* k = m.kind == Kind::kBind ? "bind" : m.kind == Kind::kProc ? "proc" : "dev";
    out.push_back(std::string(k) + " " + m.host + " " + m.guest + (m.read_only ? " ro" : ""));
  }
  return out;
}

}  // namespace lx::backend_test
