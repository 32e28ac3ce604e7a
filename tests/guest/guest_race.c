/* Guest test program for escape attempts by racing: one thread renames a directory back and
 * forth between two depths while others open paths that climb out of it with "..", through the
 * moving directory and through a directory fd inside it. Prints "escaped" and exits 1 if any
 * open reached a file named MARKER whose content starts with "outside"; else "contained N".
 *
 * `guest_race opath N`: a process swaps /w/s between a directory holding "marker" and a symlink
 * to "../.." (which the host's walk of ROOT/w/s/marker would take to the marker beside the root)
 * while another, single-threaded with its own memory and fds, opens /w/s/marker with O_PATH N
 * times (the emulated backend lets the guest make that call itself, with the host path) and looks
 * at the size of what it got: the outside marker's would be an escape. A thread that got another
 * object than the one resolved is killed: "contained" either way.
 *
 * `guest_race exec N`: the same swap of /w/s, between a copy of this program and a symlink to
 * "../../outside" (a static busybox beside the root), while children exec /w/s N times as "s":
 * a child that ran the outside busybox ("s: applet not found", 127) is an escape; one killed at
 * its exec is not.
 *
 * `guest_race bind N`: /w/s swaps between a directory and a symlink to "../.." while a child binds
 * an AF_UNIX socket to /w/s/sock N times: a socket bound beside the root is an escape (the test
 * looks); "done", or "killed" when the binder was.
 *
 * `guest_race chdirs`: 4 threads change the cwd they share 300 times each, between /bin and /w:
 * each chdir is checked at its exit, and a sibling's chdir meanwhile is no escape ("ok").
 *
 * `guest_race fexec PATH`: fexecve of PATH (execveat of its fd with AT_EMPTY_PATH) as "probe":
 * prints execveat's error, or what the program run prints. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;
static long iterations;
static int escaped;

static void* renamer(void* arg) {
  (void)arg;
  while (!stop) {
    rename("/w/a/b", "/w/c");
    rename("/w/c", "/w/a/b");
  }
  return NULL;
}

static int check(int fd) {
  if (fd < 0) return 0;
  char buf[16] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 && strncmp(buf, "outside", 7) == 0;
}

static void* climber(void* arg) {
  (void)arg;
  for (long i = 0; i < iterations; ++i) {
    int dir = open("/w/a/b", O_RDONLY | O_DIRECTORY);
    if (check(open("/w/a/b/../../../../../../marker", O_RDONLY))) escaped = 1;
    if (dir >= 0) {
      if (check(openat(dir, "../../../../../../marker", O_RDONLY))) escaped = 1;
      if (check(openat(dir, "../../../../../../../../../../marker", O_RDONLY))) escaped = 1;
      close(dir);
    }
  }
  return NULL;
}

static int opath_race(long n) {
  mkdir("/w", 0755);
  mkdir("/w/d", 0755);
  int f = open("/w/d/marker", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (f < 0 || write(f, "in\n", 3) != 3) return 2;
  close(f);
  rename("/w/d", "/w/s");
  symlink("../..", "/w/l");
  pid_t swapper = fork();
  if (swapper == 0) {
    for (;;) {  /* /w/s: the directory, then the symlink, then back */
      rename("/w/s", "/w/d");
      rename("/w/l", "/w/s");
      rename("/w/s", "/w/l");
      rename("/w/d", "/w/s");
    }
  }
  pid_t opener = fork();
  if (opener == 0) {
    int out = 0;
    for (long i = 0; i < n && !out; ++i) {
      int fd = open("/w/s/marker", O_PATH);
      struct stat st;
      if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size != 3) out = 1;
      if (fd >= 0) close(fd);
    }
    _exit(out);
  }
  int st = 0;
  waitpid(opener, &st, 0);
  kill(swapper, SIGKILL);
  waitpid(swapper, NULL, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 1) {
    printf("escaped\n");
    return 1;
  }
  printf("contained\n");
  return 0;
}

