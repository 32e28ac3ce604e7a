/* Guest test program for the net family.
 *   guest_net connect ADDR PORT    TCP connect: prints "ok" or the errno name
 *   guest_net udp ADDR PORT        UDP sendto: prints "ok" or the errno name
 *   guest_net serve PORT           TCP listen on 0.0.0.0:PORT; prints "listening P" (P from
 *                                  getsockname), answers one connection with "hello\n"
 *   guest_net unix PATH            a unix stream server at PATH and a client in a child:
 *                                  prints what the client got and the server's getsockname path
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
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

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: guest_net connect|udp ADDR PORT | serve PORT | unix PATH\n");
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
  return 2;
}
