// Guest program for the proc view tests: reaches /proc/<pid> of a process through every path
// call and form the tests name, and lists /proc with both getdents calls.
//   guest_procview probe PID|ppid DIR   one "form=RESULT" line per attempt (RESULT: ok or errno name);
//                                       DIR is a writable directory for the symlink attempts
//   guest_procview list                 the numeric names in /proc, by getdents64 then getdents
//   guest_procview race PID|ppid N      a thread rewrites the path between /proc/self/status and
//                                       /proc/PID/status while N opens run: "leaked K"
//   guest_procview child                forks a child and probes it: its entries must open
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

extern char** environ;

static const char* ename(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTDIR: return "ENOTDIR";
    case ELOOP: return "ELOOP";
    case EINVAL: return "EINVAL";
    case EXDEV: return "EXDEV";
    case ESRCH: return "ESRCH";
    case EBADF: return "EBADF";
    case ENODATA: return "ENODATA";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EISDIR: return "EISDIR";
    default: return "other";
  }
}

static void report(const char* form, long rc) {
  printf("%s=%s\n", form, rc >= 0 ? "ok" : ename(errno));
}

static long open_close(int dirfd, const char* path, int flags) {
  int fd = openat(dirfd, path, flags);
  if (fd >= 0) close(fd);
  return fd;
}

static void probe(pid_t pid, const char* dir) {
  char p[512], q[512];
#define P(...) (snprintf(p, sizeof p, __VA_ARGS__), p)
  report("open_mem_rw", open_close(AT_FDCWD, P("/proc/%d/mem", pid), O_RDWR));
  report("open_mem", open_close(AT_FDCWD, P("/proc/%d/mem", pid), O_RDONLY));
  report("open_environ", open_close(AT_FDCWD, P("/proc/%d/environ", pid), O_RDONLY));
  report("open_maps", open_close(AT_FDCWD, P("/proc/%d/maps", pid), O_RDONLY));
  report("open_status", open_close(AT_FDCWD, P("/proc/%d/status", pid), O_RDONLY));
  report("open_double_slash", open_close(AT_FDCWD, P("/proc//%d/mem", pid), O_RDONLY));
  report("open_dot", open_close(AT_FDCWD, P("/proc/./%d/mem", pid), O_RDONLY));
  report("open_self_dotdot", open_close(AT_FDCWD, P("/proc/self/../%d/status", pid), O_RDONLY));
  report("open_thread_self_dotdot", open_close(AT_FDCWD, P("/proc/thread-self/../../../%d/status", pid), O_RDONLY));
  report("open_dotdot_out", open_close(AT_FDCWD, P("/proc/%d/../../proc/self/status", pid), O_RDONLY));
  report("open_self_root", open_close(AT_FDCWD, P("/proc/self/root/proc/%d/status", pid), O_RDONLY));
  report("open_task", open_close(AT_FDCWD, P("/proc/%d/task/%d/status", pid, pid), O_RDONLY));
  report("open_self_task", open_close(AT_FDCWD, P("/proc/self/task/%d/status", pid), O_RDONLY));
  report("open_path", open_close(AT_FDCWD, P("/proc/%d", pid), O_PATH));
  report("open_dir", open_close(AT_FDCWD, P("/proc/%d", pid), O_RDONLY | O_DIRECTORY));
  int procfd = open("/proc", O_RDONLY | O_DIRECTORY);
  report("openat_procfd", open_close(procfd, P("%d/mem", pid), O_RDONLY));
  int procpath = open("/proc", O_PATH);
  report("openat_procpath", open_close(procpath, P("%d/status", pid), O_RDONLY));
  report("open_dev_fd", open_close(AT_FDCWD, P("/dev/fd/%d/%d/status", procfd, pid), O_RDONLY));
  int selffd = open("/proc/self", O_PATH);
  report("open_dev_fd_dotdot", open_close(AT_FDCWD, P("/dev/fd/%d/../%d/status", selffd, pid), O_RDONLY));
  report("open_fd_dotdot", open_close(AT_FDCWD, P("/proc/self/fd/%d/../%d/status", selffd, pid), O_RDONLY));
  struct open_how how = {.flags = O_RDONLY};
  report("openat2", syscall(SYS_openat2, AT_FDCWD, P("/proc/%d/status", pid), &how, sizeof how));
  how.resolve = RESOLVE_NO_MAGICLINKS;
  report("openat2_procfd", syscall(SYS_openat2, procfd, P("%d/status", pid), &how, sizeof how));
  struct stat st;
  report("stat", stat(P("/proc/%d", pid), &st));
  report("lstat", lstat(P("/proc/%d/exe", pid), &st));
  report("fstatat", fstatat(procfd, P("%d", pid), &st, 0));
  struct statx stx;
  report("statx", statx(AT_FDCWD, P("/proc/%d/mem", pid), 0, STATX_BASIC_STATS, &stx));
  report("access", access(P("/proc/%d/mem", pid), R_OK));
  report("faccessat2", syscall(SYS_faccessat2, procfd, P("%d/environ", pid), R_OK, 0));
  report("readlink_exe", readlink(P("/proc/%d/exe", pid), q, sizeof q));
  report("readlink_cwd", readlink(P("/proc/%d/cwd", pid), q, sizeof q));
  report("readlink_root", readlinkat(procfd, P("%d/root", pid), q, sizeof q));
  report("getxattr", getxattr(P("/proc/%d/mem", pid), "user.x", q, sizeof q));
  report("listxattr", listxattr(P("/proc/%d/mem", pid), q, sizeof q));
  report("truncate", truncate(P("/proc/%d/mem", pid), 0));
  report("chmod", chmod(P("/proc/%d/mem", pid), 0600));
  // execve of the process's program: the child reports the exec's errno as its exit status.
  pid_t e = fork();
  if (e == 0) {
    char* args[] = {"x", "--version", NULL};
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execve(P("/proc/%d/exe", pid), args, environ);
    _exit(100 + errno);
  }
  int status = 0;
  waitpid(e, &status, 0);
  errno = WIFEXITED(status) && WEXITSTATUS(status) > 100 ? WEXITSTATUS(status) - 100 : 0;
  report("execve", errno ? -1 : 0);
  int ino = inotify_init1(IN_CLOEXEC);
  report("inotify", inotify_add_watch(ino, P("/proc/%d", pid), IN_ALL_EVENTS));
  close(ino);
  // A symlink in a writable directory, absolute and relative.
  snprintf(q, sizeof q, "%s/pv-abs", dir);
  unlink(q);
  if (symlink(P("/proc/%d", pid), q) == 0) {
    report("symlink_abs", open_close(AT_FDCWD, (strcat(q, "/status"), q), O_RDONLY));
  } else {
    report("symlink_abs_create", -1);
  }
  snprintf(q, sizeof q, "%s/pv-dev", dir);
  unlink(q);
  if (symlink("/proc/self/..", q) == 0) {
    report("symlink_self_dotdot", open_close(AT_FDCWD, (snprintf(q, sizeof q, "%s/pv-dev/%d/status", dir, pid), q), O_RDONLY));
  }
  // chdir into /proc, then relative; chdir into /proc/PID itself.
  int cwd = open(".", O_PATH);
  if (chdir("/proc") == 0) {
    report("relative_from_proc_cwd", open_close(AT_FDCWD, P("%d/mem", pid), O_RDONLY));
    report("relative_stat", stat(P("%d", pid), &st));
  }
  report("chdir", chdir(P("/proc/%d", pid)));
  report("chdir_then_open", open_close(AT_FDCWD, "status", O_RDONLY));
  fchdir(cwd);
  report("fchdir_procfd_then_open", (fchdir(procfd), open_close(AT_FDCWD, P("%d/status", pid), O_RDONLY)));
  fchdir(cwd);
  close(procfd);
  close(procpath);
  close(selffd);
#undef P
}

