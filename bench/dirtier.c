/* dirtier: the process of the `incremental` benchmark group (bench.py).
 *
 *   dirtier MIB MIB_PER_SECOND
 *
 * Fills MIB MiB of anonymous memory with random data (every page touched),
 * prints "READY", then keeps writing MIB_PER_SECOND MiB per second to pages
 * drawn at random (whole pages, a few every millisecond, on an absolute
 * 1 ms clock). It times its own loop: a freeze by a dump shows as one long
 * gap between two iterations. On each line "gap" on stdin it prints
 * "GAP <us>", the longest gap since the last such line beyond the 1 ms
 * period (how long it was stopped, to within a millisecond), and resets it.
 * EOF on stdin ends it. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fputs("usage: dirtier MIB MIB_PER_SECOND\n", stderr);
    return 2;
  }
  size_t len = (size_t)atol(argv[1]) << 20, pages = len / 4096;
  double per_ms = atof(argv[2]) * 256.0 / 1000.0; /* pages per millisecond */
  uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) return 1;
  for (size_t i = 0; i < len / 8; ++i) ((uint64_t *)buf)[i] = next();
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("READY\n");
  uint64_t prev = now_ns(), longest = 0, deadline = prev;
  double owed = 0;
  char line[64];
  size_t have = 0;
  for (;;) {
    deadline += 1000000;
    struct timespec d = {(time_t)(deadline / 1000000000ull), (long)(deadline % 1000000000ull)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL);
    uint64_t t = now_ns();
    if (t - prev > longest) longest = t - prev;
    prev = t;
    if (t > deadline + 50000000ull) deadline = t; /* after a freeze: no burst to catch up */
    for (owed += per_ms; owed >= 1; owed -= 1) memset(buf + (next() % pages) * 4096, (int)t, 4096);
    struct pollfd p = {0, POLLIN, 0};
    if (poll(&p, 1, 0) == 1) {
      ssize_t n = read(0, line + have, sizeof line - 1 - have);
      if (n <= 0) return 0;
      have += (size_t)n;
      line[have] = 0;
      if (strchr(line, '\n')) {
        printf("GAP %llu\n", (unsigned long long)(longest > 1000000 ? (longest - 1000000) / 1000 : 0));
        longest = 0;
        have = 0;
      }
    }
  }
}
