/* Guest test program: forks N children (default 100), each exits with i % 256; checks every
 * status. With "exec", each child execs /bin/true instead; with "reexec", each child re-executes
 * this program through /proc/self/exe with N = 0 (it prints "forks ok 0" and exits 0).
 * Prints "forks ok N". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100;
  int do_exec = argc > 2 && !strcmp(argv[2], "exec");
  int do_reexec = argc > 2 && !strcmp(argv[2], "reexec");
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    pid_t p = fork();
    if (p < 0) {
      perror("fork");
      return 1;
    }
    if (p == 0) {
      if (do_exec) {
        execl("/bin/true", "true", (char*)NULL);
        _exit(127);
      }
      if (do_reexec) {
        fflush(stdout);
        execl("/proc/self/exe", argv[0], "0", (char*)NULL);
        _exit(127);
      }
      _exit(i % 256);
    }
    int st;
    if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != (do_exec || do_reexec ? 0 : i % 256)) ++bad;
  }
  printf("forks %s %d\n", bad ? "bad" : "ok", n - bad);
  return bad ? 1 : 0;
}
