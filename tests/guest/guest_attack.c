/* Guest test program: calls that name a process, aimed at a process outside the instance or
 * inside it. Prints one parseable line per call: "NAME RESULT", RESULT being "ok" or the errno
 * name (strerrorname_np). Static, so that it runs inside the busybox rootfs.
 *
 *   guest_attack attack PID|parent [ADDR]  prints "ready", waits for SIGUSR1, then makes every
 *                                          attack on PID (parent: getppid()); ADDR (hex) is
 *                                          where process_vm_writev writes (default 0x10000);
 *                                          then prints "done" and waits for SIGTERM
 *   guest_attack inside                    the same calls on the guest's own children and itself
 *   guest_attack bystander                 a target: prints "up ADDR" (its canary's address),
 *                                          counts every signal it gets until SIGUSR1, then
 *                                          prints "signals=N canary=TEXT" and exits
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/ioprio.h>
#include <linux/kcmp.h>
#include <linux/perf_event.h>
#include <linux/sockios.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static char canary[32] = "canary-untouched";

/* Prints "NAME ok" when `r` >= 0, else "NAME ERRNO". */
static void report(const char* name, long r) {
  if (r >= 0)
    printf("%s ok\n", name);
  else
    printf("%s %s\n", name, strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
  fflush(stdout);
}

/* Sets the owner of a fresh pipe (or socketpair) with `how`, F_SETSIG `sig`, O_ASYNC, and
 * writes to it: an owner that took would get `sig`. Returns the owner call's result. */
enum owner_how { SETOWN, SETOWN_EX_PID, SETOWN_EX_TID, FIOSETOWN_IO, SIOCSPGRP_IO };
static long set_owner(enum owner_how how, int who, int sig) {
  int p[2];
  int sock = how == FIOSETOWN_IO || how == SIOCSPGRP_IO;
  if (sock ? socketpair(AF_UNIX, SOCK_STREAM, 0, p) : pipe(p)) return -1;
  long r;
  if (how == SETOWN) {
    r = fcntl(p[0], F_SETOWN, who);
  } else if (how == SETOWN_EX_PID || how == SETOWN_EX_TID) {
    struct f_owner_ex o = {how == SETOWN_EX_PID ? F_OWNER_PID : F_OWNER_TID, who};
    r = fcntl(p[0], F_SETOWN_EX, &o);
  } else {
    r = ioctl(p[0], how == FIOSETOWN_IO ? FIOSETOWN : SIOCSPGRP, &who);
  }
  int e = errno;
  fcntl(p[0], F_SETSIG, sig);
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_ASYNC);
  if (write(p[1], "x", 1) != 1) (void)0;
  close(p[0]);
  close(p[1]);
  errno = e;
  return r;
}

static volatile sig_atomic_t got_io, got_usr1, signals;
static void on_io(int sig) { (void)sig, got_io = 1; }
static void on_usr1(int sig) { (void)sig, got_usr1 = 1; }

