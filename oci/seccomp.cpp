// Compiling an OCI seccomp profile (see seccomp.h).
#include "oci/seccomp.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "base/unique_fd.h"

namespace lx::oci {
namespace {

using nlohmann::json;

Error field_error(const std::string& field, const std::string& why) { return Error{EINVAL, field + ": " + why}; }

// The libseccomp action of "SCMP_ACT_ERRNO" and friends; `errno_ret` for ERRNO and TRACE.
Result<std::uint32_t> action_of(const json& name, const json* errno_ret, int default_errno, const std::string& field) {
  if (!name.is_string()) return field_error(field, "must be a string");
  std::string a = name.get<std::string>();
  int e = default_errno;
  if (errno_ret) {
    if (!errno_ret->is_number_unsigned() || errno_ret->get<std::uint64_t>() > 4095)
      return field_error(field, "errnoRet must be 0 to 4095");
    e = static_cast<int>(errno_ret->get<std::uint64_t>());
  }
  if (a == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (a == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(static_cast<std::uint16_t>(e));
  if (a == "SCMP_ACT_KILL" || a == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (a == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (a == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (a == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (a == "SCMP_ACT_TRACE")
    return field_error(field, "SCMP_ACT_TRACE is not supported by lxhost-runc (lxhost traces the guest itself)");
  if (a == "SCMP_ACT_NOTIFY")
    return field_error(field, "SCMP_ACT_NOTIFY is not supported by lxhost-runc (lxhost's plugins are the listener)");
  return field_error(field, "unknown action \"" + a + "\"");
}

Result<scmp_compare> op_of(const json& j, const std::string& field) {
  if (!j.is_string()) return field_error(field, "must be a string");
  std::string o = j.get<std::string>();
  if (o == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (o == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (o == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (o == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (o == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (o == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (o == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return field_error(field, "unknown operator \"" + o + "\"");
}

Result<std::uint32_t> arch_of(const json& j, const std::string& field) {
  if (!j.is_string()) return field_error(field, "must be a string");
  std::string a = j.get<std::string>();
  if (a == "SCMP_ARCH_X86_64") return SCMP_ARCH_X86_64;
  if (a == "SCMP_ARCH_X86") return SCMP_ARCH_X86;
  if (a == "SCMP_ARCH_X32") return SCMP_ARCH_X32;
  return 0;  // another machine's: nothing of it can run here
}

std::uint64_t uint_or(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<std::uint64_t>() : 0;
}

// Adds rule `r` (syscalls[`i`]) of a profile whose default action is `def` to `ctx`.
Result<void> add_rule(scmp_filter_ctx ctx, const json& r, std::size_t i, std::uint32_t def) {
  const std::string base = "linux.seccomp";
  std::string f = fmt::format("{}.syscalls[{}]", base, i);
  if (!r.is_object()) return field_error(f, "must be an object");
  for (const auto& [k, v] : r.items())
    if (k != "names" && k != "action" && k != "errnoRet" && k != "args" && k != "comment" && k != "includes" &&
        k != "excludes")
      return field_error(f + "." + k, "is not supported by lxhost-runc");
  if (!r.contains("names") || !r["names"].is_array()) return field_error(f + ".names", "must be an array of names");
  if (!r.contains("action")) return field_error(f + ".action", "is required");
  LX_TRY_ASSIGN(act, action_of(r["action"], r.contains("errnoRet") ? &r["errnoRet"] : nullptr, EPERM, f + ".action"));
  std::vector<scmp_arg_cmp> cmps;
  if (r.contains("args") && !r["args"].is_null()) {
    if (!r["args"].is_array() || r["args"].size() > 6) return field_error(f + ".args", "must be an array of at most 6");
    for (std::size_t a = 0; a < r["args"].size(); ++a) {
      const json& c = r["args"][a];
      std::string af = fmt::format("{}.args[{}]", f, a);
      if (!c.is_object() || !c.contains("index") || !c["index"].is_number_unsigned() || c["index"].get<unsigned>() > 5)
        return field_error(af + ".index", "must be 0 to 5");
      if (!c.contains("op")) return field_error(af + ".op", "is required");
      LX_TRY_ASSIGN(op, op_of(c["op"], af + ".op"));
      cmps.push_back(scmp_arg_cmp{c["index"].get<unsigned>(), op, uint_or(c, "value"), uint_or(c, "valueTwo")});
    }
  }
  if (act == def) return ok();  // libseccomp refuses a rule that repeats the default
  for (std::size_t n = 0; n < r["names"].size(); ++n) {
    if (!r["names"][n].is_string()) return field_error(fmt::format("{}.names[{}]", f, n), "must be a string");
    std::string name = r["names"][n].get<std::string>();
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not a call of this kernel's ABI (runc skips them too)
    int rc = seccomp_rule_add_array(ctx, act, nr, static_cast<unsigned>(cmps.size()), cmps.data());
    // Comparisons libseccomp cannot join in one rule (two of one argument) become one rule each,
    // as runc makes them: an ALLOW rule then allows less, a deny rule denies more.
    if (rc == -EINVAL && cmps.size() > 1) {
      rc = 0;
      for (const auto& cmp : cmps) {
        rc = seccomp_rule_add_array(ctx, act, nr, 1, &cmp);
        if (rc != 0) break;
      }
    }
    if (rc != 0 && rc != -EEXIST)
      return Error{-rc, fmt::format("{}: {}: seccomp_rule_add failed: {}", f, name, std::strerror(-rc))};
  }
  return ok();
}

}  // namespace

Result<std::vector<sock_filter>> compile_seccomp(const json& j) {
  const std::string base = "linux.seccomp";
  if (!j.is_object()) return field_error(base, "must be an object");
  for (const auto& [k, v] : j.items()) {
    if (k == "defaultAction" || k == "defaultErrnoRet" || k == "architectures" || k == "syscalls") continue;
    if (k == "flags" && v.is_array() && v.empty()) continue;
    if (v.is_null()) continue;
    return field_error(base + "." + k, "is not supported by lxhost-runc");
  }
  if (!j.contains("defaultAction")) return field_error(base + ".defaultAction", "is required");
  int default_errno = EPERM;
  if (j.contains("defaultErrnoRet")) {
    if (!j["defaultErrnoRet"].is_number_unsigned() || j["defaultErrnoRet"].get<std::uint64_t>() > 4095)
      return field_error(base + ".defaultErrnoRet", "must be 0 to 4095");
    default_errno = static_cast<int>(j["defaultErrnoRet"].get<std::uint64_t>());
  }
  LX_TRY_ASSIGN(def, action_of(j["defaultAction"], nullptr, default_errno, base + ".defaultAction"));
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(def), seccomp_release);
  if (!ctx) return Error{ENOMEM, "seccomp_init failed"};
  // lxhost sets no_new_privs itself; the rules must not be dropped for a rule equal to the default.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (j.contains("architectures")) {
    if (!j["architectures"].is_array()) return field_error(base + ".architectures", "must be an array");
    for (std::size_t i = 0; i < j["architectures"].size(); ++i) {
      LX_TRY_ASSIGN(arch, arch_of(j["architectures"][i], fmt::format("{}.architectures[{}]", base, i)));
      if (arch == 0 || arch == SCMP_ARCH_X86_64) continue;  // native is in the context already
      int rc = seccomp_arch_add(ctx.get(), arch);
      if (rc != 0 && rc != -EEXIST) return Error{-rc, fmt::format("{}.architectures[{}]: seccomp_arch_add failed", base, i)};
    }
  }
  if (j.contains("syscalls")) {
    const json& sc = j["syscalls"];
    if (!sc.is_array()) return field_error(base + ".syscalls", "must be an array");
    for (std::size_t i = 0; i < sc.size(); ++i) LX_TRY(add_rule(ctx.get(), sc[i], i, def));
  }
  UniqueFd mem(memfd_create("lxhost-seccomp", MFD_CLOEXEC));
  if (!mem) return Error::from_errno("memfd_create");
  if (int rc = seccomp_export_bpf(ctx.get(), mem.get()); rc != 0)
    return Error{-rc, fmt::format("seccomp_export_bpf failed: {}", std::strerror(-rc))};
  off_t size = lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) return Error{EINVAL, "seccomp_export_bpf wrote no program"};
  std::vector<sock_filter> prog(static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (pread(mem.get(), prog.data(), static_cast<std::size_t>(size), 0) != size) return Error::from_errno("reading the seccomp program");
  if (prog.size() > BPF_MAXINSNS) return Error{E2BIG, fmt::format("{}: the profile compiles to {} instructions (at most {})", base, prog.size(), BPF_MAXINSNS)};
  return prog;
}

}  // namespace lx::oci
