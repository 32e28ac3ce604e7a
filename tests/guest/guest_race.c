/* Guest test program for escape attempts by racing: one thread renames a directory back and
 * forth between two depths while others open paths that climb out of it with "..", through the
 * moving directory and through a directory fd inside it. Prints "escaped" and exits 1 if any
 * open reached a file named MARKER whose content starts with "outside"; else "contained N". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile int stop;
static long iterations;
static int escaped;

static void* renamer(void* arg) {
  (void)arg;
  while (!stop) {
    rename("/w/a/b", "/w/c");
    rename("/w/c", "/w/a/b");
  }
  return NULL;
}

static int check(int fd) {
  if (fd < 0) return 0;
  char buf[16] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 && strncmp(buf, "outside", 7) == 0;
}

static void* climber(void* arg) {
  (void)arg;
  for (long i = 0; i < iterations; ++i) {
    int dir = open("/w/a/b", O_RDONLY | O_DIRECTORY);
    if (check(open("/w/a/b/../../../../../../marker", O_RDONLY))) escaped = 1;
    if (dir >= 0) {
      if (check(openat(dir, "../../../../../../marker", O_RDONLY))) escaped = 1;
      if (check(openat(dir, "../../../../../../../../../../marker", O_RDONLY))) escaped = 1;
      close(dir);
    }
  }
  return NULL;
}

int main(int argc, char** argv) {
  iterations = argc > 1 ? atol(argv[1]) : 2000;
  mkdir("/w", 0755);
  mkdir("/w/a", 0755);
  mkdir("/w/a/b", 0755);
  pthread_t r, c[2];
  pthread_create(&r, NULL, renamer, NULL);
  for (int i = 0; i < 2; ++i) pthread_create(&c[i], NULL, climber, NULL);
  for (int i = 0; i < 2; ++i) pthread_join(c[i], NULL);
  stop = 1;
  pthread_join(r, NULL);
  if (escaped) {
    printf("escaped\n");
    return 1;
  }
  printf("contained %ld\n", iterations * 2);
  return 0;
}
