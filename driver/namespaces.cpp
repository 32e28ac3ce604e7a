// The user namespace probe and the id maps of an instance (see namespaces.h).
#include "driver/namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/subordinate_ids.h"
#include "base/unique_fd.h"
#include "base/write_text.h"

namespace lx::driver {
namespace {

// Writes `text` to /proc/<pid>/<file>; 0 or errno.
int write_proc(pid_t pid, const char* file, const std::string& text) {
  return write_text(pid > 0 ? fmt::format("/proc/{}/{}", pid, file) : fmt::format("/proc/self/{}", file), text);
}

// The first subordinate range of `user` (by name or uid) in `file`, mapped from 1.
bool subordinate_range(const std::string& file, const std::string& user, std::uint32_t id, IdRange& out) {
  auto r = lx::subordinate_range(file, user, id);
  if (r) out = IdRange{1, r->start, r->count};
  return r.has_value();
}

std::string map_text(const std::vector<IdRange>& ranges) {
  std::string s;
  for (const auto& r : ranges) s += fmt::format("{} {} {}\n", r.inside, r.outside, r.count);
  return s;
}

// Runs `helper` (newuidmap, newgidmap) PID INSIDE OUTSIDE COUNT...; 0 or what went wrong.
std::string run_helper(const char* helper, pid_t pid, const std::vector<IdRange>& ranges) {
  std::vector<std::string> args{helper, std::to_string(pid)};
  for (const auto& r : ranges)
    for (auto v : {r.inside, r.outside, r.count}) args.push_back(std::to_string(v));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child = fork();
  if (child < 0) return fmt::format("fork: {}", std::strerror(errno));
  if (child == 0) {
    execvp(helper, argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return fmt::format("{} is not installed (Debian: uidmap)", helper);
  return fmt::format("{} {} failed (status {})", helper, map_text(ranges), status);
}

}  // namespace

std::string probe_user_namespace() {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return fmt::format("pipe: {}", std::strerror(errno));
  uid_t uid = getuid();
  gid_t gid = getgid();
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]), close(pipefd[1]);
    return fmt::format("fork: {}", std::strerror(errno));
  }
  if (pid == 0) {
    close(pipefd[0]);
    struct {
      int step, err;
    } r{0, 0};
    if (unshare(CLONE_NEWUSER) != 0) r = {1, errno};
    else if (int e = write_proc(0, "setgroups", "deny"); e != 0 && e != ENOENT) r = {2, e};
    else if (int e2 = write_proc(0, "uid_map", fmt::format("0 {} 1\n", uid)); e2 != 0) r = {3, e2};
    else if (int e3 = write_proc(0, "gid_map", fmt::format("0 {} 1\n", gid)); e3 != 0) r = {4, e3};
    else if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC) != 0) r = {5, errno};
    (void)!write(pipefd[1], &r, sizeof r);
    _exit(0);
  }
  close(pipefd[1]);
  struct {
    int step, err;
  } r{-1, 0};
  ssize_t n = read(pipefd[0], &r, sizeof r);
  close(pipefd[0]);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof r)) return "the probe process died";
  static const char* steps[] = {"", "unshare(CLONE_NEWUSER)", "writing /proc/self/setgroups", "writing /proc/self/uid_map",
                                "writing /proc/self/gid_map", "unshare(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC)"};
  if (r.step == 0) return {};
  return fmt::format("{}: {}", steps[r.step], std::strerror(r.err));
}

namespace {

// The ranges of `map` (/proc/self/uid_map or gid_map), each mapped to itself.
std::vector<IdRange> own_ranges(const char* map) {
  std::vector<IdRange> out;
  std::ifstream f(map);
  unsigned long long inside, outside, count;
  while (f >> inside >> outside >> count)
    out.push_back(IdRange{static_cast<std::uint32_t>(inside), static_cast<std::uint32_t>(inside), static_cast<std::uint32_t>(count)});
  if (out.empty()) out.push_back(IdRange{0, 0, 4294967295u});
  return out;
}

}  // namespace

