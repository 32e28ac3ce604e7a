// BoundNames: AF_UNIX binds through lx's fds of their directories.
#include "bound_names.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace lx::net {

namespace {
constexpr char kPrefix[] = "/proc/self/fd/";
}  // namespace

int BoundNames::bind(int sock, UniqueFd dir, const std::string& name, const std::string& guest, mode_t umask) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::string path = kPrefix + std::to_string(dir.get()) + "/" + name;
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
  std::lock_guard lock(mu_);
  names_[path] = Entry{guest, std::move(dir)};
  order_.push_back(path);
  while (order_.size() > kMax) {
    names_.erase(order_.front());  // its fd closed: the name may come again, for another socket
    order_.pop_front();
  }
  return 0;
}

std::string BoundNames::guest_name(const std::string& host, bool* ours) const {
  if (ours) *ours = host.rfind(kPrefix, 0) == 0;
  std::lock_guard lock(mu_);
  auto it = names_.find(host);
  return it == names_.end() ? std::string() : it->second.guest;
}

}  // namespace lx::net
