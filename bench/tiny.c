/* tiny: the smallest process worth restoring (issue 18's "tiny static
 * process"): statically linked, it has just started and waits, touching no
 * memory of its own beyond what the C library set up.
 *
 * It prints "READY 0", then waits in read(0). When restored, that read is
 * restarted on the new stdin, which already holds "go": it prints
 * "T <CLOCK_MONOTONIC ns>" at once (the moment it runs again), then
 * "SUM <hex>" of its argv, environment and a marker on its stack (so the
 * driver can check that what it restored is that process), and waits again
 * for EOF. Run directly (fork+exec), it behaves the same after "READY". */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void say(const char *s, size_t n) {
  while (n) {
    ssize_t r = write(1, s, n);
    if (r <= 0) _exit(3);
    s += r;
    n -= (size_t)r;
  }
}

int main(int argc, char **argv) {
  volatile uint64_t marker = 0x74696e7900000001ull;
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < argc; ++i)
    for (const char *p = argv[i]; *p; ++p) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  for (char **e = environ; *e; ++e)
    for (const char *p = *e; *p; ++p) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  char line[64], c;
  int n = snprintf(line, sizeof line, "READY %016llx\n", (unsigned long long)(h ^ marker));
  say(line, (size_t)n);
  if (read(0, &c, 1) != 1) return 1;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  n = snprintf(line, sizeof line, "T %lld\n", (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec);
  say(line, (size_t)n);
  n = snprintf(line, sizeof line, "SUM %016llx\n", (unsigned long long)(h ^ marker));
  say(line, (size_t)n);
  while (read(0, &c, 1) == 1) {
  }
  return 0;
}
