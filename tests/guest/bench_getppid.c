/* Benchmark guest: times N getppid() calls and prints the median ns per call of R rounds. */
#include <stdio.h>
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
