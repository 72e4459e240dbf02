/*
 * tree_cow: a parent that fills MIB MiB of private anonymous memory with
 * data, then forks 8 workers that share it copy-on-write, each touching a
 * few pages of its own (tests/e2e/check_tree_cow.sh).
 *
 *   tree_cow MIB plain|mixed [unshared]
 *
 * mixed adds: worker 1 writes 1 MiB of the shared area, worker 2 discards
 * 1 MiB of it (MADV_DONTNEED) and unmaps another 1 MiB, worker 3 forks a
 * grandchild that writes pages of its own, worker 4 grows its heap by
 * 1 MiB past the 4 MiB of heap the parent filled before the forks.
 *
 * Prints "ready" once every member is set up, then waits in read(0). On
 * "check" (or "corrupt": each member first changes one byte, so the check
 * must fail), every member compares every page of the area with what it
 * must hold (each page's contents are a function of who wrote it last and
 * of its index, so nothing kept in memory is trusted), the workers report
 * by exit status, and the parent prints "PASS ..." or "FAIL ..." lines.
 * Each member also checks that a new mapping right below its area merges
 * with it exactly when it did before (the anonymous page offset; a forked
 * child's area never merges, as it holds its parent's pages). With
 * "unshared" (a restore that gave each member a copy of its own) only the
 * parent checks that.
 */
#include "testprog.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define WORKERS 8
#define OWN_PAGES 3
#define BIG 256UL /* pages: 1 MiB */

static uint8_t *area;
/* 4 MiB of the parent's heap (sbrk) before the forks; worker 4 (mixed)
 * grows its heap by 1 MiB past the parent's and fills that. */
#define HEAP_PAGES 1024UL
#define HEAP_BASE (1UL << 30) /* page numbers of heap pages in word(): apart from the area's */
static uint8_t *heap, *growth;
static unsigned long npages;
static int mixed;

/* The 8-byte word `i` of a page written by `who` (0: the parent). */
static uint64_t word(unsigned who, unsigned long page, unsigned long i)
{
	uint64_t x = (page * 512 + i + 1) * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)(who + 1) << 56);
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

static void fill_heap(unsigned who, unsigned long page)
{
	uint64_t *p = (uint64_t *)(heap + page * PAGE);
	for (unsigned long i = 0; i < PAGE / 8; i++)
		p[i] = word(who, HEAP_BASE + page, i);
}

static void fill(unsigned who, unsigned long page)
{
	uint64_t *p = (uint64_t *)(area + page * PAGE);
	for (unsigned long i = 0; i < PAGE / 8; i++)
		p[i] = word(who, page, i);
}

/* The pages a member writes by itself: three spread over the area. */
static unsigned long own_page(unsigned who, int k) { return (who * 1009UL + (unsigned long)k * 4099UL + 7) % npages; }

/* Worker 1's 1 MiB, worker 2's discarded and unmapped MiBs (mixed only). */
static unsigned long written_from(void) { return npages / 8; }
static unsigned long dropped_from(void) { return npages / 4; }
static unsigned long unmapped_from(void) { return npages / 2; }

/* Who last wrote `page` as member `who` sees it (-1: zeros, -2: unmapped),
 * in the order the member did things: its own pages first, then worker 1's
 * MiB, worker 2's discard and unmap; a grandchild of worker 3 forked after
 * worker 3's own writes. */
static int in_big(unsigned long page, unsigned long from) { return page >= from && page < from + BIG; }

static int writer_of(unsigned who, unsigned long page)
{
	if (mixed && who == 1 && in_big(page, written_from()))
		return 1;
	if (mixed && who == 2 && in_big(page, dropped_from()))
		return -1;
	if (mixed && who == 2 && in_big(page, unmapped_from()))
		return -2;
	for (int k = 0; who != 0 && k < OWN_PAGES; k++)
		if (own_page(who, k) == page)
			return (int)who;
	for (int k = 0; who == 100 && k < OWN_PAGES; k++)
		if (own_page(3, k) == page)
			return 3;
	return 0;
}

/* Whether a new mapping right below the area merges with its first VMA:
 * -1 when the page below is taken. The kernel merges only when the area has
 * the anonymous page offset of memory created where it is (address / 4096)
 * and no other process's pages in its history (a forked child's area never
 * merges), so a restored member must answer as the original did. */
