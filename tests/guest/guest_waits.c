// Waits that a signal the program ignores must not interrupt (issue 12, "interrupted calls"):
// each op starts a child that exits 50 ms later, while the program waits up to 300 ms for
// something that never comes, and prints what the wait returned. Natively the child's SIGCHLD,
// ignored by default, is never queued; under ptrace the kernel queues it and it wakes the wait.
//
//   guest_waits [handler] OP...
//   handler       install a SIGCHLD handler (no SA_RESTART) first: then EINTR is right
//   ignore        set SIGCHLD to SIG_IGN (the child is reaped by the kernel)
//   usr2          set SIGUSR2 to SIG_IGN; from then on each child sends it to the program first
//   stream        as usr2, but each child sends it every 30 ms for 1.2 s: the wait still ends
//   sigtimedwait  sigtimedwait for SIGUSR1 (blocked)       -> "sigtimedwait: EAGAIN"
//   epoll         epoll_wait on an empty epoll             -> "epoll: 0"
//   recv          recv on a socket with SO_RCVTIMEO 300 ms -> "recv: EAGAIN"
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_chld(int sig) { (void)sig; }

static void report(const char* op, long rc) {
  if (rc < 0) printf("%s: %s\n", op, strerrorname_np(errno));
  else printf("%s: %ld\n", op, rc);
}

static int send_usr2;

static pid_t child_exiting_soon(void) {
  pid_t p = fork();
  if (p == 0) {
    usleep(50 * 1000);
    for (int i = 0; i < (send_usr2 == 2 ? 40 : 1) && send_usr2; ++i) {  /* stream: 1.2 s of them */
      kill(getppid(), SIGUSR2);
      usleep(30 * 1000);
    }
    _exit(0);
  }
  return p;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, NULL);
  for (int i = 1; i < argc; ++i) {
    const char* op = argv[i];
    if (!strcmp(op, "handler")) {
      struct sigaction sa = {.sa_handler = on_chld};
      sigaction(SIGCHLD, &sa, NULL);
      continue;
    }
    if (!strcmp(op, "usr2") || !strcmp(op, "stream")) {
      signal(SIGUSR2, SIG_IGN);
      send_usr2 = op[0] == 'u' ? 1 : 2;
      continue;
    }
    if (!strcmp(op, "ignore")) {
      signal(SIGCHLD, SIG_IGN);
      continue;
    }
    pid_t child = child_exiting_soon();
    long rc;
    if (!strcmp(op, "sigtimedwait")) {
      struct timespec t = {0, 300 * 1000 * 1000};
      rc = sigtimedwait(&usr1, NULL, &t);
    } else if (!strcmp(op, "epoll")) {
      int ep = epoll_create1(EPOLL_CLOEXEC);
      rc = epoll_wait(ep, &(struct epoll_event){0}, 1, 300);
      close(ep);
    } else if (!strcmp(op, "recv")) {
      int sv[2];
      socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
      struct timeval tv = {0, 300 * 1000};
      setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char c;
      rc = recv(sv[0], &c, 1, 0);
      close(sv[0]);
      close(sv[1]);
    } else {
      fprintf(stderr, "guest_waits: unknown op %s\n", op);
      return 2;
    }
    int saved = errno;
    waitpid(child, NULL, 0);  // ECHILD once SIGCHLD is ignored: the kernel reaped it
    errno = saved;
    report(op, rc);
  }
  return 0;
}
