// lxhostd's log lines.
#include "daemon_log.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace lx::service {

void log(const std::string& line) {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  std::fprintf(stderr, "%s lxhostd[%d]: %s\n", buf, getpid(), line.c_str());
  std::fflush(stderr);
}

void debug_log(const std::string& line) {
  if (std::getenv("LXHOSTD_DEBUG")) log(line);
}

}  // namespace lx::service
