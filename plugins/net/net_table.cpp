// The net family's table (see net_table.h). With the default config it takes on nothing: no
// syscall comes to the NOTIFY or TRACE routes. Once any address policy is on, every call that
// carries an address to the kernel (bind, connect, sendto, sendmsg, sendmmsg) is done on behalf
// of the guest on its own socket with the address read once, checked and translated (never
// continued natively: the guest could rewrite the address or swap the fd before the kernel reads
// it); calls that return an address give it in guest terms.
#include "net_table.h"

#include <sys/socket.h>

#include <cerrno>

#include "handlers.h"

namespace lx::net {
namespace {

using namespace sdk::policy;  // NOLINT: the table reads as bpf_dsl
namespace sys = sdk::sys;
constexpr auto kDomains = When::kDomainsRestricted;
constexpr auto kAddresses = When::kAddresses;
constexpr auto kFull = sdk::Support::kFull;
constexpr auto kPartial = sdk::Support::kPartial;
using sdk::Policy;

// Runs natively, in the kernel, when pointer argument `i` is NULL (no address given or wanted).
Policy native_when_null(int i) { return If(Arg<std::uint64_t>(i) == std::uint64_t{0}, Allow()).Else(Notify()); }

constexpr const char* kNames =
    "guest port / guest path; a path outside the guest's world shows unnamed";
constexpr const char* kKernelNames = "guest port; an AF_UNIX name as the kernel keeps it (the guest's own)";

// The note of a row whose AF_UNIX part differs under the kernel backend, where a path is the
// guest's mount namespace's and is resolved as the guest sees it, never translated.
const char* per_backend(const NetState& state, const char* emulated, const char* kernel) {
  return state.kernel ? kernel : emulated;
}

}  // namespace

Policy domain_policy(std::span<const int> allowed) {
  if (allowed.empty()) return Error(EAFNOSUPPORT);
  Chain chain = If(Arg<int>(0) == allowed.front(), Allow());
  for (int af : allowed.subspan(1)) chain.ElseIf(Arg<int>(0) == af, Allow());
  return chain.Else(Error(EAFNOSUPPORT));
}

bool applies(const NetState& state, When when) noexcept {
  switch (when) {
    case When::kDomainsRestricted: return state.restrict_domains;
    case When::kAddresses: return state.handles_addresses();
  }
  return false;
}

std::vector<NetRow> net_table(const NetState& state) {
  const Policy by_domain = domain_policy(state.domains);
  std::vector<NetRow> rows{
      // Socket creation: the domain policy, decided in the kernel.
      {kDomains, {sys::socket, by_domain, nullptr, kFull, "domain policy, decided in the kernel"}},
      {kDomains, {sys::socketpair, by_domain, nullptr, kFull, "domain policy, decided in the kernel"}},

      // Calls that pass an address: on behalf, the address checked and translated.
      {kAddresses, {sys::bind, Notify(), handle_bind, kPartial,
                    per_backend(state,
                                "on behalf: policy, port map; an AF_UNIX path bound by its translated host path (a "
                                "directory swapped for a symlink during the call is followed)",
                                "on behalf: policy, port map; an AF_UNIX path resolved as the guest sees it and "
                                "bound in its directory (the socket's name is then its last component)")}},
      {kAddresses, {sys::connect, Notify(), handle_connect, kPartial,
                    per_backend(state,
                                "on behalf: policy, port map, AF_UNIX path translated and pinned; SO_PEERCRED of its "
                                "peer names the guest (getsockopt), a server outside the instance sees lx",
                                "on behalf: policy, port map, AF_UNIX path resolved as the guest sees it and pinned "
                                "(the socket's write permission checked for the host user); SO_PEERCRED names the "
                                "instance")}},
      {kAddresses, {sys::sendto, native_when_null(4), handle_sendto, kFull,
                    "no address: native, in the kernel; else on behalf with the address checked and translated"}},
      {kAddresses, {sys::sendmsg, Notify(), handle_sendmsg, kPartial,
                    "on behalf: destination checked and translated, SCM_RIGHTS carries the guest's fds; "
                    "SCM_CREDENTIALS only where the instance has CAP_SYS_ADMIN (EPERM otherwise)"}},
      {kAddresses, {sys::sendmmsg, Notify(), handle_sendmmsg, kPartial,
                    "as sendmsg, message by message; msg_len and the count as natively"}},

      // Calls that return an address: given in guest terms.
      {kAddresses, {sys::recvfrom, native_when_null(4), handle_recvfrom, kPartial,
                    per_backend(state,
                                "no address: native, in the kernel; else an AF_UNIX or port-mapped socket's source "
                                "in guest terms (on behalf; its blocking wait ends on the thread's signals, or the "
                                "process's when it has one thread)",
                                "no address or an AF_UNIX socket: native, in the kernel; else a port-mapped socket's "
                                "source in guest terms (on behalf; its blocking wait ends on the thread's signals, "
                                "or the process's when it has one thread)")}},
      {kAddresses, {sys::recvmsg, Notify(), handle_recvmsg, kPartial,
                    per_backend(state,
                                "source in guest terms (on behalf); an AF_UNIX call asking for control data too "
                                "runs natively (received fds cannot be installed), its source then a host path",
                                "a port-mapped socket's source in guest terms (on behalf); an AF_UNIX socket's call "
                                "native")}},
      {kAddresses, {sys::recvmmsg, Notify(), handle_recvmmsg, kPartial,
                    "as recvmsg, message by message; timeout checked after each message as natively"}},
      {kAddresses, {sys::accept, native_when_null(1), handle_accept, kPartial,
                    "no address: native, in the kernel; else the peer in guest terms, fd installed with ADDFD "
                    "(two threads accepting at once on a blocking socket can leave one waiting past its "
                    "signals)"}},
      {kAddresses, {sys::accept4, native_when_null(1), handle_accept4, kPartial,
                    "as accept; SOCK_CLOEXEC and SOCK_NONBLOCK kept"}},
      {kAddresses, {sys::getsockname, Notify(), handle_getsockname, kFull, per_backend(state, kNames, kKernelNames)}},
      {kAddresses, {sys::getpeername, Notify(), handle_getpeername, kFull, per_backend(state, kNames, kKernelNames)}},
  };
  // The kernel backend's pids are its PID namespace's: its on-behalf connects keep lx's pid.
  if (!state.kernel)
    rows.push_back({kAddresses,
                    {sys::getsockopt, If(Arg<int>(1) == SOL_SOCKET && Arg<int>(2) == SO_PEERCRED, Notify()).Else(Allow()),
                     handle_peercred, kFull,
                     "SO_PEERCRED: on behalf, the pid of the guest process that connected where lx connected "
                     "for it; every other option native, in the kernel"}});
  return rows;
}

}  // namespace lx::net
