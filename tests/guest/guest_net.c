/* Guest test program for the net family.
 *   guest_net connect ADDR PORT    TCP connect: prints "ok" or the errno name
 *   guest_net udp ADDR PORT        UDP sendto: prints "ok" or the errno name
 *   guest_net serve PORT           TCP listen on 0.0.0.0:PORT; prints "listening P" (P from
 *                                  getsockname), answers one connection with "hello\n"
 *   guest_net unix PATH            a unix stream server at PATH and a client in a child:
 *                                  prints what the client got and the server's getsockname path
 *   guest_net dgram-send MODE PATH  sends "x" to the AF_UNIX datagram socket at PATH with MODE
 *                                  (sendto, sendmsg, sendmsg-cred, sendmmsg: two messages):
 *                                  prints "ok N" (N the result; "len L" per sendmmsg message) or
 *                                  the errno name
 *   guest_net inet-send MODE ADDR PORT   the same to a UDP address (sendmsg, sendmmsg)
 *   guest_net dgram-recv MODE PATH  binds PATH, a child binds PATH.c and sends "x" to it;
 *                                  receives with MODE (recvfrom, recvmsg, recvmmsg) and prints
 *                                  "from SOURCE" (the source path the call reported)
 *   guest_net dgram-recv-only PATH  binds PATH, prints "ready", then receives one datagram
 *                                  with recvfrom and prints "from SOURCE"
 *   guest_net accept MODE PATH     a stream server at PATH, a client bound at PATH.c connects;
 *                                  MODE accept or accept4 (SOCK_CLOEXEC|SOCK_NONBLOCK): prints
 *                                  "peer PATH" and, for accept4, the new fd's flags
 *   guest_net rights PATH          a child sends a pipe's read end with SCM_RIGHTS to the
 *                                  datagram socket at PATH (sendmsg with the address); the
 *                                  parent reads the pipe through the fd it received
 *   guest_net race PATH HOSTPATH N  N sendmsg of "x" to PATH while a thread keeps rewriting the
 *                                  message's path to HOSTPATH and back and swapping the fd for an
 *                                  inet socket, then once more after; prints "sent S"
 *   guest_net dirswap DIR TARGET N  N sends to DIR/s.sock (a socket it binds) while a thread
 *                                  keeps swapping DIR for a symlink to TARGET; prints "sent S"
 *   guest_net errors               bad pointers and bogus lengths on sendmsg/sendmmsg/recvmsg
 *                                  over a socketpair and an abstract socket: one line per case
 *   guest_net send-signal PATH     fills the datagram socket it binds at PATH, then a blocking
 *                                  sendmsg to it: prints "full EAGAIN" and EINTR (from SIGALRM)
 *   guest_net recv-signal PATH     prints its pid and "ready", then a recvfrom with an address
 *                                  on the datagram socket at PATH: EINTR from SIGALRM (no
 *                                  SA_RESTART), then restarted (SA_RESTART) until data comes
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int report(int r) {
  if (r >= 0) {
    printf("ok\n");
    return 0;
  }
  printf("%s\n", strerrorname_np(errno));
  return 1;
}

static struct sockaddr_in in4(const char* addr, int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  inet_pton(AF_INET, addr, &a.sin_addr);
  return a;
}


static struct sockaddr_un un_addr(const char* path) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  return a;
}

static int dgram_bound(const char* path) {
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un a = un_addr(path);
  unlink(path);
  if (bind(s, (struct sockaddr*)&a, sizeof a)) return -1;
  return s;
}

static void print_result(long r) {
  if (r < 0) printf("%s\n", strerrorname_np(errno));
  else printf("ok %ld\n", r);
}

// Sends "x" to `a` with `mode`; prints the outcome.
static int send_mode(const char* mode, int s, struct sockaddr* a, socklen_t len) {
  char x = 'x';
  struct iovec iov = {&x, 1};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = a;
  mh.msg_namelen = len;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (!strcmp(mode, "sendto")) {
    print_result(sendto(s, &x, 1, 0, a, len));
  } else if (!strcmp(mode, "sendmsg")) {
    print_result(sendmsg(s, &mh, 0));
  } else if (!strcmp(mode, "sendmsg-cred")) {
    union {
      char buf[CMSG_SPACE(sizeof(struct ucred))];
      struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred cr = {getpid(), getuid(), getgid()};
    memcpy(CMSG_DATA(c), &cr, sizeof cr);
    print_result(sendmsg(s, &mh, 0));
  } else if (!strcmp(mode, "sendmmsg")) {
    struct mmsghdr m[2];
    memset(m, 0, sizeof m);
    m[0].msg_hdr = mh;
    m[1].msg_hdr = mh;
    m[0].msg_len = m[1].msg_len = 99;
    int n = sendmmsg(s, m, 2, 0);
    print_result(n);
    if (n > 0) printf("len %u %u\n", m[0].msg_len, m[1].msg_len);
  } else {
    return 2;
  }
  return 0;
}

// Receives one datagram on `s` with `mode`; prints the source path it reports.
static int recv_mode(const char* mode, int s) {
  char buf[16];
  struct sockaddr_un from;
  memset(&from, 0, sizeof from);
  socklen_t len = sizeof from;
  struct iovec iov = {buf, sizeof buf};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = &from;
  mh.msg_namelen = sizeof from;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  long n;
  if (!strcmp(mode, "recvfrom")) {
    n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &len);
  } else if (!strcmp(mode, "recvmsg")) {
    n = recvmsg(s, &mh, 0);
    len = mh.msg_namelen;
  } else if (!strcmp(mode, "recvmmsg")) {
    struct mmsghdr m;
    memset(&m, 0, sizeof m);
    m.msg_hdr = mh;
    n = recvmmsg(s, &m, 1, 0, NULL);
    if (n == 1) n = m.msg_len;
    len = m.msg_hdr.msg_namelen;
  } else {
    return 2;
  }
  if (n < 0) return report(-1);
  printf("from %s len %d\n", from.sun_path, (int)len == (int)(offsetof(struct sockaddr_un, sun_path) + strlen(from.sun_path) + 1));
  return 0;
}

static volatile int race_stop;
static struct sockaddr_un race_addr;
static char race_in[108], race_out[108];
static int race_fd, race_inet;

static void* race_thread(void* arg) {
  (void)arg;
  while (!race_stop) {
    strcpy(race_addr.sun_path, race_out);
    int spare = dup(race_fd);
    dup2(race_inet, race_fd);
    strcpy(race_addr.sun_path, race_in);
    dup2(spare, race_fd);
    close(spare);
  }
  return NULL;
}

static void on_alarm(int sig) { (void)sig; }

static char swap_dir[100], swap_real[108], swap_link[108];

static void* swap_thread(void* arg) {
  (void)arg;
  while (!race_stop) {
    rename(swap_dir, swap_real);
    rename(swap_link, swap_dir);
    rename(swap_dir, swap_link);
    rename(swap_real, swap_dir);
  }
  return NULL;
}

// One line per case: what bad pointers and lengths give.
static int errors(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  int ab = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un abs;
  memset(&abs, 0, sizeof abs);
  abs.sun_family = AF_UNIX;
  snprintf(abs.sun_path + 1, sizeof abs.sun_path - 1, "lxhost-errors-%d", getpid());
  socklen_t abs_len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abs.sun_path + 1);
  bind(ab, (struct sockaddr*)&abs, abs_len);
  char x = 'x';
  struct iovec iov = {&x, 1};
  struct msghdr mh;
  void* bad = (void*)8;
#define RESET() (memset(&mh, 0, sizeof mh), mh.msg_iov = &iov, mh.msg_iovlen = 1)
#define CASE(name, expr)             \
  do {                               \
    long r_ = (expr);                \
    printf("%s: ", name);            \
    print_result(r_);                \
  } while (0)
  RESET();
  CASE("sendmsg bad msghdr", sendmsg(sv[0], bad, 0));
  RESET();
  mh.msg_name = bad;
  mh.msg_namelen = sizeof abs;
  CASE("sendmsg bad name", sendmsg(ab, &mh, 0));
  RESET();
  mh.msg_name = &abs;
  mh.msg_namelen = 200;
  CASE("sendmsg namelen 200", sendmsg(ab, &mh, 0));
  RESET();
  mh.msg_iov = bad;
  CASE("sendmsg bad iov", sendmsg(sv[0], &mh, 0));
  RESET();
  iov.iov_base = bad;
  CASE("sendmsg bad data", sendmsg(sv[0], &mh, 0));
  iov.iov_base = &x;
  RESET();
  mh.msg_iovlen = UIO_MAXIOV + 1;
  CASE("sendmsg iovlen UIO_MAXIOV+1", sendmsg(sv[0], &mh, 0));
  RESET();
  mh.msg_iovlen = (size_t)1 << 40;
  CASE("sendmsg iovlen 2^40", sendmsg(sv[0], &mh, 0));
  RESET();
  mh.msg_control = bad;
  mh.msg_controllen = 64;
  CASE("sendmsg bad control", sendmsg(sv[0], &mh, 0));
  RESET();
  char cbuf[CMSG_SPACE(sizeof(int) * 2)] __attribute__((aligned(8)));
  memset(cbuf, 0, sizeof cbuf);
  mh.msg_control = cbuf;
  mh.msg_controllen = (size_t)1 << 40;
  CASE("sendmsg controllen 2^40", sendmsg(sv[0], &mh, 0));
  RESET();
  struct cmsghdr* c = (struct cmsghdr*)cbuf;
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = 5;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  CASE("sendmsg cmsg_len 5", sendmsg(sv[0], &mh, 0));
  c->cmsg_len = CMSG_LEN(sizeof(int) * 2);
  int fds[2] = {0, 9999};
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  CASE("sendmsg SCM_RIGHTS fd 9999", sendmsg(sv[0], &mh, 0));
  c->cmsg_len = sizeof cbuf + 8;
  CASE("sendmsg cmsg_len past the buffer", sendmsg(sv[0], &mh, 0));
  RESET();
  CASE("sendmsg bad fd", sendmsg(9999, &mh, 0));
  CASE("sendmsg not a socket", sendmsg(1 ? open("/", O_RDONLY) : -1, &mh, 0));
  CASE("sendmmsg bad vector", sendmmsg(sv[0], bad, 2, 0));
  struct mmsghdr m[2];
  memset(m, 0, sizeof m);
  RESET();
  m[0].msg_hdr = mh;
  m[1].msg_hdr = mh;
  m[1].msg_hdr.msg_iov = bad;
  CASE("sendmmsg second bad", sendmmsg(sv[0], m, 2, 0));
  CASE("sendmmsg vlen 0", sendmmsg(sv[0], m, 0, 0));
  // More than UIO_MAXIOV messages: the kernel sends UIO_MAXIOV (1024).
  int st[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, st);
  static struct mmsghdr many[1100];  // empty messages: nothing fills the stream's buffer
  for (int i = 0; i < 1100; ++i) many[i].msg_hdr.msg_iovlen = 0;
  CASE("sendmmsg vlen 1100", sendmmsg(st[0], many, 1100, 0));
  CASE("sendmmsg vlen 2^31", sendmmsg(st[0], many, 1u << 31, MSG_DONTWAIT));
  RESET();
  mh.msg_name = &abs;
  mh.msg_namelen = abs_len;
  CASE("sendmsg to abstract", sendmsg(ab, &mh, 0));
  struct sockaddr_un from;
  socklen_t fl = sizeof from;
  char buf[4];
  CASE("recvfrom bad addrlen", recvfrom(ab, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr*)&from, (socklen_t*)bad));
  CASE("recvfrom", recvfrom(ab, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr*)&from, &fl));
  CASE("recvfrom empty", recvfrom(ab, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr*)&from, &fl));
  CASE("recvmsg bad msghdr", recvmsg(ab, bad, MSG_DONTWAIT));
  // MSG_PEEK leaves the datagram; MSG_TRUNC gives its real length.
  sendto(ab, "p", 1, 0, (struct sockaddr*)&abs, abs_len);
  CASE("recvfrom MSG_PEEK", recvfrom(ab, buf, sizeof buf, MSG_DONTWAIT | MSG_PEEK, (struct sockaddr*)&from, &fl));
  CASE("recvfrom after the peek", recvfrom(ab, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr*)&from, &fl));
  sendto(ab, "abc", 3, 0, (struct sockaddr*)&abs, abs_len);
  CASE("recvfrom 1 byte MSG_TRUNC", recvfrom(ab, buf, 1, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr*)&from, &fl));
  // recvmmsg with more entries than UIO_MAXIOV, each asking for the source.
  static struct mmsghdr rm[1100];
  static struct sockaddr_un rn[1100];
  static char rb[1100][4];
  static struct iovec ri[1100];
  for (int i = 0; i < 1100; ++i) {
    ri[i].iov_base = rb[i];
    ri[i].iov_len = sizeof rb[i];
    rm[i].msg_hdr.msg_iov = &ri[i];
    rm[i].msg_hdr.msg_iovlen = 1;
    rm[i].msg_hdr.msg_name = &rn[i];
    rm[i].msg_hdr.msg_namelen = sizeof rn[i];
  }
  CASE("recvmmsg bad timeout", recvmmsg(ab, rm, 1100, MSG_DONTWAIT, bad));
  sendto(ab, "1", 1, 0, (struct sockaddr*)&abs, abs_len);
  sendto(ab, "22", 2, 0, (struct sockaddr*)&abs, abs_len);
  CASE("recvmmsg vlen 2^31", recvmmsg(ab, rm, 1u << 31, MSG_DONTWAIT, NULL));
  printf("lengths %u %u, source %s\n", rm[0].msg_len, rm[1].msg_len,
         rm[0].msg_hdr.msg_namelen == abs_len && !memcmp(&rn[0], &abs, abs_len) ? "abstract" : "other");
  struct timespec ts = {5, 0};
  CASE("recvmmsg empty", recvmmsg(ab, rm, 4, MSG_DONTWAIT, &ts));
  // A blocking receive with SO_RCVTIMEO ends with EAGAIN.
  struct timeval tv = {0, 100000};
  setsockopt(ab, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  CASE("recvfrom SO_RCVTIMEO", recvfrom(ab, buf, sizeof buf, 0, (struct sockaddr*)&from, &fl));
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: guest_net SUBCOMMAND ARGS... (see the top of guest_net.c)\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!strcmp(argv[1], "connect") && argc > 3) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = in4(argv[2], atoi(argv[3]));
    return report(connect(s, (struct sockaddr*)&a, sizeof a));
  }
  if (!strcmp(argv[1], "udp") && argc > 3) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = in4(argv[2], atoi(argv[3]));
    return report((int)sendto(s, "x", 1, 0, (struct sockaddr*)&a, sizeof a));
  }
  if (!strcmp(argv[1], "serve")) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = in4("0.0.0.0", atoi(argv[2]));
    if (bind(s, (struct sockaddr*)&a, sizeof a) || listen(s, 4)) return report(-1);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr*)&a, &l);
    printf("listening %d\n", ntohs(a.sin_port));
    int c = accept(s, NULL, NULL);
    if (c < 0) return report(-1);
    write(c, "hello\n", 6);
    close(c);
    return 0;
  }
  if (!strcmp(argv[1], "unix")) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
    unlink(argv[2]);
    if (bind(s, (struct sockaddr*)&a, sizeof a) || listen(s, 4)) return report(-1);
    pid_t p = fork();
    if (p == 0) {
      int c = socket(AF_UNIX, SOCK_STREAM, 0);
      if (connect(c, (struct sockaddr*)&a, sizeof a)) _exit(report(-1));
      char buf[16] = {0};
      read(c, buf, sizeof buf - 1);
      printf("client got %s", buf);
      _exit(0);
    }
    int c = accept(s, NULL, NULL);
    write(c, "pong\n", 5);
    close(c);
    int st;
    waitpid(p, &st, 0);
    struct sockaddr_un b;
    socklen_t l = sizeof b;
    memset(&b, 0, sizeof b);
    getsockname(s, (struct sockaddr*)&b, &l);
    printf("server at %s\n", b.sun_path);
    return 0;
  }
  if (!strcmp(argv[1], "dgram-send") && argc > 3) {
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un a = un_addr(argv[3]);
    return send_mode(argv[2], s, (struct sockaddr*)&a, sizeof a);
  }
  if (!strcmp(argv[1], "inet-send") && argc > 4) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = in4(argv[3], atoi(argv[4]));
    return send_mode(argv[2], s, (struct sockaddr*)&a, sizeof a);
  }
  if (!strcmp(argv[1], "dgram-recv") && argc > 3) {
    int s = dgram_bound(argv[3]);
    if (s < 0) return report(-1);
    char peer[108];
    snprintf(peer, sizeof peer, "%s.c", argv[3]);
    pid_t p = fork();
    if (p == 0) {
      int c = dgram_bound(peer);
      struct sockaddr_un a = un_addr(argv[3]);
      if (c < 0 || sendto(c, "x", 1, 0, (struct sockaddr*)&a, sizeof a) != 1) _exit(report(-1));
      _exit(0);
    }
    int r = recv_mode(argv[2], s);
    waitpid(p, NULL, 0);
    unlink(peer);
    return r;
  }
  if (!strcmp(argv[1], "dgram-recv-only") && argc > 2) {
    int s = dgram_bound(argv[2]);
    if (s < 0) return report(-1);
    printf("ready\n");
    return recv_mode("recvfrom", s);
  }
  if (!strcmp(argv[1], "accept") && argc > 3) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = un_addr(argv[3]);
    unlink(argv[3]);
    if (bind(s, (struct sockaddr*)&a, sizeof a) || listen(s, 4)) return report(-1);
    char peer[108];
    snprintf(peer, sizeof peer, "%s.c", argv[3]);
    pid_t p = fork();
    if (p == 0) {
      int c = socket(AF_UNIX, SOCK_STREAM, 0);
      struct sockaddr_un b = un_addr(peer);
      unlink(peer);
      if (bind(c, (struct sockaddr*)&b, sizeof b) || connect(c, (struct sockaddr*)&a, sizeof a)) _exit(report(-1));
      char buf[4];
      read(c, buf, sizeof buf);
      _exit(0);
    }
    struct sockaddr_un from;
    memset(&from, 0, sizeof from);
    socklen_t len = sizeof from;
    int four = !strcmp(argv[2], "accept4");
    int c = four ? accept4(s, (struct sockaddr*)&from, &len, SOCK_CLOEXEC | SOCK_NONBLOCK)
                 : accept(s, (struct sockaddr*)&from, &len);
    if (c < 0) return report(-1);
    printf("peer %s\n", from.sun_path);
    if (four)
      printf("cloexec %d nonblock %d\n", (fcntl(c, F_GETFD) & FD_CLOEXEC) != 0, (fcntl(c, F_GETFL) & O_NONBLOCK) != 0);
    write(c, "bye", 3);
    close(c);
    waitpid(p, NULL, 0);
    unlink(peer);
    return 0;
  }
  if (!strcmp(argv[1], "rights") && argc > 2) {
    int s = dgram_bound(argv[2]);
    if (s < 0) return report(-1);
    pid_t p = fork();
    if (p == 0) {
      int pfd[2];
      if (pipe(pfd)) _exit(report(-1));
      write(pfd[1], "through the fd\n", 15);
      close(pfd[1]);
      int c = socket(AF_UNIX, SOCK_DGRAM, 0);
      struct sockaddr_un a = un_addr(argv[2]);
      char x = 'r';
      struct iovec iov = {&x, 1};
      union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
      } u;
      memset(&u, 0, sizeof u);
      struct msghdr mh;
      memset(&mh, 0, sizeof mh);
      mh.msg_name = &a;
      mh.msg_namelen = sizeof a;
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      mh.msg_control = u.buf;
      mh.msg_controllen = sizeof u.buf;
      struct cmsghdr* cm = CMSG_FIRSTHDR(&mh);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(cm), &pfd[0], sizeof(int));
      if (sendmsg(c, &mh, 0) != 1) _exit(report(-1));
      _exit(0);
    }
    char x;
    struct iovec iov = {&x, 1};
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } u;
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    if (recvmsg(s, &mh, 0) != 1) return report(-1);
    struct cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) {
      printf("no fd\n");
      return 1;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    char buf[32] = {0};
    read(fd, buf, sizeof buf - 1);
    printf("got %s", buf);
    waitpid(p, NULL, 0);
    return 0;
  }
  if (!strcmp(argv[1], "race") && argc > 4) {
    race_fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    race_inet = socket(AF_INET, SOCK_DGRAM, 0);
    strncpy(race_in, argv[2], sizeof race_in - 1);
    strncpy(race_out, argv[3], sizeof race_out - 1);
    race_addr = un_addr(race_in);
    pthread_t t;
    pthread_create(&t, NULL, race_thread, NULL);
    char x = 'x';
    struct iovec iov = {&x, 1};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &race_addr;
    mh.msg_namelen = sizeof race_addr;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    struct mmsghdr m;
    memset(&m, 0, sizeof m);
    m.msg_hdr = mh;
    int sent = 0, n = atoi(argv[4]);
    for (int i = 0; i < n; ++i) {
      sent += sendmsg(race_fd, &mh, MSG_DONTWAIT) == 1;
      sent += sendmmsg(race_fd, &m, 1, MSG_DONTWAIT) == 1;
      sent += sendto(race_fd, &x, 1, MSG_DONTWAIT, (struct sockaddr*)&race_addr, sizeof race_addr) == 1;
    }
    race_stop = 1;
    pthread_join(t, NULL);
    // Once more after the race (the thread left the inside path and the AF_UNIX socket): the
    // inside path delivers even where the sends above all met the other name or the inet
    // socket (a fast sender on a loaded machine, or a thread scheduled late).
    sent += sendto(race_fd, &x, 1, MSG_DONTWAIT, (struct sockaddr*)&race_addr, sizeof race_addr) == 1;
    printf("sent %d\n", sent);
    return 0;
  }
  if (!strcmp(argv[1], "dirswap") && argc > 4) {
    // DIR/s.sock is a socket inside the root; a thread keeps swapping DIR for a symlink to TARGET
    // (relative, with ".."), while sends go to DIR/s.sock.
    snprintf(swap_dir, sizeof swap_dir, "%s", argv[2]);
    snprintf(swap_real, sizeof swap_real, "%s.real", swap_dir);
    snprintf(swap_link, sizeof swap_link, "%s.link", swap_dir);
    mkdir(swap_dir, 0755);
    char path[108];
    snprintf(path, sizeof path, "%s/s.sock", swap_dir);
    int r = dgram_bound(path);
    if (r < 0 || symlink(argv[3], swap_link)) return report(-1);
    pthread_t t;
    pthread_create(&t, NULL, swap_thread, NULL);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un a = un_addr(path);
    char x = 'x';
    struct iovec iov = {&x, 1};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &a;
    mh.msg_namelen = sizeof a;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    int sent = 0, n = atoi(argv[4]);
    char buf[4];
    for (int i = 0; i < n; ++i) {
      sent += sendmsg(s, &mh, MSG_DONTWAIT) == 1;
      sent += sendto(s, &x, 1, MSG_DONTWAIT, (struct sockaddr*)&a, sizeof a) == 1;
      while (recv(r, buf, sizeof buf, MSG_DONTWAIT) > 0) {
      }
    }
    race_stop = 1;
    pthread_join(t, NULL);
    printf("sent %d\n", sent);
    return 0;
  }
  if (!strcmp(argv[1], "errors")) return errors();
  if (!strcmp(argv[1], "send-signal") && argc > 2) {
    // Fills a datagram socket nobody reads; the blocking send that then waits ends with SIGALRM.
    int r = dgram_bound(argv[2]);
    if (r < 0) return report(-1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un a = un_addr(argv[2]);
    int sent = 0;
    while (sendto(s, "x", 1, MSG_DONTWAIT, (struct sockaddr*)&a, sizeof a) == 1) ++sent;
    printf("full %s\n", sent > 0 && errno == EAGAIN ? "EAGAIN" : strerrorname_np(errno));
    alarm(1);
    char x = 'x';
    struct iovec iov = {&x, 1};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &a;
    mh.msg_namelen = sizeof a;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    return report((int)sendmsg(s, &mh, 0));
  }
  if (!strcmp(argv[1], "recv-signal") && argc > 2) {
    int s = dgram_bound(argv[2]);
    if (s < 0) return report(-1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    printf("pid %d\nready\n", getpid());
    alarm(1);
    char buf[8];
    struct sockaddr_un from;
    socklen_t len = sizeof from;
    if (recvfrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &len) < 0) printf("%s\n", strerrorname_np(errno));
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    len = sizeof from;
    long n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &len);
    if (n < 0) return report(-1);
    printf("restarted, got %ld\n", n);
    return 0;
  }
  return 2;
}
