// make_non_dumpable_except_forks (see dumpable.h).
#include "base/dumpable.h"

#include <pthread.h>
#include <sys/prctl.h>

#include <mutex>

namespace lx {
namespace {

std::mutex forks_mu;
int forks_in_progress = 0;

void before_fork() {
  forks_mu.lock();
  if (forks_in_progress++ == 0) prctl(PR_SET_DUMPABLE, 1);
  forks_mu.unlock();
}

void after_fork_in_parent() {
  std::lock_guard lock(forks_mu);
  if (--forks_in_progress == 0) prctl(PR_SET_DUMPABLE, 0);
}

void after_fork_in_child() { forks_in_progress = 0; }

}  // namespace

void make_non_dumpable_except_forks() {
  prctl(PR_SET_DUMPABLE, 0);
  pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
}

}  // namespace lx