// Prints the numeric names getdents64 (`sys` SYS_getdents64) or getdents gives for /proc.
static void list_with(long sys, const char* label) {
  int fd = open("/proc", O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    printf("%s: open: %s\n", label, strerror(errno));
    return;
  }
  char buf[512];  // small: several calls, some batches only strangers
  printf("%s:", label);
  int others = 0;
  for (;;) {
    long n = syscall(sys, fd, buf, sizeof buf);
    if (n < 0) {
      printf(" error %s", strerror(errno));
      break;
    }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      const char* name;
      unsigned short reclen;
      memcpy(&reclen, buf + off + 16, sizeof reclen);
      name = buf + off + (sys == SYS_getdents64 ? 19 : 18);
      if (name[0] >= '0' && name[0] <= '9') printf(" %s", name);
      else others++;
      off += reclen;
    }
  }
  printf(" others=%s\n", others > 10 ? "yes" : "no");
  close(fd);
}

static volatile int stop;
static char race_path[64];
static char race_a[64], race_b[64];

static void* flipper(void* arg) {
  (void)arg;
  while (!stop) {
    memcpy(race_path, race_b, sizeof race_path);
    memcpy(race_path, race_a, sizeof race_path);
  }
  return NULL;
}

static void race(pid_t pid, int n) {
  snprintf(race_a, sizeof race_a, "/proc/self/status");
  snprintf(race_b, sizeof race_b, "/proc/%d/status", pid);
  memcpy(race_path, race_a, sizeof race_path);
  pthread_t t;
  pthread_create(&t, NULL, flipper, NULL);
  int leaked = 0;
  char want[64];
  snprintf(want, sizeof want, "\nPid:\t%d\n", pid);
  for (int i = 0; i < n; i++) {
    int fd = open(race_path, O_RDONLY);
    if (fd < 0) continue;
    char buf[4096];
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len > 0) {
      buf[len] = 0;
      if (strstr(buf, want)) leaked++;
    }
  }
  stop = 1;
  pthread_join(t, NULL);
  printf("leaked %d\n", leaked);
}

static pid_t target(const char* s) { return strcmp(s, "ppid") == 0 ? getppid() : (pid_t)atoi(s); }

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 4 && strcmp(argv[1], "probe") == 0) {
    probe(target(argv[2]), argv[3]);
  } else if (argc >= 2 && strcmp(argv[1], "list") == 0) {
    printf("self %d\n", getpid());
    list_with(SYS_getdents64, "getdents64");
    list_with(SYS_getdents, "getdents");
  } else if (argc >= 4 && strcmp(argv[1], "race") == 0) {
    race(target(argv[2]), atoi(argv[3]));
  } else if (argc >= 3 && strcmp(argv[1], "child") == 0) {
    int ready[2];
    if (pipe(ready) != 0) return 1;
    pid_t c = fork();
    if (c == 0) {
      close(ready[0]);
      if (write(ready[1], "x", 1) != 1) _exit(1);
      pause();
      _exit(0);
    }
    char x;
    close(ready[1]);
    if (read(ready[0], &x, 1) != 1) return 1;
    printf("child %d\n", c);
    list_with(SYS_getdents64, "getdents64");
    probe(c, argv[2]);
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
  } else {
    fprintf(stderr, "usage: guest_procview probe PID|ppid DIR | list | race PID|ppid N | child DIR\n");
    return 2;
  }
  return 0;
}
