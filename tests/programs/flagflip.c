/* flagflip: an anonymous area of its own whose flags or layout change on a
 * command from stdin, with nothing else in the process changing its maps
 * meanwhile (no allocation after start-up), for tests/e2e/check_freeze_flags.sh:
 * a dump that read smaps before the freeze must notice what changed before it.
 *
 *   prints "AREA <hex start> <hex end>", then for each line read:
 *   "dontfork"  madvise(MADV_DONTFORK) on the whole area (its VmFlags
 *               change, its line in /proc/PID/maps does not)
 *   "dofork"    madvise(MADV_DOFORK) on the whole area (back again)
 *   "split"     mprotect(PROT_READ) on its first page (the area splits)
 *   and answers "ok" (or "failed") on a line of its own. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { kPages = 16, kPage = 4096 };

static void say(const char *s) {
  if (write(1, s, strlen(s)) < 0) _exit(3);
}

int main(void) {
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
    say(r == 0 ? "ok\n" : "failed\n");
  }
}
