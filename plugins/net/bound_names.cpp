// BoundNames: AF_UNIX binds made in lx's own directory, their files moved where the guest asked.
#include "bound_names.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <lxhost/syscall_table.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/acting_as.h"

namespace lx::net {

BoundNames::~BoundNames() {
  if (!dir_.empty()) ::rmdir(dir_.c_str());  // empty: every file was moved out or removed
}

int BoundNames::make_dir() {
  if (dir_fd_) return 0;
  ActingAs::AsLx lx;  // lx's own directory
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/lxhost-sock-XXXXXX";
  if (!mkdtemp(tmpl.data())) return errno;
  // Anyone may create a socket in it (a guest that became another user binds too), none list it
  // or remove what another made.
  ::chmod(tmpl.c_str(), 01733);
  dir_fd_.reset(::open(tmpl.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd_) return errno;
  dir_ = tmpl;
  return 0;
}

int BoundNames::bind(int sock, int dir, const std::string& name, const std::string& guest, mode_t umask) {
  // As the kernel's own bind: a name that is there is EADDRINUSE, and the directory must be the
  // caller's to write in, before the socket is bound (a bound socket cannot be unbound).
  struct stat st;
  if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return EADDRINUSE;
  if (faccessat(dir, ".", W_OK | X_OK, AT_EACCESS) != 0) return errno;
  std::string temp;
  {
    std::lock_guard lock(mu_);
    if (int e = make_dir(); e != 0) return e;
    temp = std::to_string(next_++);
  }
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::string path = dir_ + "/" + temp;
  if (path.size() >= sizeof sun.sun_path) return ENAMETOOLONG;
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  int err = 0;
  // A thread of ours with its own umask (CLONE_FS unshared), and the caller's credentials.
  std::thread t([&] {
    if (unshare(CLONE_FS) != 0) {
      err = errno;
      return;
    }
    ::umask(umask);
    if (::bind(sock, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) err = errno;
  });
  t.join();
  if (err != 0) return err;
  if (syscall(sdk::sys::renameat2, dir_fd_.get(), temp.c_str(), dir, name.c_str(), RENAME_NOREPLACE) != 0) {
    err = errno == EEXIST ? EADDRINUSE : errno;
    ::unlinkat(dir_fd_.get(), temp.c_str(), 0);  // the socket stays bound, to a name that is gone
    return err;
  }
  std::lock_guard lock(mu_);
  names_[path] = guest;
  order_.push_back(path);
  while (order_.size() > kMax) {
    names_.erase(order_.front());
    order_.pop_front();
  }
  return 0;
}

std::string BoundNames::guest_name(const std::string& host) const {
  std::lock_guard lock(mu_);
  auto it = names_.find(host);
  return it == names_.end() ? std::string() : it->second;
}

}  // namespace lx::net
