// SO_PEERCRED of AF_UNIX stream connections (issue 12, "identity seen by peers"; LTP
// getsockopt02): a child connects to PATH, on which this process listens. Prints whether each
// end names the other's process, and what a short option buffer gets, as natively.
//
//   guest_peercred PATH
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: guest_peercred PATH\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  strncpy(sun.sun_path, argv[1], sizeof sun.sun_path - 1);
  int srv = socket(AF_UNIX, SOCK_STREAM, 0);
  unlink(argv[1]);
  if (bind(srv, (struct sockaddr*)&sun, sizeof sun) != 0 || listen(srv, 4) != 0) {
    printf("listen: %s\n", strerrorname_np(errno));
    return 1;
  }
  struct sockaddr_un name = {0};
  socklen_t name_len = sizeof name;
  getsockname(srv, (struct sockaddr*)&name, &name_len);
  printf("bound as asked: %s\n", strcmp(name.sun_path, argv[1]) ? name.sun_path : "yes");
  int in = socket(AF_INET, SOCK_STREAM, 0);  // bind01: the family is refused, the path not looked at
  printf("inet socket, this address: %s\n", bind(in, (struct sockaddr*)&sun, sizeof sun) ? strerrorname_np(errno) : "OK");
  close(in);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr*)&sun, sizeof sun) != 0) _exit(10);
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) _exit(11);
    struct sockaddr_un peer = {0};
    socklen_t peer_len = sizeof peer;
    if (getpeername(s, (struct sockaddr*)&peer, &peer_len) != 0 || strcmp(peer.sun_path, argv[1])) _exit(13);
    char c;
    (void)!read(s, &c, 1);  // until the parent is done
    _exit(cr.pid == parent && cr.uid == geteuid() ? 0 : 12);
  }
  int a = accept(srv, NULL, NULL);
  struct ucred cr;
  socklen_t len = sizeof cr;
  int rc = getsockopt(a, SOL_SOCKET, SO_PEERCRED, &cr, &len);
  printf("server: %s, peer is the child: %s, uid: %s, len %u\n", rc ? strerrorname_np(errno) : "OK",
         cr.pid == child ? "yes" : "no", cr.uid == geteuid() ? "ours" : "other", (unsigned)len);
  pid_t only_pid = 0;
  len = sizeof only_pid;
  rc = getsockopt(a, SOL_SOCKET, SO_PEERCRED, &only_pid, &len);
  printf("short buffer: %s, pid %s, len %u\n", rc ? strerrorname_np(errno) : "OK", only_pid == child ? "the child's" : "other",
         (unsigned)len);
  len = 0;
  printf("listening socket: %s\n", getsockopt(srv, SOL_SOCKET, SO_PEERCRED, &cr, &len) ? strerrorname_np(errno) : "OK");
  printf("bad fd: %s\n", getsockopt(999, SOL_SOCKET, SO_PEERCRED, &cr, &len) ? strerrorname_np(errno) : "OK");
  close(a);
  int status = 0;
  waitpid(child, &status, 0);
  printf("client: peer is the server: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no");
  unlink(argv[1]);
  return 0;
}
