/* deny_userns PROG [ARGS...]: runs PROG where user namespaces are refused, as in a container whose
 * seccomp profile denies unshare. A hand-written seccomp filter (no libseccomp) makes unshare()
 * fail with EPERM, clone() with CLONE_NEWUSER fail with EPERM, and clone3() fail with ENOSYS (its
 * flags sit in memory a filter cannot read, so glibc falls back to clone, whose flags are in a
 * register). no_new_privs is set (an ordinary user needs it for a filter), then PROG is executed
 * with the filter in force for it and everything it starts.
 *
 * Only the native ABI is filtered: a call from another ABI (x32, i386, arm32) is let through,
 * as the tests' programs are all native. This is a test harness, not a confinement. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "deny_userns: unsupported architecture (add its AUDIT_ARCH_ value)"
#endif

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

#define DATA(field) offsetof(struct seccomp_data, field)
#define ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: deny_userns PROG [ARGS...]\n");
    return 2;
  }
  struct sock_filter code[] = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, DATA(arch)),
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 0, 9),  /* other ABI: allow (11) */
      /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, DATA(nr)),
#if defined(__x86_64__)
      /* 3 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 7, 0),  /* x32 numbers: allow (11) */
#else
      /* 3 */ BPF_STMT(BPF_JMP | BPF_JA, 0),
#endif
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 4, 0),  /* → EPERM (9) */
      /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 4, 0),   /* → ENOSYS (10) */
      /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4),    /* else allow (11) */
      /* The flags are clone's first argument on both architectures; CLONE_NEWUSER is in the
       * low 32 bits (little-endian: the first word of args[0]). */
      /* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, DATA(args[0])),
      /* 8 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 2),  /* → EPERM (9), else allow (11) */
      /* 9 */ BPF_STMT(BPF_RET | BPF_K, ERRNO(EPERM)),
      /* 10 */ BPF_STMT(BPF_RET | BPF_K, ERRNO(ENOSYS)),
      /* 11 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = (unsigned short)(sizeof code / sizeof code[0]), .filter = code};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    perror("deny_userns: prctl(PR_SET_NO_NEW_PRIVS)");
    return 125;
  }
  if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    perror("deny_userns: seccomp(SECCOMP_SET_MODE_FILTER)");
    return 125;
  }
  execvp(argv[1], argv + 1);
  fprintf(stderr, "deny_userns: %s: %s\n", argv[1], strerror(errno));
  return errno == ENOENT ? 127 : 126;
}
