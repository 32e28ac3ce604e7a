// chroot(2) as the kernel does it (issue 12: LTP chroot01-04, realpath01): the emulated backend
// keeps each process's own root in the fs family. Prints one line per step, to be the same
// natively and under lx.
//
//   guest_chroot jail DIR   DIR holds inside, sub/, sub/rel -> ../inside, abs -> /inside and, in
//                           it, a copy of this program (/guest_chroot) and its libraries. A child
//                           chroots to DIR and the parent looks at it through /proc/<pid>/root;
//                           then this process chroots to DIR, walks, forks, and runs /guest_chroot
//                           inner (the exec's program and interpreter are found in the jail).
//   guest_chroot inner      inside the jail: cwd, paths, then a chroot to sub (relative).
//   guest_chroot refused DIR  chroot's errors: ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, EFAULT;
//                           EACCES without search permission and EPERM without CAP_SYS_CHROOT.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char* what, long rc) {
  if (rc < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, rc);
}

static void stat_of(const char* path) {
  struct stat st;
  char what[PATH_MAX + 16];
  snprintf(what, sizeof what, "stat %s", path);
  report(what, stat(path, &st));
}

static void cwd(const char* when) {
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf)) printf("cwd %s: %s\n", when, strerrorname_np(errno));
  else if (!strncmp(buf, "(unreachable)", 13)) printf("cwd %s: (unreachable)...\n", when);
  else printf("cwd %s: %s\n", when, buf);
}

// A child chroots; this process reads its /proc/<pid>/root and opens a file through it.
static void watch_a_jailed_child(const char* dir) {
  int go[2], done[2];
  if (pipe(go) != 0 || pipe(done) != 0) return;
  pid_t p = fork();
  if (p == 0) {
    char c = chroot(dir) == 0 ? 'y' : 'n';
    (void)!write(go[1], &c, 1);
    (void)!read(done[0], &c, 1);
    struct stat st;
    _exit(stat("/inside", &st) == 0 ? 0 : 1);
  }
  char c = 0, link[PATH_MAX + 1], real[PATH_MAX];
  (void)!read(go[0], &c, 1);
  printf("child chroot: %c\n", c);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/root", p);
  ssize_t n = readlink(path, link, PATH_MAX);
  link[n < 0 ? 0 : n] = 0;
  printf("its root link is the jail: %s\n", realpath(dir, real) && !strcmp(link, real) ? "yes" : link);
  snprintf(path, sizeof path, "/proc/%d/root/inside", p);
  struct stat st;
  report("stat /proc/<child>/root/inside", stat(path, &st));
  (void)!write(done[1], "x", 1);
  int status = 0;
  waitpid(p, &status, 0);
  printf("child sees /inside: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no");
}

static int jail(const char* dir) {
  watch_a_jailed_child(dir);
  report("chroot", chroot(dir));
  cwd("after chroot");
  errno = 0;
  char* r = realpath(".", NULL);
  printf("realpath .: %s\n", r ? r : strerrorname_np(errno));
  const char* paths[] = {"/inside", "/../inside", "/abs", "/sub/../../inside", "/sub/rel", "inside", "/lib"};
  for (size_t i = 0; i < sizeof paths / sizeof *paths; ++i) stat_of(paths[i]);
  report("chdir /", chdir("/"));
  cwd("at /");
  report("chdir sub", chdir("sub"));
  cwd("in sub");
  report("chdir ../..", chdir("../.."));
  cwd("after ../..");
  pid_t p = fork();
  if (p == 0) _exit(access("/inside", F_OK) == 0 ? 0 : 1);
  int status = 0;
  waitpid(p, &status, 0);
  printf("forked child sees /inside: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no");
  fflush(stdout);
  execl("/guest_chroot", "guest_chroot", "inner", (char*)NULL);
  report("exec /guest_chroot", -1);
  return 1;
}

static int inner(void) {
  printf("inner runs\n");
  cwd("inner");
  stat_of("/inside");
  stat_of("/lib");
  report("chroot sub", chroot("sub"));
  stat_of("/rel");  // ../inside from sub, the root now: sub/inside, which is not there
  stat_of("/inside");
  report("chdir /", chdir("/"));
  cwd("in the new root");
  return 0;
}

static int refused(const char* dir) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/none", dir);
  report("chroot missing", chroot(path));
  snprintf(path, sizeof path, "%s/inside", dir);
  report("chroot file", chroot(path));
  snprintf(path, sizeof path, "%s/loop", dir);
  (void)!symlink("loop", path);
  report("chroot loop", chroot(path));
  char* longer = malloc(PATH_MAX + 10);
  memset(longer, 'a', PATH_MAX + 9);
  longer[PATH_MAX + 9] = 0;
  report("chroot too long", chroot(longer));
  report("chroot bad address", chroot((const char*)1));
  snprintf(path, sizeof path, "%s/nosearch", dir);
  mkdir(path, 0222);
  chmod(path, 0222);
  if (geteuid() == 0 && seteuid(65534) != 0) return 1;
  report("chroot without search permission", chroot(path));
  report("chroot without CAP_SYS_CHROOT", chroot(dir));
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 3 && !strcmp(argv[1], "jail")) return jail(argv[2]);
  if (argc == 2 && !strcmp(argv[1], "inner")) return inner();
  if (argc == 3 && !strcmp(argv[1], "refused")) return refused(argv[2]);
  fprintf(stderr, "usage: guest_chroot jail DIR | inner | refused DIR\n");
  return 2;
}