static void attacks(pid_t pid, uintptr_t addr) {
  char buf[16];
  struct iovec local = {buf, sizeof buf}, remote = {(void*)addr, sizeof buf};
  long r = ptrace(PTRACE_ATTACH, pid, 0, 0);
  report("ptrace_attach", r);
  if (r == 0) ptrace(PTRACE_DETACH, pid, 0, 0);
  r = ptrace(PTRACE_SEIZE, pid, 0, 0);
  report("ptrace_seize", r);
  if (r == 0) ptrace(PTRACE_DETACH, pid, 0, 0);
  errno = 0;
  r = ptrace(PTRACE_PEEKDATA, pid, (void*)addr, 0);
  report("ptrace_peekdata", errno ? -1 : 0);
  report("process_vm_readv", process_vm_readv(pid, &local, 1, &remote, 1, 0));
  memcpy(buf, "PWNED-BY-GUEST", 15);
  local.iov_len = remote.iov_len = 15;
  report("process_vm_writev", process_vm_writev(pid, &local, 1, &remote, 1, 0));
  r = syscall(SYS_pidfd_open, pid, 0);
  report("pidfd_open", r);
  if (r >= 0) close((int)r);
  report("kcmp", syscall(SYS_kcmp, getpid(), pid, KCMP_VM, 0, 0));
  struct rlimit old, lim = {7, 7};
  report("prlimit_get", prlimit(pid, RLIMIT_NOFILE, NULL, &old));
  report("prlimit_set", prlimit(pid, RLIMIT_NOFILE, &lim, NULL));
  report("setpriority", setpriority(PRIO_PROCESS, pid, 19));
  errno = 0;
  r = getpriority(PRIO_PROCESS, pid);
  report("getpriority", errno ? -1 : 0);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  report("sched_setaffinity", sched_setaffinity(pid, sizeof set, &set));
  report("sched_getaffinity", sched_getaffinity(pid, sizeof set, &set));
  struct sched_param sp = {0};
  report("sched_setscheduler", sched_setscheduler(pid, SCHED_IDLE, &sp));
  report("sched_getparam", sched_getparam(pid, &sp));
  report("ioprio_set",
         syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, pid, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)));
  report("ioprio_get", syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, pid));
  report("getpgid", getpgid(pid));
  report("getsid", getsid(pid));
  void* head;
  size_t len;
  report("get_robust_list", syscall(SYS_get_robust_list, pid, &head, &len));
  report("move_pages", syscall(SYS_move_pages, pid, 0, NULL, NULL, NULL, 0));
  struct __user_cap_header_struct ch = {_LINUX_CAPABILITY_VERSION_3, pid};
  struct __user_cap_data_struct cd[2];
  report("capget", syscall(SYS_capget, &ch, cd));
  struct perf_event_attr pa;
  memset(&pa, 0, sizeof pa);
  pa.size = sizeof pa;
  pa.type = PERF_TYPE_SOFTWARE;
  pa.config = PERF_COUNT_SW_TASK_CLOCK;
  r = syscall(SYS_perf_event_open, &pa, pid, -1, -1, 0);
  report("perf_event_open", r);
  if (r >= 0) close((int)r);
  report("perf_event_open_cpu", r = syscall(SYS_perf_event_open, &pa, -1, 0, -1, 0));
  if (r >= 0) close((int)r);
  report("kill", kill(pid, 0));
  report("fsetown", set_owner(SETOWN, pid, SIGKILL));
  report("fsetown_ex", set_owner(SETOWN_EX_PID, pid, SIGKILL));
  report("fsetown_ex_tid", set_owner(SETOWN_EX_TID, pid, SIGKILL));
  report("fiosetown", set_owner(FIOSETOWN_IO, pid, SIGKILL));
  report("siocspgrp", set_owner(SIOCSPGRP_IO, pid, SIGKILL));
  /* The guest's own process group holds its tracer under lx exec: no owner there. */
  report("fsetown_mygroup", set_owner(SETOWN, -getpgrp(), SIGUSR2));
  /* Every process of the uid: only the instance's members (the guest itself) are changed. */
  report("prio_user", setpriority(PRIO_USER, 0, 18));
  report("ioprio_user",
         syscall(SYS_ioprio_set, IOPRIO_WHO_USER, getuid(), IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 7)));
}


