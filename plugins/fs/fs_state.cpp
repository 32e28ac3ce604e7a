// FsState's members and the helpers the fs topic files share (fs_state.h).
#include "fs_state.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <lxhost/syscall_table.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "base/proc_status.h"

namespace lx::fs {

void FsState::add_member(pid_t tid, bool launch) {
  if (launch) launching_.add(tid);
  members_.add(tid);
}

void FsState::launched(pid_t pid) { launching_.remove(pid); }

void FsState::remove_member(pid_t tid) {
  members_.remove(tid);
  launching_.remove(tid);
}

bool FsState::member(pid_t pid) const {
  if (launching_.contains(pid)) return false;
  if (members_.contains(pid)) return true;
  // A child that exited and is not reaped yet is no member any more, but natively its parent
  // still sees it (/proc/<pid>/stat in state Z): it is one while its parent is (a zombie's pid
  // cannot have been reused).
  auto st = ProcStatus::read(pid);
  if (!st || st->state().value_or('?') != 'Z') return false;
  pid_t parent = st->ppid().value_or(0);
  return parent > 0 && members_.contains(parent);
}

std::vector<pid_t> FsState::members() const { return members_.snapshot(); }

int resolve(FsState& s, SyscallContext& c, int dirfd, const std::string& path, Follow follow, Resolved& r) {
  return s.root.resolve(c.tid(), dirfd, path, follow, r);
}

int resolve_arg(FsState& s, SyscallContext& c, int dirfd, int path_arg, Follow follow, Resolved& r) {
  std::string path;
  if (int e = c.path(path_arg, path); e != 0) return e;
  return resolve(s, c, dirfd, path, follow, r);
}

UniqueFd open_entry(const Resolved& r, int flags) {
  // The walk followed every symlink it was to follow: the entry it named is not one, unless it
  // was swapped for one since, which lx must not follow in the host's namespace (a guest could
  // aim it at /proc/self, lx's own). A /proc magic link is opened through, as it names a guest fd.
  return UniqueFd(openat(r.parent.get(), at_name(r), flags | O_CLOEXEC | (r.magic ? 0 : O_NOFOLLOW)));
}

UniqueFd guest_fd(SyscallContext& c, int fd) {
  std::string p = "/proc/" + std::to_string(c.tid()) + (fd == AT_FDCWD ? "/cwd" : "/fd/" + std::to_string(fd));
  ActingAs::AsLx lx;
  return UniqueFd(::open(p.c_str(), O_PATH | O_CLOEXEC));
}

bool is_path_fd(SyscallContext& c, int gfd) {
  ActingAs::AsLx lx;
  UniqueFd info(::open(("/proc/" + std::to_string(c.tid()) + "/fdinfo/" + std::to_string(gfd)).c_str(),
                       O_RDONLY | O_CLOEXEC));
  char buf[256];
  ssize_t n = info ? read(info.get(), buf, sizeof buf - 1) : -1;
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* f = std::strstr(buf, "flags:");
  return f && (std::strtoul(f + 6, nullptr, 8) & O_PATH);
}

UniqueFd take_fd(SyscallContext& c, int gfd) {
  ActingAs::AsLx lx;  // lx takes the guest's file, whoever the guest is now
  UniqueFd pidfd(static_cast<int>(syscall(sdk::sys::pidfd_open, c.pid(), 0)));
  if (!pidfd) return {};
  return UniqueFd(static_cast<int>(syscall(sdk::sys::pidfd_getfd, pidfd.get(), gfd, 0)));
}

int host_path_of(const Resolved& r, int extra_flags, std::string& out) {
  UniqueFd fd = open_entry(r, O_PATH | extra_flags);
  if (!fd) return errno;
  return host_path_of_fd(fd.get(), out);
}

int host_path_of_fd(int fd, std::string& out) {
  char buf[PATH_MAX + 1];
  ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, PATH_MAX);
  if (n < 0) return errno;
  out.assign(buf, static_cast<std::size_t>(n));
  return 0;
}

bool runs_program(const FsState& s, const struct stat& st) {
  return s.programs && S_ISREG(st.st_mode) && s.programs->runs(st.st_dev, st.st_ino);
}

void own_new(FsState& s, SyscallContext& c, int fd) {
  if (s.host_root || !s.credentials) return;
  std::uint32_t uid = 0, gid = 0;
  if (!s.credentials->fs_identity(c.tid(), uid, gid) || (uid == 0 && gid == 0)) return;
  fsmeta::Metadata m;
  if (s.store.read(fd, m) != 0) m = fsmeta::Metadata{};
  m.uid = uid;
  m.gid = gid;
  s.store.write(fd, m);
}

void own_new_at(FsState& s, SyscallContext& c, const Resolved& r) {
  if (s.host_root || !s.credentials) return;
  UniqueFd fd = open_entry(r, O_PATH | O_NOFOLLOW);
  if (fd) own_new(s, c, fd.get());
}

void apply_umask(FsState& s, SyscallContext& c, int fd, mode_t requested) {
  if (fd < 0) return;
  mode_t um = guest_umask(c.tid());
  if (um == s.own_umask) return;
  struct stat st;
  if (fstat(fd, &st) != 0 || S_ISLNK(st.st_mode)) return;
  mode_t want = (st.st_mode & 07000) | (requested & 0777 & ~um);
  // lx's correction of what it created, not a chmod of the guest's: as lx, which keeps the
  // setgid bit a directory inherited (a guest outside its group would lose it).
  ActingAs::AsLx lx;
  if ((st.st_mode & 07777) != want) chmod(("/proc/self/fd/" + std::to_string(fd)).c_str(), want);
}

mode_t guest_umask(pid_t tid) {
  auto status = ProcStatus::read(tid);
  return status ? status->umask().value_or(022) : 022;
}

namespace {

// Whether guest thread `tid` holds CAP_SYS_ADMIN as far as the fs family's emulation within the
// instance goes (mount, umount2, mknod), though lx withheld it (sdk::kWithheldCapabilities): it
// is not in its bounding set, lx's own has it, and the thread, in lx's user namespace, holds
// every capability left to it (an undiminished root). Never put onto a thread that acts for the
// guest: the kernel would honour it there (a cgroup's release_agent, trusted.* xattrs).
bool holds_withheld_admin(pid_t tid) {
  static const bool own = prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 1;
  static const ino_t own_ns = [] {
    struct stat st;
    return ::stat("/proc/self/ns/user", &st) == 0 ? st.st_ino : 0;
  }();
  struct stat ns;
  if (!own || ::stat(("/proc/" + std::to_string(tid) + "/ns/user").c_str(), &ns) != 0 || ns.st_ino != own_ns)
    return false;
  auto status = ProcStatus::read(tid);
  auto eff = status ? status->cap_effective() : std::nullopt;
  auto bnd = status ? status->cap_bounding() : std::nullopt;
  return eff && bnd && *eff != 0 && (*eff & *bnd) == *bnd && !((*bnd >> CAP_SYS_ADMIN) & 1);
}

}  // namespace

bool guest_capable(const FsState& s, pid_t tid, int cap) {
  if (OwnCredentials::current().has(cap)) return true;
  if (cap == CAP_SYS_ADMIN && holds_withheld_admin(tid)) return true;
  std::uint32_t uid = 1, gid = 1;
  return !s.guest_creds && s.credentials && s.credentials->fs_identity(tid, uid, gid) && uid == 0;
}

}  // namespace lx::fs
