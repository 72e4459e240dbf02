/*
 * lazyfork: a program for restore --lazy's page server tests
 * (tests/e2e/check_lazy_server.sh). It fills a 32 MiB private anonymous
 * area with a pattern of each page's index, prints "ready" and then obeys
 * lines on stdin:
 *   check  reads the whole area; prints "PASS ..." or "FAIL ..." and exits
 *          0 or 1;
 *   fork   forks: the child prints "child PID" and reads the whole area,
 *          then (if it gets that far) "child survived: ..." and exits 0; the
 *          parent waits for it, prints "parent: child status S" and exits
 *          0 without touching the area.
 */
#include "testprog.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define PAGES 8192 /* 32 MiB */

static unsigned char *area;

static uint64_t word(size_t page, size_t i) { return (page * 0x9e3779b97f4a7c15ull) ^ (i * 0xbf58476d1ce4e5b9ull) ^ 0x1a2f; }

/* The first page that differs from the pattern, or PAGES. */
static size_t first_difference(void)
{
	for (size_t pg = 0; pg < PAGES; pg++) {
		const uint64_t *w = (const uint64_t *)(area + pg * PAGE);
		for (size_t i = 0; i < PAGE / 8; i++)
			if (w[i] != word(pg, i))
				return pg;
	}
	return PAGES;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	area = mmap(NULL, (size_t)PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	if (!fresh)
		for (size_t pg = 0; pg < PAGES; pg++)
			for (size_t i = 0; i < PAGE / 8; i++)
				((uint64_t *)(area + pg * PAGE))[i] = word(pg, i);
	tp_ready(fresh);
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		return 2;
	if (strncmp(line, "fork", 4) == 0) {
		pid_t child = fork();
		if (child == 0) {
			printf("child %d\n", (int)getpid());
			size_t bad = first_difference();
			if (bad == PAGES)
				printf("child survived: memory as saved\n");
			else
				printf("child survived: page %zu differs from the dump\n", bad);
			_exit(0);
		}
		int status = 0;
		if (child < 0 || waitpid(child, &status, 0) != child)
			FAIL("fork: no child to wait for");
		printf("parent: child status %#x\n", status);
		return tp_failures ? 1 : 0;
	}
	size_t bad = first_difference();
	if (bad != PAGES)
		FAIL("page %zu differs from the dump", bad);
	return tp_finish("the 32 MiB area reads as saved");
}
