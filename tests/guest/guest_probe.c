/* Guest test program for the probe plugin and the driver's routes.
 *   guest_probe getppid           prints getppid()
 *   guest_probe cat PATH          prints the content of PATH (open + read)
 *   guest_probe exit N            exit(N)
 *   guest_probe socket            socket(AF_INET, SOCK_STREAM): prints "ok" or the errno name
 *   guest_probe unix              socket(AF_UNIX, SOCK_STREAM): same
 *   guest_probe io_uring          io_uring_setup(1, ...): prints "ok" or the errno name
 *   guest_probe x32               an x32 syscall number: prints the errno name
 *   guest_probe badptr            open() of an unmapped address: prints "ok" or the errno name
 *   guest_probe execas PATH ARGV0 [ARGS...]   execv(PATH, {ARGV0, ARGS...})
 *   guest_probe execfn            prints getauxval(AT_EXECFN)
 *   guest_probe pageedge          open("/dev/null") with the path ending at the last byte of a
 *                                 page followed by an unmapped page
 *   guest_probe caps              prints the effective and permitted sets capget gives, in hex
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(long r) {
  if (r >= 0) {
    printf("ok\n");
    return 0;
  }
  printf("%s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: guest_probe getppid|cat PATH|exit N|socket|unix|io_uring|x32\n");
    return 2;
  }
  const char* m = argv[1];
  if (!strcmp(m, "getppid")) {
    printf("%ld\n", (long)getppid());
    return 0;
  }
  if (!strcmp(m, "cat") && argc > 2) {
    int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      printf("open: %s\n", strerrorname_np(errno));
      return 1;
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, stdout);
    close(fd);
    return 0;
  }
  if (!strcmp(m, "exit") && argc > 2) exit(atoi(argv[2]));
  if (!strcmp(m, "caps")) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0) return report(-1);
    printf("eff %llx prm %llx\n", ((unsigned long long)d[1].effective << 32) | d[0].effective,
           ((unsigned long long)d[1].permitted << 32) | d[0].permitted);
    return 0;
  }
  if (!strcmp(m, "socket")) return report(socket(AF_INET, SOCK_STREAM, 0));
  if (!strcmp(m, "unix")) return report(socket(AF_UNIX, SOCK_STREAM, 0));
  if (!strcmp(m, "io_uring")) {
    char params[120];
    memset(params, 0, sizeof params);
    return report(syscall(__NR_io_uring_setup, 1, params));
  }
  if (!strcmp(m, "x32")) return report(syscall(0x40000000 | 39 /* x32 getpid */));
  if (!strcmp(m, "execas") && argc > 3) {
    execv(argv[2], argv + 3);
    printf("execv: %s\n", strerrorname_np(errno));
    return 127;
  }
  if (!strcmp(m, "setuid") && argc > 3) {  // setuid UID CMD [ARGS...]: drop to UID, then exec
    unsigned id = (unsigned)atoi(argv[2]);
    if (setgid(id) != 0 || setuid(id) != 0) return report(-1);
    execv(argv[3], argv + 3);
    return report(-1);
  }
  if (!strcmp(m, "execfn")) {
    printf("%s\n", (const char*)getauxval(AT_EXECFN));
    return 0;
  }
  if (!strcmp(m, "badptr")) return report(open((const char*)16, O_RDONLY));
  if (!strcmp(m, "pageedge")) {
    long page = sysconf(_SC_PAGESIZE);
    char* p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 3;
    munmap(p + page, page);
    const char* path = "/dev/null";
    char* s = p + page - (strlen(path) + 1);
    strcpy(s, path);
    return report(open(s, O_RDONLY));
  }
  fprintf(stderr, "guest_probe: unknown mode %s\n", m);
  return 2;
}
