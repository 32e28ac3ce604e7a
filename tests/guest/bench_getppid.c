/* Benchmark guest: times N getppid() calls and prints the median ns per call of R rounds.
 * With a third argument "allow-filter" it first installs a one-instruction seccomp filter that
 * allows everything: the kernel's own floor for any seccomp filter. */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  double r[64];
  if (argc > 3 && !strcmp(argv[3], "allow-filter")) {
    struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {1, f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
      perror("seccomp");
      return 1;
    }
  }
  if (rounds > 64) rounds = 64;
  for (int k = 0; k < rounds; ++k) {
    double t0 = now_ns();
    for (long i = 0; i < n; ++i) syscall(SYS_getppid);
    r[k] = (now_ns() - t0) / (double)n;
  }
  qsort(r, (size_t)rounds, sizeof r[0], cmp);
  printf("%.1f\n", r[rounds / 2]);
  return 0;
}
