// Test support: unprivileged users and staging of the build tree (see unprivileged.h).
#include "unprivileged.h"

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>

namespace lx::test {
namespace fs = std::filesystem;
namespace {

constexpr uid_t kNobody = 65534;
constexpr const char* kSetpriv = "/usr/bin/setpriv";

std::string tmp_root() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

// Whether uid/gid 65534 can reach `path` with `mode` (R_OK|X_OK), asked of the kernel by a child.
bool nobody_can_access(const std::string& path, int mode) {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(2);
    _exit(access(path.c_str(), mode) == 0 ? 0 : 1);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// The staging directory: created on first use, removed when the process that made it exits
// (not by a forked child that happens to call exit()).
class Stage {
 public:
  ~Stage() {
    if (dir_ && owner_ != getpid()) (void)dir_.release();  // leaked on purpose: the owner removes it
  }
  const std::string& dir() {
    if (!dir_) {
      dir_ = std::make_unique<TempDir>("lxhost-stage", 0755);
      owner_ = getpid();
    }
    return dir_->path();
  }
  std::mutex mu;

 private:
  std::unique_ptr<TempDir> dir_;
  pid_t owner_ = 0;
};
Stage& stage() {
  static Stage s;
  return s;
}

// Puts one regular file at `to`: a hard link when its own mode already lets others read (and
// execute, if its owner may) it, which costs nothing; else a copy opened up to 0644 or 0755.
void stage_file(const fs::path& from, const fs::path& to) {
  struct stat st;
  if (stat(from.c_str(), &st) != 0) throw std::system_error(errno, std::generic_category(), "stat " + from.string());
  bool exec = st.st_mode & S_IXUSR;
  bool open_to_others = (st.st_mode & S_IROTH) && (!exec || (st.st_mode & S_IXOTH));
  if (open_to_others && link(from.c_str(), to.c_str()) == 0) return;
  fs::copy_file(from, to);
  fs::permissions(to, fs::perms(exec ? 0755 : 0644));
}

// Stages file or tree `from` at `to` (directories 0755), once.
void stage_tree(const fs::path& from, const fs::path& to) {
  auto st = fs::symlink_status(from);
  if (fs::exists(fs::symlink_status(to))) return;
  if (fs::is_symlink(st)) {
    fs::copy_symlink(from, to);
  } else if (fs::is_directory(st)) {
    fs::create_directory(to);
    fs::permissions(to, fs::perms(0755));
    for (const auto& e : fs::directory_iterator(from)) stage_tree(e.path(), to / e.path().filename());
  } else if (fs::is_regular_file(st)) {
    stage_file(from, to);
  }
}

void copy_in(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  for (fs::path p = to.parent_path(); p.string().size() > stage().dir().size(); p = p.parent_path())
    fs::permissions(p, fs::perms(0755));
  stage_tree(from, to);
}

}  // namespace

bool can_switch_user() { return geteuid() == 0 && access(kSetpriv, X_OK) == 0; }

uid_t unprivileged_uid() { return can_switch_user() ? kNobody : geteuid(); }
gid_t unprivileged_gid() { return can_switch_user() ? kNobody : getegid(); }

std::vector<std::string> as_unprivileged(std::vector<std::string> argv) {
  if (!can_switch_user()) return argv;
  std::vector<std::string> out = {kSetpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string reachable(const std::string& path) {
  if (!can_switch_user()) return path;
  fs::path build = fs::path(LXHOST_BUILD_DIR).lexically_normal();
  fs::path p = fs::path(path).lexically_normal();
  auto rel = p.lexically_relative(build);
  bool is_lx = rel == "bin/lx" || rel == "bin/lxhostd" || rel == "bin/lxhost-runc";
  // lx, lxhostd and lxhost-runc load their plugins from ../lib/lxhost/plugins: that must be reachable too.
  bool plugins_ok = !is_lx || nobody_can_access((build / "lib/lxhost/plugins").string(), R_OK | X_OK);
  if (plugins_ok && (nobody_can_access(path, R_OK | X_OK) || nobody_can_access(path, R_OK))) return path;
  if (rel.empty() || rel.native().rfind("..", 0) == 0)
    throw std::runtime_error("reachable(): " + path + " is not in the build tree " + build.string() +
                             ", and uid 65534 cannot reach it");
  std::lock_guard lock(stage().mu);
  fs::path root = stage().dir();
  if (is_lx) {
    for (const char* f : {"bin/lx", "bin/lxhostd", "bin/lxhost-runc", "lib/lxhost"})
      if (fs::exists(build / f)) copy_in(build / f, root / f);
  } else {
    copy_in(p, root / rel);
  }
  return (root / rel).string();
}

TempDir::TempDir(const char* prefix, unsigned mode) {
  std::string tmpl = tmp_root() + "/" + prefix + ".XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
  path_ = tmpl;
  if (chmod(path_.c_str(), mode) != 0) throw std::system_error(errno, std::generic_category(), "chmod " + path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
  if (!ec && !fs::exists(fs::symlink_status(path_, ec))) return;
  // A test left a directory it may not list or enter (an unprivileged user removes nothing in a
  // mode-0222 directory): its own, so it may make it readable first.
  ::chmod(path_.c_str(), 0700);
  for (auto it = fs::recursive_directory_iterator(path_, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
  fs::remove_all(path_, ec);
}

}  // namespace lx::test
