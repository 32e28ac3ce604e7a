// The networking family plugin: address-family policy compiled into the BPF filter, a
// loopback-only policy decided on the sockaddr the guest passed, guest→host port mapping, and
// AF_UNIX socket paths translated into the guest root through the fs family's PathResolver.
// Its calls are the rows of net_table.cpp, handled by the topic files of handlers.h; this class
// reads the config and takes the rows on. Under the kernel backend the instance's mount namespace
// makes AF_UNIX path translation needless (no PathResolver is used); the policy is the same, and
// an AF_UNIX path in a call done on behalf of the guest is resolved in the guest's own view.
#include <cerrno>
#include <exception>
#include <string>
#include <vector>

#include <lxhost/interfaces.h>
#include <lxhost/plugin.h>

#include "net_config.h"
#include "net_state.h"
#include "net_table.h"

namespace lx::net {
namespace {

class NetPlugin final : public sdk::PluginBase {
 public:
  sdk::PluginInfo info() const noexcept override {
    return {"net", "0.1.0", "net", "address-family and port policy, AF_UNIX paths in the guest root", "net"};
  }

  std::vector<sdk::ConfigKey> config_keys() const noexcept override {
    try {
      return net_config_keys();
    } catch (...) {
      return {};
    }
  }

  std::string configure(const sdk::PluginConfig& cfg) noexcept override {
    try {
      clear_syscalls();
      state_.own_creds = OwnCredentials::current();
      if (std::string e = read_config(cfg, state_); !e.empty()) return e;
      state_.kernel = cfg.backend() == sdk::Backend::kKernel;
      if (state_.kernel) state_.paths = nullptr;
      take_rows_on();
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  void connect(const sdk::PluginRegistry& registry) noexcept override {
    state_.paths = state_.kernel ? nullptr : registry.find<sdk::PathResolver>();
    state_.guest_creds = registry.find<sdk::GuestCredentials>();
    try {
      take_rows_on();  // AF_UNIX translation needs calls that only a translating fs asks for
    } catch (...) {
    }
  }

  // Every call is done with the calling guest thread's credentials (base/acting_as.h): a bind
  // to a port below 1024 needs its CAP_NET_BIND_SERVICE, an AF_UNIX path its permissions.
  sdk::SyscallResult handle(sdk::SyscallContext& ctx) noexcept override {
    ActingAs as(state_.guest_creds, state_.own_creds, ctx);
    if (!as.ok()) return sdk::fail(EPERM);
    return PluginBase::handle(ctx);
  }

 private:
  void take_rows_on() {
    clear_syscalls();
    for (const NetRow& r : net_table(state_))
      if (applies(state_, r.when)) add_row(state_, r.row);
  }

  NetState state_;
};

}  // namespace
}  // namespace lx::net

LXHOST_PLUGIN(lx::net::NetPlugin)
