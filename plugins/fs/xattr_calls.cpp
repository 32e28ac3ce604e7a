// The fs family's extended attribute calls: {,l,f}{get,set,list,remove}xattr(2), done on behalf of
// the guest on the file it names, with user.lxhost.* (where lxhost keeps its metadata) hidden:
// listed never, read as absent, written or removed never.
#include <sys/stat.h>
#include <sys/xattr.h>

#include <cerrno>
#include <string>
#include <vector>

#include "handlers.h"

namespace lx::fs {
namespace {

constexpr std::size_t kMaxValue = 65536;  // XATTR_SIZE_MAX

bool reserved_xattr(const std::string& name) { return name.rfind("user.lxhost.", 0) == 0; }

// Which of the twelve calls: what it does, and how it names the file.
struct XattrCall {
  enum class Op { kGet, kSet, kList, kRemove } op;
  bool by_fd = false;     // f*xattr
  bool nofollow = false;  // l*xattr
};

XattrCall classify(int nr) {
  using Op = XattrCall::Op;
  switch (nr) {
    case sdk::sys::getxattr: return {Op::kGet};
    case sdk::sys::lgetxattr: return {Op::kGet, false, true};
    case sdk::sys::fgetxattr: return {Op::kGet, true};
    case sdk::sys::setxattr: return {Op::kSet};
    case sdk::sys::lsetxattr: return {Op::kSet, false, true};
    case sdk::sys::fsetxattr: return {Op::kSet, true};
    case sdk::sys::listxattr: return {Op::kList};
    case sdk::sys::llistxattr: return {Op::kList, false, true};
    case sdk::sys::flistxattr: return {Op::kList, true};
    case sdk::sys::lremovexattr: return {Op::kRemove, false, true};
    case sdk::sys::fremovexattr: return {Op::kRemove, true};
    default: return {Op::kRemove};  // removexattr
  }
}

// The file the call names: an O_PATH fd of it, and for a symlink named by path (l*xattr) the
// path of the link itself through its pinned directory, which the l* calls do not follow.
struct Target {
  UniqueFd fd, dir;
  std::string link_path;  // "" unless the target is a symlink named by path
  bool read_only = false;
  // The path the host calls take: the link itself, or the file through its fd.
  std::string path() const { return link_path.empty() ? "/proc/self/fd/" + std::to_string(fd.get()) : link_path; }
};

SyscallResult target_of(FsState& s, SyscallContext& c, const XattrCall& call, Target& t) {
  if (call.by_fd) {
    t.fd = guest_fd(c, c.fd(0));
    return t.fd ? SyscallResult::value(0) : fail(EBADF);
  }
  Resolved r;
  if (int e = resolve_arg(s, c, AT_FDCWD, 0, call.nofollow ? Follow::kNo : Follow::kYes, r); e != 0) return fail(e);
  if (!r.exists) return fail(ENOENT);
  t.fd = open_entry(r, O_PATH | O_NOFOLLOW);
  if (!t.fd) return fail(errno);
  t.read_only = r.read_only;
  struct stat st;
  if (call.nofollow && !r.name.empty() && fstat(t.fd.get(), &st) == 0 && S_ISLNK(st.st_mode)) {
    t.link_path = "/proc/self/fd/" + std::to_string(r.parent.get()) + "/" + r.name;
    t.dir = std::move(r.parent);
  }
  return SyscallResult::value(0);
}

// listxattr of `t` into the guest's buffer (arguments 1 and 2), reserved names left out.
SyscallResult list_names(SyscallContext& c, const Target& t) {
  std::size_t size = c.uint_arg(2);
  std::vector<char> buf(kMaxValue);
  ssize_t n = t.link_path.empty() ? listxattr(t.path().c_str(), buf.data(), buf.size())
                                  : llistxattr(t.link_path.c_str(), buf.data(), buf.size());
  if (n < 0) return fail(errno);
  std::string out;
  for (ssize_t i = 0; i < n;) {
    std::string name(buf.data() + i);
    i += static_cast<ssize_t>(name.size()) + 1;
    if (!reserved_xattr(name)) out += name + '\0';
  }
  if (size == 0) return SyscallResult::value(static_cast<std::int64_t>(out.size()));
  if (out.size() > size) return fail(ERANGE);
  if (int e = c.write_memory(c.ptr(1), out.data(), out.size()); e != 0) return fail(e);
  return SyscallResult::value(static_cast<std::int64_t>(out.size()));
}

// getxattr of `name` of `t` into the guest's buffer (arguments 2 and 3).
SyscallResult get_value(SyscallContext& c, const Target& t, const std::string& name) {
  std::size_t size = c.uint_arg(3);
  std::vector<char> buf(kMaxValue);
  ssize_t n = t.link_path.empty() ? getxattr(t.path().c_str(), name.c_str(), buf.data(), buf.size())
                                  : lgetxattr(t.link_path.c_str(), name.c_str(), buf.data(), buf.size());
  if (n < 0) return fail(errno);
  if (size == 0) return SyscallResult::value(n);
  if (static_cast<std::size_t>(n) > size) return fail(ERANGE);
  if (int e = c.write_memory(c.ptr(2), buf.data(), static_cast<std::size_t>(n)); e != 0) return fail(e);
  return SyscallResult::value(n);
}

// setxattr of `name` of `t` to the guest's value (arguments 2, 3 and flags 4).
SyscallResult set_value(SyscallContext& c, const Target& t, const std::string& name) {
  std::size_t size = c.uint_arg(3);
  if (size > kMaxValue) return fail(E2BIG);
  std::vector<char> value(size);
  if (size && c.read_memory(c.ptr(2), value.data(), size) != 0) return fail(EFAULT);
  int r = t.link_path.empty() ? setxattr(t.path().c_str(), name.c_str(), value.data(), size, c.flags(4))
                              : lsetxattr(t.link_path.c_str(), name.c_str(), value.data(), size, c.flags(4));
  return r != 0 ? fail(errno) : SyscallResult::value(0);
}

}  // namespace

SyscallResult handle_xattr(FsState& s, SyscallContext& c) {
  XattrCall call = classify(c.nr());
  using Op = XattrCall::Op;
  if (call.by_fd && is_path_fd(c, c.fd(0))) return fail(EBADF);  // the kernel takes no O_PATH fd here
  Target t;
  if (SyscallResult r = target_of(s, c, call, t); r.kind() != SyscallResult::Kind::kValue) return r;
  // A symlink reached through a guest fd: only an O_PATH one can hold it, which f*xattr refuse.
  struct stat st;
  if (t.link_path.empty() && fstat(t.fd.get(), &st) == 0 && S_ISLNK(st.st_mode)) return fail(EBADF);
  if (call.op == Op::kList) return list_names(c, t);
  std::string name;
  if (int e = c.string_arg(1, name, 255); e != 0) return fail(e == ENAMETOOLONG ? ERANGE : e);
  if (reserved_xattr(name)) return fail(call.op == Op::kGet ? ENODATA : EPERM);
  // The kernel keeps user.* attributes to regular files and directories: an emulated device
  // node (an empty file whose metadata says what it is) answers as the node would (setxattr02).
  fsmeta::Metadata m;
  if (name.rfind("user.", 0) == 0 && fstat(t.fd.get(), &st) == 0 && S_ISREG(st.st_mode) && s.store.read(t.fd.get(), m) == 0 &&
      m.mode && !S_ISREG(*m.mode) && !S_ISDIR(*m.mode))
    return fail(call.op == Op::kGet ? ENODATA : EPERM);
  if (call.op == Op::kGet) return get_value(c, t, name);
  if (t.read_only) return fail(EROFS);
  if (call.op == Op::kSet) return set_value(c, t, name);
  int r = t.link_path.empty() ? removexattr(t.path().c_str(), name.c_str()) : lremovexattr(t.link_path.c_str(), name.c_str());
  return r != 0 ? fail(errno) : SyscallResult::value(0);
}

}  // namespace lx::fs
