/* hugefloor: the huge-page floor for restoring N bytes (issue 18), next to
 * floor.c's single-core one. Static, so its start-up is as cheap as exec gets.
 *
 *   hugefloor FILE
 *
 * Maps fresh anonymous memory for the whole FILE (the raw image itself,
 * already in the page cache), 2 MiB aligned, asks for transparent huge pages
 * (MADV_HUGEPAGE), and then one thread per core each takes an equal share:
 * makes it present in one call (MADV_POPULATE_WRITE) and read()s its part of
 * the file into it with large preads. Then it prints "T <CLOCK_MONOTONIC ns>"
 * and, like floor.c, "SUM <hex>" of the FNV-1a checksum of its whole memory.
 * That is as fast as these bytes can get into fresh memory on this machine
 * without any of restore's obligations (exact VMA flags, checksums, page
 * placement). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static int fd;
static char *buf;
static size_t len, share;

static void *fill(void *arg) {
  size_t lo = (size_t)(uintptr_t)arg * share, hi = lo + share > len ? len : lo + share;
  if (lo >= hi) return 0;
  madvise(buf + lo, hi - lo, MADV_POPULATE_WRITE); /* an optimisation only: read() faults in what it misses */
  for (size_t at = lo; at < hi;) {
    ssize_t r = pread(fd, buf + at, hi - at, (off_t)at);
    if (r <= 0) return (void *)1;
    at += (size_t)r;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return 1;
  len = (size_t)st.st_size;
  const size_t huge = 2u << 20;
  char *raw = mmap(0, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return 1;
  buf = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
  madvise(buf, len, MADV_HUGEPAGE);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 1) cores = 1;
  if (cores > 64) cores = 64;
  /* Shares in whole huge pages, so no two threads fault the same one. */
  share = ((len + (size_t)cores - 1) / (size_t)cores + huge - 1) & ~(huge - 1);
  pthread_t t[64];
  for (long i = 1; i < cores; ++i)
    if (pthread_create(&t[i], 0, fill, (void *)(uintptr_t)i) != 0) return 1;
  int bad = fill(0) != 0;
  for (long i = 1; i < cores; ++i) {
    void *r;
    pthread_join(t[i], &r);
    bad |= r != 0;
  }
  if (bad) return 1;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  char line[48];
  int n = snprintf(line, sizeof line, "T %lld\n", (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec);
  if (write(1, line, (size_t)n) != n) return 1;
  uint64_t h = 1469598103934665603ull;
  const uint64_t *w = (const uint64_t *)buf;
  for (size_t i = 0; i < len / 8; ++i) h = (h ^ w[i]) * 1099511628211ull;
  n = snprintf(line, sizeof line, "SUM %016llx\n", (unsigned long long)h);
  return write(1, line, (size_t)n) == n ? 0 : 1;
}
