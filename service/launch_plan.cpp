// A launch's plan: the user from the guest's passwd and group files, then the environment, the
// argv and the working directory, each as the instance always chose them.
#include "launch_plan.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace lx::service {
namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    auto pos = text.find(sep);
    parts.push_back(text.substr(0, pos));
    if (pos == std::string_view::npos) return parts;
    text.remove_prefix(pos + 1);
  }
}

std::optional<std::uint32_t> parse_id(std::string_view s) {
  unsigned long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

class HostFiles final : public GuestFiles {
 public:
  std::string read(const std::string& path) const override {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::optional<std::string> not_a_directory(const std::string& path) const override {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return std::string(std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return std::string("not a directory");
    return std::nullopt;
  }
};

// What a plan is made of, step by step.
struct Planner {
  const InstanceSettings& settings;
  const RunRequest& request;
  const GuestFiles& files;
  bool distro = false;  // an installed distro, not the host root
  std::string etc;      // the guest's /etc, as a host path
  std::optional<PasswdEntry> pw;
  LaunchPlan plan;

  bool is_dir(const std::string& path) const { return !files.not_a_directory(path); }
  std::string home() const { return pw ? pw->home : ""; }

  Result<void> resolve_user();
  void environment();
  void login_shell();
  Result<void> identity();
  Result<void> working_directory();
};

// Who the launch runs as: -u USER from the guest's /etc/passwd (the emulated identity: it
// needs fake root), else an installed distro's root.
Result<void> Planner::resolve_user() {
  const std::string& user = request.user;
  if (!user.empty()) {
    if (!settings.fake_root)
      return Error{EPERM, fmt::format("-u {}: a launch runs as another user only with the emulated identity "
                                      "([proc] fake_root = true, as in an installed distro)", user)};
    pw = find_user(files.read(etc + "/passwd"), user);
    if (!pw)
      return Error{ENOENT, fmt::format("-u {}: no such user in {}/passwd of '{}'", user,
                                       distro ? "the distro's /etc" : "/etc", settings.name)};
  } else if (distro) {
    pw = find_user(files.read(etc + "/passwd"), "root");
    if (!pw) pw = PasswdEntry{"root", 0, 0, "/root", "/bin/sh"};
  }
  return ok();
}

// A distro's own environment with the client's terminal and locale settings; on the host root
// the client's, with the user's own HOME, USER, LOGNAME and SHELL when it has one.
void Planner::environment() {
  for (const auto& e : request.env) {
    std::string k = e.substr(0, e.find('='));
    bool keep = distro ? (k == "TERM" || k == "COLORTERM" || k == "LANG" || k == "TZ" || k.rfind("LC_", 0) == 0)
                       : (!pw || (k != "HOME" && k != "USER" && k != "LOGNAME" && k != "SHELL"));
    if (keep) plan.env.push_back(e);
  }
  if (distro) plan.env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  if (pw) {
    plan.env.push_back("HOME=" + pw->home);
    plan.env.push_back("USER=" + pw->name);
    plan.env.push_back("LOGNAME=" + pw->name);
    plan.env.push_back("SHELL=" + (pw->shell.empty() ? std::string("/bin/sh") : pw->shell));
  }
}

// Without a command, a login shell: the user's shell from the guest's passwd, else $SHELL (on
// the host root), else /bin/sh.
void Planner::login_shell() {
  plan.argv = request.argv;
  if (!plan.argv.empty()) return;
  std::string shell = pw ? pw->shell : "";
  if (shell.empty() && !distro)
    for (const auto& e : request.env)
      if (e.rfind("SHELL=", 0) == 0) shell = e.substr(6);
  if (shell.empty()) shell = "/bin/sh";
  plan.argv = {shell, "-l"};
}

// -u USER: its ids and groups, which the proc plugin gives the launch's first process.
Result<void> Planner::identity() {
  if (request.user.empty()) return ok();
  LaunchUser u{pw->uid, pw->gid, groups_of(files.read(etc + "/group"), pw->name, pw->gid)};
  if (!settings.can_set_identity)
    return Error{ENOSYS, fmt::format("-u {}: the loaded proc plugin cannot start a launch as another user", request.user)};
  plan.user = std::move(u);
  return ok();
}

// --cd (a guest path), else the client's own directory when the guest can see it, else the
// home directory.
Result<void> Planner::working_directory() {
  const std::string& cd = request.cd;
  const std::string& rootfs = settings.rootfs;
  if (distro) {
    std::string guest;
    if (!cd.empty()) guest = cd;
    else if (request.cwd.rfind(rootfs + "/", 0) == 0) guest = request.cwd.substr(rootfs.size());
    else guest = is_dir(rootfs + home()) ? home() : "/";
    if (guest.empty() || guest[0] != '/') guest = (is_dir(rootfs + home()) ? home() : "") + "/" + guest;
    if (!is_dir(rootfs + guest)) return Error{ENOENT, fmt::format("--cd {}: no such directory in '{}'", guest, settings.name)};
    plan.cwd = settings.guest_cwd ? guest : rootfs + guest;
    plan.env.push_back("PWD=" + guest);
    return ok();
  }
  plan.cwd = !cd.empty() ? cd : (!request.user.empty() && is_dir(home())) ? home() : request.cwd;
  if (plan.cwd.empty()) return ok();
  if (auto why = files.not_a_directory(plan.cwd))
    return Error{ENOTDIR, fmt::format("{} {}: {}", cd.empty() ? "working directory" : "--cd", plan.cwd, *why)};
  return ok();
}

}  // namespace

std::optional<PasswdEntry> find_user(std::string_view passwd, const std::string& user) {
  bool numeric = !user.empty() && user.find_first_not_of("0123456789") == std::string::npos;
  for (auto line : split(passwd, '\n')) {
    auto f = split(line, ':');
    if (f.size() < 7 || (f[0] != user && !(numeric && f[2] == user))) continue;
    auto uid = parse_id(f[2]), gid = parse_id(f[3]);
    if (!uid || !gid) return std::nullopt;
    return PasswdEntry{std::string(f[0]), *uid, *gid, std::string(f[5]), std::string(f[6])};
  }
  return std::nullopt;
}

std::vector<std::uint32_t> groups_of(std::string_view group, const std::string& user, std::uint32_t primary) {
  std::vector<std::uint32_t> out{primary};
  for (auto line : split(group, '\n')) {
    auto f = split(line, ':');
    if (f.size() < 4) continue;
    for (auto member : split(f[3], ','))
      if (member == user)
        if (auto g = parse_id(f[2]); g && *g != primary) out.push_back(*g);
  }
  return out;
}

const GuestFiles& host_files() {
  static const HostFiles files;
  return files;
}

Result<LaunchPlan> plan_launch(const InstanceSettings& settings, const RunRequest& request, const GuestFiles& files) {
  Planner p{settings, request, files};
  p.distro = !settings.rootfs.empty() && settings.rootfs != "/";
  p.etc = (p.distro ? settings.rootfs : std::string()) + "/etc";
  LX_TRY(p.resolve_user());
  p.environment();
  p.login_shell();
  LX_TRY(p.identity());
  LX_TRY(p.working_directory());
  return std::move(p.plan);
}

}  // namespace lx::service