static int merges_below(void)
{
	uint8_t *below = area - PAGE;
	void *m = mmap(below, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m != below) {
		if (m != MAP_FAILED)
			munmap(m, PAGE);
		return -1;
	}
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int merged = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo == (unsigned long)below)
			merged = hi > (unsigned long)area;
	}
	if (f)
		fclose(f);
	munmap(below, PAGE);
	return merged;
}
static int merged_at_start, unshared;

/* Compares every page; returns the number of pages that differ. */
static int verify(unsigned who, int corrupt)
{
	int merges = merges_below(), bad = merges != merged_at_start && (who == 0 || !unshared);
	if (bad && who == 0)
		FAIL("parent: a new mapping right below the area %s with it, where it %s before the dump (page offset)",
		     merges ? "merges" : "does not merge", merged_at_start ? "did" : "did not");
	if (corrupt)
		area[own_page(7, 0) * PAGE + 5] ^= 1;
	/* The heap: the parent's pages, and worker 4's own growth past them. */
	unsigned long heap_pages = HEAP_PAGES + (growth ? BIG : 0);
	for (unsigned long p = 0; p < heap_pages; p++) {
		const uint64_t *q = (const uint64_t *)(p < HEAP_PAGES ? heap + p * PAGE : growth + (p - HEAP_PAGES) * PAGE);
		uint64_t page = p < HEAP_PAGES ? HEAP_BASE + p : 2 * HEAP_BASE + (p - HEAP_PAGES);
		unsigned w = p < HEAP_PAGES ? 0 : 4;
		for (unsigned long i = 0; i < PAGE / 8; i++)
			if (q[i] != word(w, page, i)) {
				if (who == 0 && bad < 5)
					FAIL("parent: heap page %lu differs at word %lu", p, i);
				bad++;
				break;
			}
	}
	for (unsigned long p = 0; p < npages; p++) {
		int w = writer_of(who, p);
		if (w == -2)
			continue;
		const uint64_t *q = (const uint64_t *)(area + p * PAGE);
		for (unsigned long i = 0; i < PAGE / 8; i++)
			if (q[i] != (w == -1 ? 0 : word((unsigned)w, p, i))) {
				if (who == 0 && bad < 5)
					FAIL("parent: page %lu differs at word %lu", p, i);
				bad++;
				break;
			}
	}
	return bad;
}

