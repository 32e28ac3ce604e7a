// mount(2) and umount2(2) as the kernel does them (issue 12): the emulated backend keeps the
// instance's mount table in the fs family. Prints one line per step, the same natively (in a
// mount namespace of its own) and under lx.
//
//   guest_mount DIR   DIR holds src/ (with file f), file, dst/, tfs/, p/, mv/, jail/proc/, empty
//                     (a file); every mount is undone before the end.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[PATH_MAX];

static const char* at(const char* name) {
  static char buf[4][PATH_MAX + 64];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
  return buf[i];
}

static void report(const char* what, long rc) {
  if (rc < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, rc);
}

static void exists(const char* what, const char* name) {
  printf("%s: %s\n", what, access(at(name), F_OK) == 0 ? "there" : strerrorname_np(errno));
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: guest_mount DIR\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  snprintf(dir, sizeof dir, "%s", argv[1]);
  report("bind dir", mount(at("src"), at("dst"), NULL, MS_BIND, NULL));
  exists("file through the bind", "dst/f");
  report("remount read-only", mount(NULL, at("dst"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
  report("create in it", open(at("dst/new"), O_CREAT | O_WRONLY, 0600));
  report("remount writable", mount(NULL, at("dst"), NULL, MS_REMOUNT | MS_BIND, NULL));
  report("propagation", mount(NULL, at("dst"), NULL, MS_PRIVATE, NULL));
  report("move", mount(at("dst"), at("mv"), NULL, MS_MOVE, NULL));
  exists("file at the new place", "mv/f");
  exists("file at the old place", "dst/f");
  report("umount moved", umount(at("mv")));
  report("umount again", umount(at("mv")));
  report("umount not a mount point", umount(at("src")));
  report("umount bad flags", umount2(at("src"), 0x100));
  report("umount missing", umount(at("none")));
  report("bind file", mount(at("file"), at("empty"), NULL, MS_BIND, NULL));
  struct stat st;
  stat(at("empty"), &st);
  printf("bound file size: %ld\n", (long)st.st_size);
  report("umount file", umount(at("empty")));
  report("bind dir on file", mount(at("src"), at("empty"), NULL, MS_BIND, NULL));
  int ffd = open(at("file"), O_RDONLY);  // a /proc/self/fd link's own symlink as the target (mount08)
  char magic[64];
  snprintf(magic, sizeof magic, "/proc/self/fd/%d", ffd);
  int lfd = open(magic, O_PATH | O_NOFOLLOW);
  snprintf(magic, sizeof magic, "/proc/self/fd/%d", lfd);
  report("bind on a magic link", mount(at("file"), magic, NULL, MS_BIND, NULL));
  close(lfd);
  close(ffd);
  report("bind missing", mount(at("none"), at("dst"), NULL, MS_BIND, NULL));
  report("target missing", mount(at("src"), at("none"), NULL, MS_BIND, NULL));
  report("tmpfs", mount("none", at("tfs"), "tmpfs", 0, "mode=0710"));
  stat(at("tfs"), &st);
  printf("tmpfs mode: %o\n", st.st_mode & 07777);
  report("file in tmpfs", open(at("tfs/x"), O_CREAT | O_WRONLY, 0600) >= 0 ? 0 : -1);
  exists("tmpfs file", "tfs/x");
  report("umount tmpfs", umount2(at("tfs"), MNT_DETACH));
  exists("tmpfs file after", "tfs/x");
  report("stacked 1", mount("none", at("tfs"), "tmpfs", 0, NULL));
  close(open(at("tfs/lower"), O_CREAT | O_WRONLY, 0600));
  report("stacked 2", mount("none", at("tfs"), "tmpfs", 0, NULL));
  exists("lower under the upper", "tfs/lower");
  report("umount upper", umount(at("tfs")));
  exists("lower again", "tfs/lower");
  report("umount lower", umount(at("tfs")));
  report("proc", mount("proc", at("p"), "proc", 0, NULL));
  char self[64];
  snprintf(self, sizeof self, "p/%d", getpid());
  exists("own pid in it", self);
  report("umount proc", umount(at("p")));
  pid_t child = fork();
  if (child == 0) {  // a chroot with /proc mounted in it, as build tools make them
    if (chroot(at("jail")) != 0 || chdir("/") != 0) _exit(1);
    if (mount("proc", "/proc", "proc", 0, NULL) != 0) _exit(2);
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/root", buf, sizeof buf - 1);
    int ok = n == 1 && buf[0] == '/' && access("/proc/self/status", R_OK) == 0;
    umount("/proc");
    _exit(ok ? 0 : 3);
  }
  int status = 0;
  waitpid(child, &status, 0);
  printf("proc in a chroot: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}
