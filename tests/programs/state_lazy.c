/*
 * state_lazy: memory that restore --lazy brings in on first touch must read
 * exactly as if it had been there all along, whatever the program does to
 * it first. Meant to be restored with --lazy and the page server's
 * background copying held back (tests/e2e/state_lazy.sh), so that every
 * check below meets pages not yet brought in; restored without --lazy, or
 * with copying done, it must pass as well.
 *
 * Setup: one 32 MiB private anonymous area. Every page is written with a
 * pattern of its index, except every 7th, which is never touched (the
 * dump saves nothing for it: it must read as zeros).
 *
 * Check, in this order, each on pages nothing has touched since the restore:
 *   kernel    write(2) from the area into a pipe (the kernel touches the
 *             page, not the program) and compare what the pipe returns;
 *   dontneed  MADV_DONTNEED on pages 100-199: zeros, never the image's
 *             bytes (allocators depend on this); then a write to one sticks;
 *   touched   pages 10-19 read, then MADV_DONTNEED: zeros too;
 *   mremap    pages 1000-1999 moved elsewhere: their pattern there;
 *   munmap    pages 3000-3099 unmapped and mapped anew: zeros;
 *   split     pages 5043-5099 made read-only (the area is now two), then
 *             pages 5041-5099 read: their pattern;
 *   fork      a child reads pages 4000-4999 (the pattern), 100-199 (zeros
 *             and the one write), writes, exits; the parent's stay as they
 *             were; then the parent reads 4000-4999 itself;
 *   rest      every other page: its pattern, or zeros for every 7th.
 *
 * Protocol: see tests/e2e/state.sh. --fresh maps the area but writes
 * nothing, so the patterns are missing.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define PAGES 8192 /* 32 MiB */

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

static unsigned char *area;

static uint64_t word(size_t page, size_t i) { return (page * 0x9e3779b97f4a7c15ull) ^ (i * 0xbf58476d1ce4e5b9ull) ^ 0x5eed; }

static void fill(unsigned char *p, size_t page)
{
	uint64_t *w = (uint64_t *)p;
	for (size_t i = 0; i < PAGE / 8; i++)
		w[i] = word(page, i);
}

static int is_zero(const unsigned char *p)
{
	for (size_t i = 0; i < PAGE; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Whether P holds what page PAGE had at the dump. */
static int original(const unsigned char *p, size_t page)
{
	if (page % 7 == 0)
		return is_zero(p);
	const uint64_t *w = (const uint64_t *)p;
	for (size_t i = 0; i < PAGE / 8; i++)
		if (w[i] != word(page, i))
			return 0;
	return 1;
}

/* Pages [from, to) of BASE (which holds page FROM first) as at the dump. */
static int range_original(const unsigned char *base, size_t from, size_t to, const char *what)
{
	for (size_t pg = from; pg < to; pg++)
		if (!original(base + (pg - from) * PAGE, pg)) {
			const uint64_t *w = (const uint64_t *)(base + (pg - from) * PAGE);
			FAIL("%s: page %zu differs from the dump (%s; first word %#llx, expected %#llx)", what, pg,
			     is_zero(base + (pg - from) * PAGE) ? "zeros" : "not zeros", (unsigned long long)w[0],
			     (unsigned long long)(pg % 7 ? word(pg, 0) : 0));
			return 0;
		}
	return 1;
}

static int range_zero(const unsigned char *base, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (!is_zero(base + i * PAGE)) {
			FAIL("%s: page %zu is not zeros", what, i);
			return 0;
		}
	return 1;
}

static void check(void)
{
	/* kernel: the kernel reads untouched pages 3-4 on the program's behalf. */
	int p[2];
	static unsigned char back[2 * PAGE];
	if (pipe(p) != 0 || write(p[1], area + 3 * PAGE, 2 * PAGE) != 2 * PAGE ||
	    read(p[0], back, sizeof back) != (ssize_t)sizeof back)
		FAIL("kernel: write(2) from the area failed");
	else
		range_original(back, 3, 5, "kernel");

	/* dontneed */
	if (madvise(area + 100 * PAGE, 100 * PAGE, MADV_DONTNEED) != 0)
		FAIL("dontneed: madvise failed");
	range_zero(area + 100 * PAGE, 100, "dontneed");
	area[150 * PAGE + 5] = 0x42;
	if (area[150 * PAGE + 5] != 0x42)
		FAIL("dontneed: a write did not stick");

	/* touched, then dropped */
	range_original(area + 10 * PAGE, 10, 20, "touched");
	madvise(area + 10 * PAGE, 10 * PAGE, MADV_DONTNEED);
	range_zero(area + 10 * PAGE, 10, "touched then dropped");

	/* mremap: to a fresh spot well away from the area */
	unsigned char *spot = mmap(NULL, 1000 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *moved = spot == MAP_FAILED ? MAP_FAILED
	                                          : mremap(area + 1000 * PAGE, 1000 * PAGE, 1000 * PAGE,
	                                                   MREMAP_MAYMOVE | MREMAP_FIXED, spot);
	if (moved == MAP_FAILED)
		FAIL("mremap: failed");
	else
		range_original(moved, 1000, 2000, "mremap");

	/* munmap and map again */
	if (munmap(area + 3000 * PAGE, 100 * PAGE) != 0 ||
	    mmap(area + 3000 * PAGE, 100 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
	        MAP_FAILED)
		FAIL("munmap: remapping failed");
	else
		range_zero(area + 3000 * PAGE, 100, "munmap then mmap");

	/* split: pages 5043-5099 made read-only, so that the area the page
	 * server registered is now two; the fault at 5041 and its chunk span both */
	if (mprotect(area + 5043 * PAGE, 57 * PAGE, PROT_READ) != 0)
		FAIL("split: mprotect failed");
	else
		range_original(area + 5041 * PAGE, 5041, 5100, "split");

	/* fork */
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		int ok = range_original(area + 4000 * PAGE, 4000, 5000, "fork (child)") &&
		         area[150 * PAGE + 5] == 0x42 && is_zero(area + 100 * PAGE);
		memset(area + 4000 * PAGE, 0xee, PAGE);
		fflush(stdout);
		_exit(ok ? 0 : 1);
	}
	int status = 0;
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("fork: the child did not find the memory as it was (status %#x)", status);
	range_original(area + 4000 * PAGE, 4000, 5000, "fork (parent, after the child)");

	/* rest */
	range_original(area + 5 * PAGE, 5, 10, "rest");
	range_original(area + 20 * PAGE, 20, 100, "rest");
	range_original(area + 200 * PAGE, 200, 1000, "rest");
	range_original(area + 2000 * PAGE, 2000, 3000, "rest");
	range_original(area + 3100 * PAGE, 3100, 4000, "rest");
	range_original(area + 5000 * PAGE, 5000, PAGES, "rest");
	range_original(area, 0, 3, "rest");
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	area = mmap(NULL, (size_t)PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	if (!fresh)
		for (size_t pg = 0; pg < PAGES; pg++)
			if (pg % 7)
				fill(area + pg * PAGE, pg);
	printf("ready\n");
	fflush(stdout);
	char line[64];
	if (read(0, line, sizeof line) <= 0)
		return 2;
	check();
	if (failures)
		return 1;
	printf("PASS lazy memory reads as saved through a kernel read, MADV_DONTNEED, mremap, munmap, a split and fork\n");
	return 0;
}