/* A member waiting for the word from its parent: 'c' check, 'x' corrupt. */
static int wait_and_verify(unsigned who, int go, pid_t grandchild, int go_down)
{
	char c = 0;
	while (read(go, &c, 1) < 0 && errno == EINTR)
		;
	int bad = c == 'c' || c == 'x' ? verify(who, c == 'x') : 1;
	if (grandchild > 0) {
		int st;
		(void)!write(go_down, &c, 1);
		if (waitpid(grandchild, &st, 0) != grandchild || !WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	}
	return bad ? 1 : 0;
}

/* Says this member is set up: one byte on the ready pipe, which it then closes. */
static void set_up(int ready)
{
	char c = 'r';
	(void)!write(ready, &c, 1);
	close(ready);
}

static void worker(unsigned who, int go, int ready)
{
	for (int k = 0; k < OWN_PAGES; k++)
		fill(who, own_page(who, k));
	pid_t grandchild = -1;
	int down[2] = {-1, -1};
	if (mixed && who == 1)
		for (unsigned long p = written_from(); p < written_from() + BIG; p++)
			fill(1, p);
	if (mixed && who == 2) {
		if (madvise(area + dropped_from() * PAGE, BIG * PAGE, MADV_DONTNEED) ||
		    munmap(area + unmapped_from() * PAGE, BIG * PAGE))
			_exit(3);
	}
	if (mixed && who == 4) {
		/* From the break (malloc may have moved it past the 4 MiB already). */
		uintptr_t b = (uintptr_t)sbrk(0);
		if (sbrk((intptr_t)(((b + PAGE - 1) & ~(PAGE - 1)) - b)) == (void *)-1 ||
		    (growth = sbrk((intptr_t)(BIG * PAGE))) == (void *)-1)
			_exit(3);
		for (unsigned long p = 0; p < BIG; p++) {
			uint64_t *q = (uint64_t *)(growth + p * PAGE);
			for (unsigned long i = 0; i < PAGE / 8; i++)
				q[i] = word(4, 2 * HEAP_BASE + p, i);
		}
	}
	if (mixed && who == 3) {
		if (pipe(down))
			_exit(3);
		grandchild = fork();
		if (grandchild < 0)
			_exit(3);
		if (grandchild == 0) {
			close(down[1]);
			close(go);
			for (int k = 0; k < OWN_PAGES; k++)
				fill(100, own_page(100, k));
			merged_at_start = merges_below();
			set_up(ready);
			_exit(wait_and_verify(100, down[0], -1, -1));
		}
		close(down[0]);
	}
	merged_at_start = merges_below();
	set_up(ready);
	_exit(wait_and_verify(who, go, grandchild, down[1]));
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3 || argc > 4 || (strcmp(argv[2], "plain") && strcmp(argv[2], "mixed")) ||
	    (argc == 4 && strcmp(argv[3], "unshared")))
		tp_die("usage: tree_cow MIB plain|mixed [unshared]");
	unshared = argc == 4;
	npages = strtoul(argv[1], NULL, 10) * 256;
	mixed = strcmp(argv[2], "mixed") == 0;
	if (npages < 4 * BIG)
		tp_die("tree_cow: at least 4 MiB");
	/* The heap region first, page-aligned, at the current break (nothing of
	 * stdio allocated yet); malloc goes on past it. */
	uintptr_t brk0 = (uintptr_t)sbrk(0);
	if (sbrk((intptr_t)(((brk0 + PAGE - 1) & ~(PAGE - 1)) - brk0)) == (void *)-1 ||
	    (heap = sbrk((intptr_t)(HEAP_PAGES * PAGE))) == (void *)-1)
		tp_die("sbrk");
	for (unsigned long p = 0; p < HEAP_PAGES; p++)
		fill_heap(0, p);
	area = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		tp_die("mmap");
	for (unsigned long p = 0; p < npages; p++)
		fill(0, p);
	merged_at_start = merges_below();
	int go[2], ready[2];
	if (pipe(go) || pipe(ready))
		tp_die("pipe");
	pid_t pids[WORKERS];
	for (unsigned w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		if (pids[w] < 0)
			tp_die("fork");
		if (pids[w] == 0) {
			close(go[1]);
			close(ready[0]);
			worker(w + 1, go[0], ready[1]);
		}
	}
	close(go[0]);
	close(ready[1]);
	/* Every member (the grandchild too) says when it is set up; then no
	 * member holds the ready pipe any more. */
	char r;
	for (int n = 0; n < WORKERS + mixed; n++)
		if (read(ready[0], &r, 1) != 1)
			tp_die("a member died while setting up");
	close(ready[0]);
	printf("ready %lu pages, %d workers%s\n", npages, WORKERS, mixed ? ", mixed" : "");
	char line[64];
	if (!fgets(line, sizeof line, stdin)) {
		FAIL("no check line on stdin");
		return 1;
	}
	const int corrupt = strncmp(line, "corrupt", 7) == 0;
	char c = corrupt ? 'x' : 'c';
	for (unsigned w = 0; w < WORKERS; w++)
		if (write(go[1], &c, 1) != 1)
			FAIL("cannot wake worker %u", w + 1);
	int bad = verify(0, corrupt);
	if (bad)
		FAIL("parent: %d pages differ", bad);
	for (unsigned w = 0; w < WORKERS; w++) {
		int st;
		if (waitpid(pids[w], &st, 0) != pids[w])
			FAIL("worker %u (pid %d) is not this process's child: %s", w + 1, pids[w], strerror(errno));
		else if (!WIFEXITED(st) || WEXITSTATUS(st))
			FAIL("worker %u (pid %d): its memory differs (status %#x)", w + 1, pids[w], st);
	}
	return tp_finish("%lu pages of the parent and of %d workers%s exact", npages, WORKERS,
			 mixed ? " (one wrote 1 MiB, one dropped and unmapped 1 MiB each, one has a grandchild)" : "");
}
