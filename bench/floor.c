/* floor: the single-core floor for restoring N bytes (static, so its start-up
 * is as cheap as exec gets).
 *
 *   floor FILE
 *
 * Reads the whole FILE (the raw image itself, already in the page cache) into
 * fresh anonymous memory with large read()s on one thread, then prints
 * "T <CLOCK_MONOTONIC ns>". The launcher took its start time just before
 * fork, exactly as for `restore`, so both times run from "about to start" to
 * "the bytes are in fresh memory". Then, like the restored hog after its
 * timestamp, it reads its whole memory once (the same FNV-1a checksum over
 * 64-bit words) and prints "SUM <hex>": the launcher times that too, for
 * the comparison "until the memory has been read once" (docs/benchmarks.md). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return 1;
  size_t len = (size_t)st.st_size;
  char *buf = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) return 1;
  for (size_t done = 0; done < len;) {
    /* One read per 1 GiB at most: as few system calls as possible, so the
     * floor is the copy and the page faults, nothing else. */
    size_t want = len - done > (1u << 30) ? (1u << 30) : len - done;
    ssize_t r = read(fd, buf + done, want);
    if (r <= 0) return 1;
    done += (size_t)r;
  }
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
