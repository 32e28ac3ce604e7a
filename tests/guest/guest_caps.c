/* guest_caps DIR DEVICES [PTY]: what a guest that runs as root can do to the host as a whole, each line
 * "what: 0" or "what: ERRNO-NAME". None of the calls changes anything where it succeeds: reboot
 * gets a bad magic number (EINVAL once CAP_SYS_BOOT is checked), the host name is set to what
 * it is, the raw socket, the namespace and the fanotify group are the caller's own, the device
 * node DIR/blk is left for the test to look at and remove; core_pattern is written back as it
 * is. DEVICES also holds "secret" (mode 0); PTY is a pty slave of another session's. Of the two devices in DEVICES, the host device (fuse, tun...) opens natively
 * only.
 * Then a tmpfs is mounted on DIR (emulated within the instance: it needs CAP_SYS_ADMIN as the
 * guest holds it), again with no effective capability (EPERM), and once more with them back. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/fanotify.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void say(const char* what, long r) {
  printf("%s: %s\n", what, r == 0 ? "0" : errno == EPERM ? "EPERM" : errno == EINVAL ? "EINVAL" : errno == EROFS ? "EROFS" : errno == EIO ? "EIO" : errno == EACCES ? "EACCES" : strerror(errno));
}

static int set_effective(int on) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) != 0) return -1;
  d[0].effective = on ? d[0].permitted : 0;
  d[1].effective = on ? d[1].permitted : 0;
  return (int)syscall(SYS_capset, &h, d);
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  char name[256] = {0}, node[4096];
  gethostname(name, sizeof name - 1);
  say("reboot", syscall(SYS_reboot, 0, 0, 0, 0));
  say("sethostname", sethostname(name, strlen(name)));
  int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  say("raw socket", s < 0 ? -1 : 0);
  if (s >= 0) close(s);
  say("unshare uts", unshare(CLONE_NEWUTS));
  int fan = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY); /* one that may mark a whole filesystem */
  say("fanotify group", fan < 0 ? -1 : 0);
  if (fan >= 0) close(fan);
  /* DEVICES/dev and DEVICES/null: made by the test (a host device, and c 1:3). */
  snprintf(node, sizeof node, "%s/dev", argv[2]);
  int fd = open(node, O_RDONLY);
  say("open a host device", fd < 0 ? -1 : 0);
  if (fd >= 0) close(fd);
  snprintf(node, sizeof node, "%s/null", argv[2]);
  fd = open(node, O_RDWR);
  say("open a null device", fd < 0 ? -1 : 0);
  if (fd >= 0) close(fd);
  snprintf(node, sizeof node, "%s/blk", argv[1]);
  say("mknod block", mknod(node, S_IFBLK | 0600, makedev(8, 0)));
  struct stat st;
  if (stat(node, &st) == 0)
    printf("it is: %s %u:%u\n", S_ISBLK(st.st_mode) ? "block" : "other", major(st.st_rdev), minor(st.st_rdev));
  /* A kernel setting that checks uid 0 only, written back as it is. */
  char pattern[4096] = {0};
  int cp = open("/proc/sys/kernel/core_pattern", O_RDONLY);
  ssize_t len = cp >= 0 ? read(cp, pattern, sizeof pattern - 1) : -1;
  if (cp >= 0) close(cp);
  cp = open("/proc/sys/kernel/core_pattern", O_WRONLY);
  say("core_pattern written back", cp < 0 ? -1 : write(cp, pattern, (size_t)(len > 0 ? len : 0)) < 0 ? -1 : 0);
  if (cp >= 0) close(cp);
  say("chmod of a kernel setting", chmod("/proc/sys/kernel/core_pattern", 0644));
  snprintf(node, sizeof node, "%s/secret", argv[2]);
  say("trusted xattr", setxattr(node, "trusted.lxhost-test", "1", 1, 0));
  /* In a user namespace of its own a thread holds no capability of the host's. */
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    if (unshare(CLONE_NEWUSER) != 0) { /* refused here (a chroot, a container's profile) */
      printf("user namespace: unavailable\n");
      fflush(stdout);
      _exit(0);
    }
    pid_t inner = fork();
    if (inner == 0) {
      int s2 = open(node, O_RDONLY);
      say("a mode-0000 file, in a user namespace", s2 < 0 ? -1 : 0);
      fflush(stdout);
      _exit(0);
    }
    waitpid(inner, NULL, 0);
    _exit(0);
  }
  waitpid(child, NULL, 0);
  if (argc > 3) {
    fd = open(argv[3], O_RDWR | O_NOCTTY);
    say("another session's pty", fd < 0 ? -1 : 0);
    if (fd >= 0) close(fd);
  }
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  fd = master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0 ? open(ptsname(master), O_RDWR | O_NOCTTY) : -1;
  say("a pty of its own", fd < 0 ? -1 : 0);
  if (fd >= 0) {
    char c = '\n';  /* typed into its own pty, which nothing reads */
    say("TIOCSTI", ioctl(fd, TIOCSTI, &c));
    close(fd);
  }
  if (master >= 0) close(master);
  long r = mount("x", argv[1], "tmpfs", 0, NULL);
  say("mount tmpfs", r);
  if (r == 0) umount(argv[1]);
  if (set_effective(0) != 0) return 3;
  say("mount without capabilities", mount("x", argv[1], "tmpfs", 0, NULL));
  if (set_effective(1) != 0) return 3;
  r = mount("x", argv[1], "tmpfs", 0, NULL);
  say("mount with them back", r);
  if (r == 0) umount(argv[1]);
  return 0;
}