static void inside(void) {
  char buf[32];
  pid_t child = fork();
  if (child == 0) {
    strcpy(canary, "child-canary");
    for (;;) pause();
  }
  pid_t leader = fork();  /* a process group of its own */
  if (leader == 0) {
    setpgid(0, 0);
    for (;;) pause();
  }
  setpgid(leader, leader);
  struct iovec local = {buf, sizeof canary}, remote = {canary, sizeof canary};
  long r = -1;
  for (int i = 0; i < 500; ++i) { /* until the child's strcpy is done */
    r = process_vm_readv(child, &local, 1, &remote, 1, 0);
    if (r < 0 || strcmp(buf, "child-canary") == 0) break;
    usleep(20000);
  }
  if (r >= 0 && strcmp(buf, "child-canary") != 0) errno = EIO, r = -1;
  report("process_vm_readv", r);
  strcpy(buf, "written");
  local.iov_len = remote.iov_len = 8;
  report("process_vm_writev", process_vm_writev(child, &local, 1, &remote, 1, 0));
  r = syscall(SYS_pidfd_open, child, 0);
  report("pidfd_open", r);
  if (r >= 0) {
    report("pidfd_send_signal", syscall(SYS_pidfd_send_signal, (int)r, 0, NULL, 0));
    close((int)r);
  }
  report("kcmp", syscall(SYS_kcmp, getpid(), child, KCMP_VM, 0, 0));
  struct rlimit lim = {64, 64}, got;
  r = prlimit(child, RLIMIT_NOFILE, &lim, NULL);
  if (r == 0 && (prlimit(child, RLIMIT_NOFILE, NULL, &got) != 0 || got.rlim_cur != 64)) errno = EIO, r = -1;
  report("prlimit", r);
  r = setpriority(PRIO_PROCESS, child, 5);
  if (r == 0 && getpriority(PRIO_PROCESS, child) != 5) errno = EIO, r = -1;
  report("setpriority", r);
  r = setpriority(PRIO_PGRP, leader, 7);
  if (r == 0 && getpriority(PRIO_PROCESS, leader) != 7) errno = EIO, r = -1;
  report("setpriority_pgrp", r);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  report("sched_setaffinity", sched_setaffinity(child, sizeof set, &set));
  report("ioprio_set",
         syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, child, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 6)));
  report("getpgid", getpgid(child));
  report("getsid", getsid(child));
  struct __user_cap_header_struct ch = {_LINUX_CAPABILITY_VERSION_3, child};
  struct __user_cap_data_struct cd[2];
  report("capget", syscall(SYS_capget, &ch, cd));

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_io;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGIO, &sa, NULL);
  static const struct {
    const char* name;
    enum owner_how how;
  } owners[] = {{"fsetown", SETOWN}, {"fsetown_ex_tid", SETOWN_EX_TID}, {"fiosetown", FIOSETOWN_IO}};
  for (size_t i = 0; i < sizeof owners / sizeof owners[0]; ++i) {
    got_io = 0;
    int who = owners[i].how == SETOWN_EX_TID ? gettid() : getpid();
    r = set_owner(owners[i].how, who, SIGUSR1);
    for (int k = 0; r >= 0 && !got_io && k < 1000; ++k) usleep(10000);
    if (r >= 0 && !got_io) errno = ETIMEDOUT, r = -1;
    report(owners[i].name, r);
  }
  /* A group made of the instance's processes only. */
  report("fsetown_group", set_owner(SETOWN, -leader, SIGCONT));

  long attached = ptrace(PTRACE_ATTACH, child, 0, 0);
  report("ptrace_attach", attached);
  if (attached == 0) {  /* where tracing is ours (the kernel backend): let the child go again */
    int stopped = 0;
    waitpid(child, &stopped, __WALL);
    ptrace(PTRACE_DETACH, child, 0, 0);
  }
  report("ptrace_traceme", ptrace(PTRACE_TRACEME, 0, 0, 0));

  r = kill(-leader, SIGTERM);
  int st = 0;
  if (r == 0 && (waitpid(leader, &st, 0) != leader || !WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM))
    errno = EIO, r = -1;
  report("kill_group", r);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
}

static void count(int sig) {
  if (sig == SIGUSR1)
    got_usr1 = 1;
  else
    signals++;
}

static int bystander(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = count;
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD) sigaction(s, &sa, NULL);
  printf("up %lx\n", (unsigned long)(uintptr_t)canary);
  fflush(stdout);
  while (!got_usr1) pause();
  printf("signals=%d canary=%s\n", (int)signals, canary);
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "attack") == 0) {
    pid_t pid = strcmp(argv[2], "parent") == 0 ? getppid() : (pid_t)atoi(argv[2]);
    uintptr_t addr = argc >= 4 ? (uintptr_t)strtoull(argv[3], NULL, 16) : 0x10000;
    /* The test looks at the target first, then says go (SIGUSR1, forwarded by lx exec). */
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old);
    signal(SIGUSR1, on_usr1);
    printf("ready\n");
    fflush(stdout);
    while (!got_usr1) sigsuspend(&old);
    attacks(pid, addr);
    printf("done\n");
    fflush(stdout);
    for (;;) pause();
  }
  if (argc == 2 && strcmp(argv[1], "inside") == 0) {
    inside();
    printf("done\n");
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "bystander") == 0) return bystander();
  fprintf(stderr, "usage: guest_attack attack PID|parent [ADDR] | inside | bystander\n");
  return 2;
}
