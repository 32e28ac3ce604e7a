/* Guest test program: signal delivery must stay transparent under the driver. Prints one line
 * per check ("ok NAME" or "FAIL NAME ...") and exits 0 when all pass. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
static volatile sig_atomic_t got_usr1, got_alrm, got_usr2, got_chld;
static volatile uintptr_t handler_sp;
static char altstack[65536];

static void check(int ok, const char* name) {
  printf("%s %s\n", ok ? "ok" : "FAIL", name);
  if (!ok) ++failures;
}

static void on_usr1(int s) { (void)s; got_usr1 = 1; }
static void on_alrm(int s) { (void)s; ++got_alrm; }
static void on_usr2(int s) { (void)s; got_usr2 = 1; }
static void on_chld(int s) { (void)s; ++got_chld; }
static void on_alt(int s) {
  (void)s;
  int local;
  handler_sp = (uintptr_t)&local;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);

  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  check(got_usr1, "handler");

  /* SA_RESTART: a read interrupted by SIGALRM goes on and gets the data written later. */
  int p[2];
  pipe(p);
  sa.sa_handler = on_alrm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  pid_t writer = fork();
  if (writer == 0) {
    usleep(200000);
    write(p[1], "x", 1);
    _exit(0);
  }
  struct itimerval it = {{0, 0}, {0, 50000}};
  setitimer(ITIMER_REAL, &it, NULL);
  char c = 0;
  ssize_t n = read(p[0], &c, 1);
  check(n == 1 && c == 'x' && got_alrm == 1, "sa_restart");
  waitpid(writer, NULL, 0);

  /* sigaltstack: the handler runs on the alternate stack. */
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  sa.sa_handler = on_alt;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGPROF, &sa, NULL);
  raise(SIGPROF);
  check(handler_sp >= (uintptr_t)altstack && handler_sp < (uintptr_t)altstack + sizeof altstack, "sigaltstack");

  /* sigsuspend: wait for SIGUSR2 sent by a child. */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  sigprocmask(SIG_BLOCK, &block, &old);
  sa.sa_handler = on_usr2;
  sa.sa_flags = 0;
  sigaction(SIGUSR2, &sa, NULL);
  pid_t parent = getpid();
  pid_t sender = fork();
  if (sender == 0) {
    usleep(50000);
    kill(parent, SIGUSR2);
    _exit(0);
  }
  sigset_t wait_set = old;
  sigdelset(&wait_set, SIGUSR2);
  sigsuspend(&wait_set);
  check(got_usr2, "sigsuspend");
  sigprocmask(SIG_SETMASK, &old, NULL);
  waitpid(sender, NULL, 0);

  /* signalfd */
  sigset_t fdset;
  sigemptyset(&fdset);
  sigaddset(&fdset, SIGWINCH);
  sigprocmask(SIG_BLOCK, &fdset, NULL);
  int sfd = signalfd(-1, &fdset, 0);
  raise(SIGWINCH);
  struct signalfd_siginfo si;
  check(sfd >= 0 && read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGWINCH, "signalfd");

  /* SIGSTOP / SIGCONT of a child, seen by waitpid. */
  pid_t child = fork();
  if (child == 0) {
    for (;;) pause();
  }
  int st;
  kill(child, SIGSTOP);
  int stopped = waitpid(child, &st, WUNTRACED) == child && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP;
  kill(child, SIGCONT);
  int continued = waitpid(child, &st, WCONTINUED) == child && WIFCONTINUED(st);
  kill(child, SIGTERM);
  int termed = waitpid(child, &st, 0) == child && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
  check(stopped && continued && termed, "stop_cont");

  /* SIGCHLD from exiting children. */
  sa.sa_handler = on_chld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  got_chld = 0;
  pid_t kid = fork();
  if (kid == 0) _exit(3);
  waitpid(kid, &st, 0);
  check(got_chld >= 1 && WIFEXITED(st) && WEXITSTATUS(st) == 3, "sigchld");

  return failures ? 1 : 0;
}
