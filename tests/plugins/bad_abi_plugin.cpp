// A plugin that claims another ABI version: the host must refuse it before calling anything else.
#include <cstdint>
#include <cstdlib>

#include <lxhost/plugin.h>

namespace bad_abi {
std::uint32_t abi_version() { return lx::sdk::kAbiVersion + 41; }
lx::sdk::Plugin* create_plugin() { std::abort(); }  // must never be called
}  // namespace bad_abi

BOOST_DLL_ALIAS(bad_abi::abi_version, lxhost_abi_version)
BOOST_DLL_ALIAS(bad_abi::create_plugin, lxhost_create_plugin)