IdMaps id_maps_for(uid_t uid, gid_t gid, const std::string& user, const std::string& subuid, const std::string& subgid) {
  IdMaps m;
  if (uid == 0) {
    // Every id this user namespace has, as itself: the full range in the host's, the mapped
    // ones in a user namespace of its own (root of a rootless podman's, where lxhost-runc runs).
    m.uids = own_ranges("/proc/self/uid_map");
    m.gids = own_ranges("/proc/self/gid_map");
    m.summary = m.uids.size() == 1 && m.uids[0].count == 4294967295u ? "the full id range (lxhostd runs as root)"
                                                                       : "every id of this user namespace (root in it)";
    return m;
  }
  IdRange su, sg;
  bool delegated = subordinate_range(subuid, user, uid, su) && subordinate_range(subgid, user, uid, sg);
  bool installed = access("/usr/bin/newuidmap", X_OK) == 0 && access("/usr/bin/newgidmap", X_OK) == 0;
  m.uids = {{0, uid, 1}};
  m.gids = {{0, gid, 1}};
  if (delegated && installed) {
    m.uids.push_back(su);
    m.gids.push_back(sg);
    m.helpers = true;
    m.summary = fmt::format("uid {} as 0, subordinate uids {}+{} and gids {}+{} from 1 (newuidmap/newgidmap)", uid,
                            su.outside, su.count, sg.outside, sg.count);
    return m;
  }
  m.own_id_only = true;
  m.summary = fmt::format("only uid {} as 0 ({}): other owners are emulated", uid,
                          delegated ? "newuidmap/newgidmap are not installed (Debian: uidmap)"
                                    : fmt::format("no range for {} in {} and {}", user, subuid, subgid));
  return m;
}

Result<void> write_id_maps(pid_t pid, const IdMaps& maps) {
  if (maps.helpers) {
    if (std::string e = run_helper("/usr/bin/newuidmap", pid, maps.uids); !e.empty()) return Error{EPERM, e};
    if (std::string e = run_helper("/usr/bin/newgidmap", pid, maps.gids); !e.empty()) return Error{EPERM, e};
    return ok();
  }
  if (maps.own_id_only)
    if (int e = write_proc(pid, "setgroups", "deny"); e != 0) return Error::from_errno(fmt::format("writing /proc/{}/setgroups", pid), e);
  if (int e = write_proc(pid, "uid_map", map_text(maps.uids)); e != 0)
    return Error::from_errno(fmt::format("writing /proc/{}/uid_map", pid), e);
  if (int e = write_proc(pid, "gid_map", map_text(maps.gids)); e != 0)
    return Error::from_errno(fmt::format("writing /proc/{}/gid_map", pid), e);
  return ok();
}

Result<void> run_in_user_namespace(const IdMaps& maps, const std::function<Result<void>()>& op) {
  int ready[2], go[2], result[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return Error::from_errno("pipe2");
  if (pipe2(go, O_CLOEXEC) != 0) return close(ready[0]), close(ready[1]), Error::from_errno("pipe2");
  if (pipe2(result, O_CLOEXEC) != 0)
    return close(ready[0]), close(ready[1]), close(go[0]), close(go[1]), Error::from_errno("pipe2");
  pid_t pid = fork();
  if (pid == 0) {
    close(ready[0]), close(go[1]), close(result[0]);
    int code = unshare(CLONE_NEWUSER) == 0 ? 0 : errno;
    std::string message = code ? std::string("unshare(CLONE_NEWUSER): ") + std::strerror(code) : "";
    char byte = 0;
    (void)!write(ready[1], &byte, 1);
    if (!code && read(go[0], &byte, 1) != 1) code = ECANCELED, message = "the id maps were not written";
    if (!code)
      if (auto r = op(); !r) code = r.error().code ? r.error().code : EIO, message = r.error().message;
    (void)!write(result[1], &code, sizeof code);
    (void)!write(result[1], message.data(), message.size());
    _exit(0);
  }
  close(ready[1]), close(go[0]), close(result[1]);
  UniqueFd ready_r(ready[0]), go_w(go[1]), result_r(result[0]);
  if (pid < 0) return Error::from_errno("fork");
  char byte;
  Result<void> mapped = read(ready_r.get(), &byte, 1) == 1 ? write_id_maps(pid, maps) : Error{ECHILD, "the child died"};
  if (mapped) (void)!write(go_w.get(), &byte, 1);
  go_w.reset();
  int code = 0;
  std::string message;
  if (read(result_r.get(), &code, sizeof code) != static_cast<ssize_t>(sizeof code)) code = ECHILD, message = "the child died";
  char buf[4096];
  for (ssize_t n; (n = read(result_r.get(), buf, sizeof buf)) > 0;) message.append(buf, static_cast<std::size_t>(n));
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (!mapped) return Error{mapped.error().code, "mapping the ids of the store's user namespace: " + mapped.error().message};
  if (code) return Error{code, message};
  return ok();
}

IdMaps id_maps_of_this_user() { return id_maps_for(getuid(), getgid(), real_user_name()); }

}  // namespace lx::driver
