/* treehog: the process tree that gets checkpointed in the tree benchmark.
 *
 *   treehog MIB N        the tree: a root and N workers
 *   treehog MIB N fork   the baseline: the root forks N children, timed
 *
 * The root fills MIB MiB of fresh anonymous memory with random data
 * (xorshift64*, incompressible), then forks N workers that share it
 * copy-on-write; each worker writes 3 pages of its own and waits for
 * commands on a pipe of its own. The root prints "READY <sum>" once all are
 * set up, where <sum> combines the checksum of the root's memory and each
 * worker's (asked over the pipes), and waits in read(0).
 *
 * Restored with stdin holding "go": the root prints "T <CLOCK_MONOTONIC ns>"
 * at once (every member resumes together, so the whole tree is back), then
 * "SUM <sum>" computed again the same way (the driver checks it equals the
 * one before the dump), and on EOF tells the workers to exit, reaps them and
 * exits.
 *
 * fork: after "READY", on each "go" line, the root forks N children that
 * each write one byte to a pipe; once all N bytes have arrived it prints
 * "FORK_NS <ns>", the time from before the first fork until then, and lets
 * them exit (reaped before the next measurement). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define MAX_WORKERS 64

static uint8_t *buf;
static size_t len;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static uint64_t checksum(void) {
  uint64_t h = 1469598103934665603ull;
  const uint64_t *w = (const uint64_t *)buf;
  for (size_t i = 0; i < len / 8; ++i) h = (h ^ w[i]) * 1099511628211ull;
  return h;
}

static void say(const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t r = write(1, s, n);
    if (r <= 0) _exit(3);
    s += r;
    n -= (size_t)r;
  }
}

static int read_full(int fd, void *p, size_t n) {
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return -1;
    p = (char *)p + r;
    n -= (size_t)r;
  }
  return 0;
}

/* A worker: its own pages, then checksums on request ('s'), exit on EOF. */
static void worker(unsigned w, int cmd, int reply, int ready) {
  for (unsigned k = 0; k < 3; ++k) {
    size_t page = ((size_t)w * 1009 + k * 4099 + 7) % (len / PAGE);
    memset(buf + page * PAGE, (int)(w * 3 + k + 1), PAGE);
  }
  char c = 'r';
  if (write(ready, &c, 1) != 1) _exit(3);
  close(ready);
  while (read(cmd, &c, 1) == 1) {
    uint64_t s = checksum();
    if (write(reply, &s, sizeof s) != (ssize_t)sizeof s) _exit(3);
  }
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc < 3 || (argc == 4 && strcmp(argv[3], "fork")) || argc > 4) {
    fprintf(stderr, "usage: treehog MIB N [fork]\n");
    return 2;
  }
  len = (size_t)strtoull(argv[1], 0, 10) << 20;
  unsigned n = (unsigned)strtoul(argv[2], 0, 10);
  const int fork_only = argc == 4;
  if (n > MAX_WORKERS || len < 64 * PAGE) return 2;
  buf = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) return 1;
  uint64_t x = 0x9e3779b97f4a7c15ull, *words = (uint64_t *)buf;
  for (size_t i = 0; i < len / 8; ++i) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    words[i] = x * 0x2545f4914f6cdd1dull;
  }
  char line[96], in[64];
  if (fork_only) {
    say("READY 0\n");
    /* One measurement per "go" line: the memory is filled once. */
    while (read(0, in, sizeof in) > 0) {
      int up[2], hold[2];
      if (pipe(up) || pipe(hold)) return 1;
      long long t0 = now_ns();
      for (unsigned w = 0; w < n; ++w) {
        pid_t p = fork();
        if (p < 0) return 1;
        if (p == 0) {
          char c = 'r';
          close(hold[1]);
          if (write(up[1], &c, 1) != 1) _exit(3);
          while (read(hold[0], &c, 1) > 0) {
          }
          _exit(0);
        }
      }
      char got[MAX_WORKERS];
      if (read_full(up[0], got, n)) return 1;
      long long t1 = now_ns();
      close(hold[1]);
      close(hold[0]);
      close(up[0]);
      close(up[1]);
      while (wait(NULL) > 0) {
      }
      snprintf(line, sizeof line, "FORK_NS %lld\n", t1 - t0);
      say(line);
    }
    return 0;
  }

  int cmd[MAX_WORKERS], reply[2], ready[2];
  pid_t pids[MAX_WORKERS];
  if (pipe(reply) || pipe(ready)) return 1;
  for (unsigned w = 0; w < n; ++w) {
    int c[2];
    if (pipe(c)) return 1;
    pids[w] = fork();
    if (pids[w] < 0) return 1;
    if (pids[w] == 0) {
      close(c[1]);
      close(reply[0]);
      close(ready[0]);
      for (unsigned k = 0; k < w; ++k) close(cmd[k]);
      worker(w + 1, c[0], reply[1], ready[1]);
    }
    close(c[0]);
    cmd[w] = c[1];
  }
  close(reply[1]);
  close(ready[1]);
  char got[MAX_WORKERS];
  if (read_full(ready[0], got, n)) return 1;
  close(ready[0]);
  /* The tree's checksum: the root's memory, then each worker's. */
  uint64_t sum = checksum();
  for (unsigned w = 0; w < n; ++w) {
    uint64_t s;
    if (write(cmd[w], "s", 1) != 1 || read_full(reply[0], &s, sizeof s)) return 1;
    sum = (sum ^ s) * 1099511628211ull;
  }
  snprintf(line, sizeof line, "READY %016llx\n", (unsigned long long)sum);
  say(line);
  for (;;) {
    ssize_t r = read(0, in, sizeof in - 1); /* the dump finds us blocked here */
    if (r <= 0) break;
    in[r] = 0;
    if (strncmp(in, "go", 2)) break;
    snprintf(line, sizeof line, "T %lld\n", now_ns());
    say(line);
    uint64_t again = checksum();
    for (unsigned w = 0; w < n; ++w) {
      uint64_t s = 0;
      if (write(cmd[w], "s", 1) != 1 || read_full(reply[0], &s, sizeof s)) s = 0; /* a worker gone: a wrong sum */
      again = (again ^ s) * 1099511628211ull;
    }
    snprintf(line, sizeof line, "SUM %016llx\n", (unsigned long long)again);
    say(line);
  }
  for (unsigned w = 0; w < n; ++w) close(cmd[w]);
  while (wait(NULL) > 0) {
  }
  return 0;
}
