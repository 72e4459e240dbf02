/* flagflip: an anonymous area of its own whose flags or layout change on a
 * command from stdin, with nothing else in the process changing its maps
 * meanwhile (no allocation after start-up), for tests/e2e/check_freeze_flags.sh:
 * a dump that read smaps before the freeze must notice what changed before it.
 *
 *   prints "AREA <hex start> <hex end>", then for each line read:
 *   "dontfork"  madvise(MADV_DONTFORK) on the whole area (its VmFlags
 *               change, its line in /proc/PID/maps does not)
 *   "dofork"    madvise(MADV_DOFORK) on the whole area (back again)
 *   "write"     a new byte (0xa5, then 0xa6...) in every page of the area
 *   "check"     prints "BYTES <first> <last>": the first byte of its first and last page, in hex
 *   "exec"      runs itself again (a new address space, a new area, 0x5a again)
 *   "split"     mprotect(PROT_READ) on its first page (the area splits)
 *   and answers "ok" (or "failed") on a line of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { kPages = 16, kPage = 4096 };

static void say(const char *s) {
  if (write(1, s, strlen(s)) < 0) _exit(3);
}

int main(int argc, char **argv) {
  (void)argc;
  /* Between two inaccessible pages: an area of its own, which no flag
   * change merges with a neighbour. */
  char *r = mmap(NULL, (kPages + 2) * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED) return 1;
  char *m = mmap(r + kPage, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (m == MAP_FAILED) return 1;
  memset(m, 0x5a, kPages * kPage);
  char line[64];
  snprintf(line, sizeof line, "AREA %lx %lx\n", (unsigned long)m, (unsigned long)(m + kPages * kPage));
  say(line);
  for (;;) {
    ssize_t n = read(0, line, sizeof line - 1);
    if (n <= 0) return 0;
    line[n] = 0;
    int r = -1;
    if (!strncmp(line, "dontfork", 8)) r = madvise(m, kPages * kPage, MADV_DONTFORK);
    else if (!strncmp(line, "dofork", 6)) r = madvise(m, kPages * kPage, MADV_DOFORK);
    else if (!strncmp(line, "split", 5)) r = mprotect(m, kPage, PROT_READ);
    else if (!strncmp(line, "write", 5)) {
      static unsigned char next = 0xa5;
      for (int p = 0; p < kPages; ++p) m[p * kPage] = (char)next;
      ++next;
      r = 0;
    } else if (!strncmp(line, "check", 5)) {
      char out[32];
      snprintf(out, sizeof out, "BYTES %02x %02x\n", (unsigned char)m[0], (unsigned char)m[(kPages - 1) * kPage]);
      say(out);
      continue;
    } else if (!strncmp(line, "exec", 4)) {
      execv("/proc/self/exe", argv);
      _exit(4);
    }
    say(r == 0 ? "ok\n" : "failed\n");
  }
}