static int exec_race(long n) {
  mkdir("/w", 0755);
  int in = open("/bin/guest_race", O_RDONLY), out = open("/w/s", O_WRONLY | O_CREAT | O_TRUNC, 0755);
  char buf[65536];
  ssize_t got;
  while (in >= 0 && out >= 0 && (got = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)got) != got) return 2;
  if (in < 0 || out < 0) return 2;
  close(in);
  close(out);
  symlink("../../outside", "/w/l");
  pid_t swapper = fork();
  if (swapper == 0) {
    for (;;) {  /* /w/s: the program, then the symlink, then back */
      rename("/w/s", "/w/d");
      rename("/w/l", "/w/s");
      rename("/w/s", "/w/l");
      rename("/w/d", "/w/s");
    }
  }
  int escapes = 0;
  for (long i = 0; i < n && !escapes; ++i) {
    pid_t child = fork();
    if (child == 0) {
      execl("/w/s", "s", "probe", (char*)NULL);
      _exit(0);  /* ENOENT or ELOOP: the swap was under way */
    }
    int st = 0;
    waitpid(child, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) escapes = 1;  /* busybox: no applet "s" */
  }
  kill(swapper, SIGKILL);
  waitpid(swapper, NULL, 0);
  printf(escapes ? "escaped\n" : "contained\n");
  return escapes;
}

static int bind_race(long n) {
  mkdir("/w", 0755);
  mkdir("/w/s", 0755);
  symlink("../..", "/w/l");
  pid_t swapper = fork();
  if (swapper == 0)
    for (;;) renameat2(AT_FDCWD, "/w/s", AT_FDCWD, "/w/l", RENAME_EXCHANGE);  /* directory <-> symlink */
  pid_t binder = fork();
  if (binder == 0) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, "/w/s/sock");
    for (long i = 0; i < n; ++i) {
      int s = socket(AF_UNIX, SOCK_STREAM, 0);
      bind(s, (struct sockaddr*)&sun, sizeof sun);
      close(s);
      unlink("/w/s/sock");
      unlink("/w/d/sock");
    }
    _exit(0);
  }
  int st = 0;
  waitpid(binder, &st, 0);
  kill(swapper, SIGKILL);
  waitpid(swapper, NULL, 0);
  printf(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "killed\n" : "done\n");
  return 0;
}

static void* chdirs(void* arg) {
  (void)arg;
  for (int i = 0; i < 300; ++i)
    if (chdir(i % 2 ? "/w" : "/bin") != 0) escaped = errno;
  return NULL;
}

int main(int argc, char** argv) {
  if (argc > 1 && !strcmp(argv[1], "probe")) return 0;  /* run by exec_race from inside */
  if (argc > 2 && !strcmp(argv[1], "fexec")) {
    int fd = open(argv[2], O_RDONLY);  /* not O_CLOEXEC: a script could not be run natively */
    char* args[] = {"probed", "probe", NULL};
    char* env[] = {NULL};
    syscall(SYS_execveat, fd, "", args, env, AT_EMPTY_PATH);
    printf("fexec %s: %s\n", argv[2], strerror(errno));
    return 0;
  }
  if (argc > 2 && !strcmp(argv[1], "opath")) return opath_race(atol(argv[2]));
  if (argc > 2 && !strcmp(argv[1], "exec")) return exec_race(atol(argv[2]));
  if (argc > 2 && !strcmp(argv[1], "bind")) return bind_race(atol(argv[2]));
  if (argc > 1 && !strcmp(argv[1], "chdirs")) {
    mkdir("/w", 0755);
    pthread_t t[4];
    for (int i = 0; i < 4; ++i) pthread_create(&t[i], NULL, chdirs, NULL);
    for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
    if (escaped) printf("chdir failed: %s\n", strerror(escaped));
    else printf("ok\n");
    return 0;
  }
  iterations = argc > 1 ? atol(argv[1]) : 2000;
  mkdir("/w", 0755);
  mkdir("/w/a", 0755);
  mkdir("/w/a/b", 0755);
  pthread_t r, c[2];
  pthread_create(&r, NULL, renamer, NULL);
  for (int i = 0; i < 2; ++i) pthread_create(&c[i], NULL, climber, NULL);
  for (int i = 0; i < 2; ++i) pthread_join(c[i], NULL);
  stop = 1;
  pthread_join(r, NULL);
  if (escaped) {
    printf("escaped\n");
    return 1;
  }
  printf("contained %ld\n", iterations * 2);
  return 0;
}
