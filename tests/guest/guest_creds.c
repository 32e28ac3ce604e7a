// Runs a sequence of credential changes and file calls, one line of output per call ("OP: OK",
// "OP: EACCES", "stat PATH: UID:GID:MODE"), so that a test can compare a native run with one
// under lx: the calls done on a guest's behalf must be refused what the guest would be refused.
//
//   guest_creds OP [ARGS] [OP [ARGS]]...
//   dropcap N | fsuid U | fsgid G | groups G[,G...]|- | ruid U | setuid U | umask OCT
//   sethostname (sets the hostname it has) | killparent U (a child that became U signals us, 0)
//   bindport P (a TCP socket bound to 127.0.0.1:P) | run PATH (fork, exec PATH, "run PATH: STATUS")
//   seteuid U | keep PATH (open it, kept for:) | fchown U G | fchmod OCT | chdir DIR
//   execveat PATH nofollow|bad (a child's execveat with AT_SYMLINK_NOFOLLOW or bogus flags)
//   (run's child exits with execve's errno when it fails)
//   lchmod PATH OCT (fchmodat2 with AT_SYMLINK_NOFOLLOW) | fchownat_bad PATH (bogus flags)
//   openat2_bad PATH (openat2 with an unknown resolve flag)
//   zombie (a child that exited, unreaped: the state in its /proc/<pid>/stat)
//   landlock (landlock_create_ruleset's ABI version query)
//   tmpfile DIR NAME (an O_TMPFILE file in DIR, linked as DIR/NAME through /proc/self/fd/N)
//   fstatat_bad PATH (newfstatat with bogus flags)
//   handle PATH (name_to_handle_at) | fanmark PATH (an inode mark of a new fanotify group, FAN_REPORT_FID)
//   fsize N (RLIMIT_FSIZE N bytes, SIGXFSZ ignored) | truncate_to PATH N
//   unlinkat_bad PATH (bogus flags) | notdir_at FILE (openat of "x" relative to FILE's fd)
//   fileattr PATH (file_getattr)
//   opath_chmod LINK OCT (chmod of /proc/self/fd/N of an O_PATH|O_NOFOLLOW fd of LINK)
//   opath_readlink LINK (readlinkat(fd, "") of such an fd: "opath_readlink LINK: TARGET")
//   resolve DIR PATH FLAGS (openat2(DIR, PATH) with RESOLVE_* FLAGS: xdev,magic,sym,beneath,inroot)
//   busy PROG (write-open and truncate a copy of sleep while it runs: ETXTBSY natively)
//   exec_writing PROG (exec it while open for writing here: "exec_writing PROG: ETXTBSY")
//   setpgid_child exec|fork (setpgid of a child that exec'd or not, to a group that is not there)
//   opath_info PATH (an O_PATH|O_NOFOLLOW fd: read's errno, F_GETFL, its type, openat(fd, "."))
//   open PATH r|w | creat PATH | mkdir PATH | access PATH r|w | accesse PATH r|w | chmod PATH OCT
//   chown PATH U G | unlink PATH | stat PATH | mode PATH | link OLD NEW | rename OLD NEW | truncate PATH
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/fsuid.h>
#include <sys/xattr.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;
#include <grp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void report(const char* op, const char* path, int rc) {
  if (rc < 0) printf("%s %s: %s\n", op, path, strerrorname_np(errno));
  else printf("%s %s: OK\n", op, path);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int kept = -1;
  for (int i = 1; i < argc;) {
    const char* op = argv[i++];
    const char* a = i < argc ? argv[i] : "";
    const char* b = i + 1 < argc ? argv[i + 1] : "";
    const char* c = i + 2 < argc ? argv[i + 2] : "";
    if (!strcmp(op, "dropcap")) {
      struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
      struct __user_cap_data_struct d[2];
      syscall(SYS_capget, &h, d);
      int n = atoi(a);
      d[n / 32].effective &= ~(1u << (n % 32));
      report(op, a, (int)syscall(SYS_capset, &h, d));
      i += 1;
    } else if (!strcmp(op, "fsuid")) {
      setfsuid(atoi(a));
      printf("fsuid %s: %d\n", a, setfsuid(-1));
      i += 1;
    } else if (!strcmp(op, "fsgid")) {
      setfsgid(atoi(a));
      printf("fsgid %s: %d\n", a, setfsgid(-1));
      i += 1;
    } else if (!strcmp(op, "groups")) {
      gid_t g[16];
      int n = 0;
      if (strcmp(a, "-"))
        for (char *s = strdup(a), *t = strtok(s, ","); t && n < 16; t = strtok(NULL, ",")) g[n++] = atoi(t);
      report(op, a, setgroups(n, g));
      i += 1;
    } else if (!strcmp(op, "ruid")) {
      report(op, a, setresuid(atoi(a), -1, -1));
      i += 1;
    } else if (!strcmp(op, "setuid")) {
      report(op, a, setresuid(atoi(a), atoi(a), atoi(a)));
      i += 1;
    } else if (!strcmp(op, "sethostname")) {
      char name[256] = "";
      gethostname(name, sizeof name);
      report(op, "", sethostname(name, strlen(name)));
    } else if (!strcmp(op, "killparent")) {
      pid_t child = fork();
      if (child == 0) {
        pid_t parent = getppid();
        if (setresuid(atoi(a), atoi(a), atoi(a)) != 0) _exit(3);
        report(op, a, kill(parent, 0));
        _exit(0);
      }
      int st;
      waitpid(child, &st, 0);
      i += 1;
    } else if (!strcmp(op, "bindport")) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(a)), .sin_addr = {htonl(INADDR_LOOPBACK)}};
      report(op, a, bind(fd, (struct sockaddr*)&sa, sizeof sa));
      close(fd);
      i += 1;
    } else if (!strcmp(op, "run")) {
      pid_t child = fork();
      if (child == 0) {
        execl(a, a, (char*)NULL);
        _exit(errno);
      }
      int st = 0;
      waitpid(child, &st, 0);
      printf("run %s: %d\n", a, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
      i += 1;
    } else if (!strcmp(op, "chdir")) {
      report(op, a, chdir(a));
      i += 1;
    } else if (!strcmp(op, "execveat")) {
      pid_t child = fork();
      if (child == 0) {
        char* argv[] = {(char*)a, NULL};
        syscall(SYS_execveat, AT_FDCWD, a, argv, environ, b[0] == 'n' ? AT_SYMLINK_NOFOLLOW : 0x4000000);
        report(op, b, -1);
        _exit(0);
      }
      int st;
      waitpid(child, &st, 0);
      i += 2;
    } else if (!strcmp(op, "lchmod")) {
      report(op, a, (int)syscall(452 /* fchmodat2 */, AT_FDCWD, a, (mode_t)strtol(b, NULL, 8), AT_SYMLINK_NOFOLLOW));
      i += 2;
    } else if (!strcmp(op, "openat2_bad")) {
      struct { unsigned long long flags, mode, resolve; } how = {O_RDONLY, 0, 0x800};
      report(op, a, (int)syscall(437 /* openat2 */, AT_FDCWD, a, &how, sizeof how));
      i += 1;
    } else if (!strcmp(op, "tmpfile")) {
      int fd = open(a, O_TMPFILE | O_WRONLY, 0600);
      char proc[64], to[4096];
      snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
      snprintf(to, sizeof to, "%s/%s", a, b);
      report(op, b, fd < 0 ? fd : linkat(AT_FDCWD, proc, AT_FDCWD, to, AT_SYMLINK_FOLLOW));
      if (fd >= 0) close(fd);
      i += 2;
    } else if (!strcmp(op, "landlock")) {
      int v = (int)syscall(444 /* landlock_create_ruleset */, NULL, 0, 1 /* LANDLOCK_CREATE_RULESET_VERSION */);
      if (v < 0) report(op, "", v);
      else printf("landlock : version %d\n", v);
    } else if (!strcmp(op, "zombie")) {
      pid_t child = fork();
      if (child == 0) _exit(0);
      char path[64], buf[256] = "";
      snprintf(path, sizeof path, "/proc/%d/stat", child);
      for (int tries = 0; tries < 500; ++tries) {  // until it has exited (state Z)
        FILE* f = fopen(path, "r");
        if (!f) break;
        char* got = fgets(buf, sizeof buf, f);
        fclose(f);
        char* paren = got ? strrchr(buf, ')') : NULL;
        if (paren && paren[2] == 'Z') break;
        usleep(2000);
      }
      char* paren = strrchr(buf, ')');
      printf("zombie: %c\n", paren ? paren[2] : '-');
      waitpid(child, NULL, 0);
    } else if (!strcmp(op, "opath_chmod") || !strcmp(op, "opath_readlink")) {
      int fd = open(a, O_PATH | O_NOFOLLOW);
      if (fd < 0) {
        report(op, a, fd);
      } else if (op[6] == 'c') {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        report(op, a, chmod(proc, strtol(b, NULL, 8)));
      } else {
        char t[4096];
        ssize_t n = readlinkat(fd, "", t, sizeof t - 1);
        if (n < 0) report(op, a, -1);
        else printf("opath_readlink %s: %.*s\n", a, (int)n, t);
      }
      if (fd >= 0) close(fd);
      i += op[6] == 'c' ? 2 : 1;
    } else if (!strcmp(op, "opath_info")) {  // what an O_PATH fd is and is not good for
      int fd = open(a, O_PATH | O_NOFOLLOW);
      if (fd < 0) {
        report(op, a, fd);
      } else {
        char ch;
        struct stat st;
        int r = (int)read(fd, &ch, 1), e = errno, fl = fcntl(fd, F_GETFL), ok = fstat(fd, &st) == 0;
        int dir = openat(fd, ".", O_RDONLY | O_DIRECTORY);
        int de = errno;
        int own = fchown(fd, -1, -1), oe = errno;
        char v[64];
        int x = (int)fgetxattr(fd, "user.x", v, sizeof v), xe = errno;
        printf("opath_info %s: read %s flags %o type %o openat %s fchown %s fgetxattr %s\n", a,
               r < 0 ? strerrorname_np(e) : "OK", fl, ok ? st.st_mode & S_IFMT : 0, dir < 0 ? strerrorname_np(de) : "OK",
               own < 0 ? strerrorname_np(oe) : "OK", x < 0 ? strerrorname_np(xe) : "OK");
        if (dir >= 0) close(dir);
        close(fd);
      }
      i += 1;
    } else if (!strcmp(op, "setpgid_child")) {  // a child's group set to one that is not there
      pid_t child = fork();
      if (child == 0) {
        if (!strcmp(a, "exec")) execl("/bin/sleep", "sleep", "2", (char*)NULL);
        pause();
        _exit(0);
      }
      usleep(300 * 1000);  // the child has exec'd (or not) by now
      report(op, a, setpgid(child, 2147483647));
      kill(child, SIGKILL);
      waitpid(child, NULL, 0);
      i += 1;
    } else if (!strcmp(op, "busy")) {  // PATH (a copy of sleep) runs: write-open and truncate it
      pid_t child = fork();
      if (child == 0) {
        execl(a, a, "2", (char*)NULL);
        _exit(127);
      }
      usleep(300 * 1000);
      int fd = open(a, O_WRONLY);
      report("busy_open", a, fd);
      if (fd >= 0) close(fd);
      report("busy_truncate", a, truncate(a, 0));
      kill(child, SIGKILL);
      waitpid(child, NULL, 0);
      i += 1;
    } else if (!strcmp(op, "exec_writing")) {  // exec PATH while this process has it open for writing
      int fd = open(a, O_WRONLY);
      pid_t child = fork();
      if (child == 0) {
        execl(a, a, "0", (char*)NULL);
        _exit(errno);
      }
      int st = 0;
      waitpid(child, &st, 0);
      printf("exec_writing %s: %s\n", a, WIFEXITED(st) && WEXITSTATUS(st) ? strerrorname_np(WEXITSTATUS(st)) : "ran");
      if (fd >= 0) close(fd);
      i += 1;
    } else if (!strcmp(op, "resolve")) {  // DIR PATH FLAGS: openat2 from DIR with RESOLVE_* FLAGS
      int dir = open(a, O_PATH | O_DIRECTORY | O_CLOEXEC);
      struct open_how how = {.flags = O_RDONLY | O_CLOEXEC};
      if (strstr(c, "xdev")) how.resolve |= RESOLVE_NO_XDEV;
      if (strstr(c, "magic")) how.resolve |= RESOLVE_NO_MAGICLINKS;
      if (strstr(c, "sym")) how.resolve |= RESOLVE_NO_SYMLINKS;
      if (strstr(c, "beneath")) how.resolve |= RESOLVE_BENEATH;
      if (strstr(c, "inroot")) how.resolve |= RESOLVE_IN_ROOT;
      int fd = (int)syscall(SYS_openat2, dir, b, &how, sizeof how);
      if (fd < 0) printf("resolve %s %s: %s\n", b, c, strerrorname_np(errno));
      else printf("resolve %s %s: OK\n", b, c);
      if (fd >= 0) close(fd);
      if (dir >= 0) close(dir);
      i += 3;
    } else if (!strcmp(op, "notdir_at")) {
      int dfd = open(a, O_RDONLY);
      report(op, a, openat(dfd, "x", O_RDONLY));
      close(dfd);
      i += 1;
    } else if (!strcmp(op, "fileattr")) {
      unsigned char attr[24] = {0};
      report(op, a, (int)syscall(468 /* file_getattr */, AT_FDCWD, a, attr, sizeof attr, 0));
      i += 1;
    } else if (!strcmp(op, "unlinkat_bad")) {
      report(op, a, unlinkat(open(".", O_RDONLY), a, 9999));
      i += 1;
    } else if (!strcmp(op, "fsize")) {
      struct rlimit r = {strtoul(a, NULL, 10), strtoul(a, NULL, 10)};
      signal(SIGXFSZ, SIG_IGN);
      report(op, a, setrlimit(RLIMIT_FSIZE, &r));
      i += 1;
    } else if (!strcmp(op, "truncate_to")) {
      report(op, a, truncate(a, strtoll(b, NULL, 10)));
      i += 2;
    } else if (!strcmp(op, "handle")) {
      struct { unsigned int bytes; int type; unsigned char h[128]; } fh = {128, 0, {0}};
      int mount_id = -1;
      int rc = name_to_handle_at(AT_FDCWD, a, (struct file_handle*)&fh, &mount_id, 0);
      if (rc == 0 && (fh.bytes == 0 || mount_id < 0)) rc = -1, errno = EPROTO;  // nothing filled in
      report(op, a, rc);
      i += 1;
    } else if (!strcmp(op, "fanmark")) {
      /* A group that needs no CAP_SYS_ADMIN (withheld from a guest of a confined instance). */
      int fan = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID, O_RDONLY);
      report(op, a, fan < 0 ? fan : fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, a));
      if (fan >= 0) close(fan);
      i += 1;
    } else if (!strcmp(op, "fstatat_bad")) {
      struct stat st;
      report(op, a, fstatat(AT_FDCWD, a, &st, 9999));
      i += 1;
    } else if (!strcmp(op, "fchownat_bad")) {
      report(op, a, fchownat(AT_FDCWD, a, 0, 0, 9999));
      i += 1;
    } else if (!strcmp(op, "seteuid")) {
      report(op, a, seteuid(atoi(a)));
      i += 1;
    } else if (!strcmp(op, "keep")) {
      kept = open(a, O_RDONLY);
      report(op, a, kept);
      i += 1;
    } else if (!strcmp(op, "fchown")) {
      report(op, a, fchown(kept, atoi(a), atoi(b)));
      i += 2;
    } else if (!strcmp(op, "fchmod")) {
      report(op, a, fchmod(kept, strtol(a, NULL, 8)));
      i += 1;
    } else if (!strcmp(op, "umask")) {
      umask(strtol(a, NULL, 8));
      i += 1;
    } else if (!strcmp(op, "open")) {
      int fd = open(a, b[0] == 'w' ? O_WRONLY : O_RDONLY);
      report(op, a, fd);
      if (fd >= 0) close(fd);
      i += 2;
    } else if (!strcmp(op, "creat")) {
      int fd = open(a, O_CREAT | O_EXCL | O_WRONLY, 0666);
      report(op, a, fd);
      if (fd >= 0) close(fd);
      i += 1;
    } else if (!strcmp(op, "mkdir")) {
      report(op, a, mkdir(a, 0777));
      i += 1;
    } else if (!strcmp(op, "access") || !strcmp(op, "accesse")) {
      int mode = b[0] == 'w' ? W_OK : R_OK;
      report(op, a, op[6] ? faccessat(AT_FDCWD, a, mode, AT_EACCESS) : access(a, mode));
      i += 2;
    } else if (!strcmp(op, "chmod")) {
      report(op, a, chmod(a, strtol(b, NULL, 8)));
      i += 2;
    } else if (!strcmp(op, "chown")) {
      report(op, a, chown(a, atoi(b), atoi(c)));
      i += 3;
    } else if (!strcmp(op, "unlink")) {
      report(op, a, unlink(a));
      i += 1;
    } else if (!strcmp(op, "link")) {
      report(op, a, link(a, b));
      i += 2;
    } else if (!strcmp(op, "rename")) {
      report(op, a, rename(a, b));
      i += 2;
    } else if (!strcmp(op, "truncate")) {
      report(op, a, truncate(a, 0));
      i += 1;
    } else if (!strcmp(op, "mode")) {  // the mode only: owners differ where ids are mapped
      struct stat st;
      if (stat(a, &st) != 0) report(op, a, -1);
      else printf("mode %s: %o\n", a, st.st_mode & 07777);
      i += 1;
    } else if (!strcmp(op, "stat")) {
      struct stat st;
      if (stat(a, &st) != 0) report(op, a, -1);
      else printf("stat %s: %u:%u:%o\n", a, st.st_uid, st.st_gid, st.st_mode & 07777);
      i += 1;
    } else {
      fprintf(stderr, "guest_creds: unknown op %s\n", op);
      return 2;
    }
  }
  return 0;
}
