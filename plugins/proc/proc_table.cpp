// The proc family's table: the fake root's identity and capabilities, the process limit, the
// uname personality, and execve in a guest root.
#include "proc_table.h"

#include <cerrno>
#include <vector>

#include "handlers.h"

namespace lx::proc {
namespace {

namespace sys = sdk::sys;
using sdk::policy::Error;
using sdk::policy::Notify;
using sdk::policy::Trace;
constexpr auto kFull = sdk::Support::kFull;
constexpr auto kPartial = sdk::Support::kPartial;
constexpr auto kErrno = sdk::Support::kErrno;
constexpr auto kFakeRoot = When::kFakeRoot;
constexpr auto kLimit = When::kProcessLimit;
constexpr auto kReal = When::kRealCredentials;

constexpr const char* kRoot = "fake root";
constexpr const char* kRemembered = "fake root: succeeds, remembered";
constexpr const char* kReread = "native; what is done on the caller's behalf is done with its new credentials";
constexpr const char* kGuarded = "fake root: EPERM without its capability in the emulated set, then native";
constexpr const char* kLimited = "limited by [proc] max_processes";

const std::vector<ProcRow> kTable = {
    // Identity under fake root.
    {kFakeRoot, {sys::getuid, Notify(), handle_getuid, kFull, kRoot}},
    {kFakeRoot, {sys::geteuid, Notify(), handle_geteuid, kFull, kRoot}},
    {kFakeRoot, {sys::getgid, Notify(), handle_getgid, kFull, kRoot}},
    {kFakeRoot, {sys::getegid, Notify(), handle_getegid, kFull, kRoot}},
    {kFakeRoot, {sys::getresuid, Notify(), handle_getresuid, kFull, kRoot}},
    {kFakeRoot, {sys::getresgid, Notify(), handle_getresgid, kFull, kRoot}},
    {kFakeRoot, {sys::setuid, Notify(), handle_setuid, kFull, kRemembered}},
    {kFakeRoot, {sys::setgid, Notify(), handle_setgid, kFull, kRemembered}},
    {kFakeRoot, {sys::setreuid, Notify(), handle_setreuid, kFull, kRoot}},
    {kFakeRoot, {sys::setregid, Notify(), handle_setregid, kFull, kRoot}},
    {kFakeRoot, {sys::setresuid, Notify(), handle_setresuid, kFull, kRoot}},
    {kFakeRoot, {sys::setresgid, Notify(), handle_setresgid, kFull, kRoot}},
    {kFakeRoot, {sys::setfsuid, Notify(), handle_setfsuid, kFull, kRoot}},
    {kFakeRoot, {sys::setfsgid, Notify(), handle_setfsgid, kFull, kRoot}},
    {kFakeRoot, {sys::getgroups, Notify(), handle_getgroups, kFull, kRoot}},
    {kFakeRoot, {sys::setgroups, Notify(), handle_setgroups, kFull, kRoot}},
    // Capabilities under fake root.
    {kFakeRoot, {sys::capget, Notify(), handle_capget, kFull,
                 "fake root: the emulated capability sets; pids outside the instance: ESRCH"}},
    {kFakeRoot, {sys::capset, Notify(), handle_capset, kFull, "fake root: the emulated capability sets"}},
    {kFakeRoot, {sys::prctl, Notify(), handle_prctl, kPartial,
                 "fake root: PR_SET_KEEPCAPS/PR_GET_KEEPCAPS emulated; the rest native"}},
    {kFakeRoot, {sys::sethostname, Notify(), handle_guarded_call, kFull, kGuarded}},
    {kFakeRoot, {sys::setdomainname, Notify(), handle_guarded_call, kFull, kGuarded}},
    {kFakeRoot, {sys::settimeofday, Notify(), handle_guarded_call, kFull, kGuarded}},
    {kFakeRoot, {sys::clock_settime, Notify(), handle_guarded_call, kFull, kGuarded}},
    {kFakeRoot, {sys::reboot, Notify(), handle_guarded_call, kFull, kGuarded}},
    // Real credentials, in a privileged lx without fake root: the kernel changes them, the
    // plugins acting on the thread's behalf read them anew (RealCredentials).
    {kReal, {sys::setuid, Notify(), handle_credential_change, kFull, kReread}},
    {kReal, {sys::setgid, Notify(), handle_credential_change, kFull, kReread}},
    {kReal, {sys::setreuid, Notify(), handle_credential_change, kFull, kReread}},
    {kReal, {sys::setregid, Notify(), handle_credential_change, kFull, kReread}},
    {kReal, {sys::setresuid, Notify(), handle_credential_change, kFull, kReread}},
    {kReal, {sys::setresgid, Notify(), handle_credential_change, kFull, kReread}},
    {kReal, {sys::setfsuid, Notify(), handle_credential_change, kFull, kReread}},
    {kReal, {sys::setfsgid, Notify(), handle_credential_change, kFull, kReread}},
    {kReal, {sys::setgroups, Notify(), handle_credential_change, kFull, kReread}},
    {kReal, {sys::capset, Notify(), handle_credential_change, kFull, kReread}},
    // The process limit.
    {kLimit, {sys::fork, Notify(), handle_fork, kFull, kLimited}},
    {kLimit, {sys::vfork, Notify(), handle_fork, kFull, kLimited}},
    {kLimit, {sys::clone, Notify(), handle_fork, kFull, kLimited}},
    {kLimit, {sys::clone3, Notify(), handle_fork, kFull, kLimited}},
    // The uname personality.
    {When::kUtsName, {sys::uname, Notify(), handle_uname, kFull, "hostname/release from [proc]"}},
    // The uname release under the kernel backend: uname is answered outside the instance, so its
    // nodename (the UTS namespace's, set from [proc] hostname) must stay what it was set to.
    {When::kKernelRelease, {sys::uname, Notify(), handle_uname, kFull,
                            "release from [proc]; nodename the instance's UTS namespace's ([proc] hostname)"}},
    {When::kKernelRelease, {sys::sethostname, Error(EPERM), nullptr, kErrno,
                            "EPERM: the hostname stays [proc] hostname while uname's release is faked"}},
    {When::kKernelRelease, {sys::setdomainname, Error(EPERM), nullptr, kErrno,
                            "EPERM: the domain name stays the host's while uname's release is faked"}},
    // execve in a guest root.
    {When::kGuestRoot, {sys::execve, Trace(), handle_execve, kPartial,
                        "program, #! and ELF interpreters from the guest root; argv[0], AT_EXECFN, "
                        "/proc/self/exe as native"}},
    {When::kGuestRoot, {sys::execveat, Trace(), handle_execveat, kPartial,
                        "as execve; AT_EMPTY_PATH runs the fd natively"}},
};

}  // namespace

std::span<const ProcRow> proc_table() { return kTable; }

}  // namespace lx::proc
