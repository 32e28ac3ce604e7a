/* Benchmark guest: a loopback TCP echo of N small messages between a forked server and client;
 * prints the wall time in ms. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 20000;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr*)&a, sizeof a) || listen(s, 1)) return 1;
  socklen_t l = sizeof a;
  getsockname(s, (struct sockaddr*)&a, &l);
  pid_t p = fork();
  if (p == 0) {
    int c = accept(s, NULL, NULL);
    char buf[64];
    ssize_t k;
    while ((k = read(c, buf, sizeof buf)) > 0) write(c, buf, (size_t)k);
    _exit(0);
  }
  int c = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c, (struct sockaddr*)&a, sizeof a)) return 1;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char msg[32] = "0123456789abcdef0123456789abcde";
  for (long i = 0; i < n; ++i) {
    if (write(c, msg, sizeof msg) != sizeof msg) return 1;
    size_t got = 0;
    while (got < sizeof msg) {
      ssize_t k = read(c, msg + got, sizeof msg - got);
      if (k <= 0) return 1;
      got += (size_t)k;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  close(c);
  waitpid(p, NULL, 0);
  printf("%.2f\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
  return 0;
}
