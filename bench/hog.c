/* hog: the process that gets checkpointed (dynamically linked on purpose: the
 * issue's "small process" is a dynamically linked C program).
 *
 *   hog MIB random|text|sparse
 *
 * Fills MIB MiB of fresh anonymous memory (every page touched), prints
 * "READY <checksum>", then waits in read(0). When restored, that read is
 * restarted on the new stdin, which already holds "go": the program prints
 * "T <CLOCK_MONOTONIC ns>" at once (that is the moment it runs again), then
 * "SUM <checksum>" of its memory so the driver can check the restore was
 * correct, and waits again for "exit" or EOF. The checksum pass comes after
 * the timestamp so it is never timed.
 *
 * random: xorshift64* output, which zstd cannot shrink (it stores it raw).
 * text:   words drawn from a 64-word list, separated by spaces: ordinary
 *         compressible data (zstd:3 shrinks it about 3-4x), not a degenerate
 *         all-equal pattern.
 * sparse: 64 random bytes at the start of every page, zeros after: every
 *         page is saved, and even zstd:19 gets through it quickly (the
 *         freeze benchmark dumps 1 GiB of it at that level). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint8_t *buf;
static size_t len;

static uint64_t checksum(void) {
  /* FNV-1a over 64-bit words: cheap, and any misplaced page changes it. */
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

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: hog MIB random|text|sparse\n");
    return 2;
  }
  len = (size_t)strtoull(argv[1], 0, 10) << 20;
  buf = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) return 1;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  if (!strcmp(argv[2], "sparse")) {
    for (size_t pg = 0; pg < len; pg += 4096) {
      uint64_t *w = (uint64_t *)(buf + pg);
      for (size_t i = 0; i < 8; ++i) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        w[i] = x * 0x2545f4914f6cdd1dull;
      }
    }
  } else if (!strcmp(argv[2], "random")) {
    uint64_t *w = (uint64_t *)buf;
    for (size_t i = 0; i < len / 8; ++i) {
      x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
      w[i] = x * 0x2545f4914f6cdd1dull;
    }
  } else {
    static const char *words[64] = {
        "the",    "of",     "and",    "to",      "in",     "is",     "that",    "for",    "it",     "as",
        "was",    "with",   "be",     "by",      "on",     "not",    "he",      "this",   "are",    "or",
        "his",    "from",   "at",     "which",   "but",    "have",   "an",      "had",    "they",   "you",
        "were",   "their",  "one",    "all",     "we",     "can",    "her",     "has",    "there",  "been",
        "if",     "more",   "when",   "will",    "would",  "who",    "so",      "no",     "memory", "page",
        "kernel", "image",  "restore","process", "thread", "signal", "file",    "read",   "write",  "map",
        "zero",   "stack",  "heap",   "time"};
    size_t p = 0;
    while (p < len) {
      x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
      const char *s = words[(x * 0x2545f4914f6cdd1dull) >> 58];
      for (; *s && p < len; ++s) buf[p++] = (uint8_t)*s;
      if (p < len) buf[p++] = ' ';
    }
  }
  char line[64];
  snprintf(line, sizeof line, "READY %016llx\n", (unsigned long long)checksum());
  say(line);
  for (;;) {
    char in[64];
    ssize_t n = read(0, in, sizeof in - 1); /* the dump finds us blocked here */
    if (n <= 0) _exit(0);
    in[n] = 0;
    if (!strncmp(in, "go", 2)) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      snprintf(line, sizeof line, "T %lld\n", (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec);
      say(line);
      snprintf(line, sizeof line, "SUM %016llx\n", (unsigned long long)checksum());
      say(line);
    } else {
      _exit(0);
    }
  }
}
