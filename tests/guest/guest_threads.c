/* Guest test program: N threads (default 8) each make syscalls in a loop (getppid, open/close
 * of /dev/null), then join. Prints "threads ok" and the sum of their counts. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void* worker(void* arg) {
  long n = (long)arg, done = 0;
  for (long i = 0; i < n; ++i) {
    if (getppid() > 0) ++done;
    int fd = open("/dev/null", O_RDONLY);
    if (fd >= 0) close(fd);
  }
  return (void*)done;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 8;
  long iterations = argc > 2 ? atol(argv[2]) : 200;
  pthread_t t[64];
  if (threads > 64) threads = 64;
  for (int i = 0; i < threads; ++i) pthread_create(&t[i], NULL, worker, (void*)iterations);
  long total = 0;
  for (int i = 0; i < threads; ++i) {
    void* r;
    pthread_join(t[i], &r);
    total += (long)r;
  }
  printf("threads ok %ld\n", total);
  return total == threads * iterations ? 0 : 1;
}
