/*
 * lazylearn: the program of restore --lazy --learn's test
 * (tests/e2e/check_lazy_learn.sh). It fills a 32 MiB private anonymous
 * area with a pattern of each page's index, prints "ready" and obeys lines
 * on stdin:
 *   touch  reads one word of every 8th page of the area's first half (512
 *          pages, 32 KiB apart: with a plain --lazy restore each 1 MiB
 *          chunk faults once) and prints "answer N" (N: pages that held
 *          their pattern) or FAILs;
 *   check  reads the whole area; prints "PASS ..." or "FAIL ..." and exits.
 */
#include "testprog.h"

#include <stdint.h>
#include <sys/mman.h>

#define PAGE 4096
#define PAGES 8192 /* 32 MiB */
#define STRIDE 8

static unsigned char *area;

static uint64_t word(size_t page, size_t i) { return (page * 0x9e3779b97f4a7c15ull) ^ (i * 0xbf58476d1ce4e5b9ull) ^ 0x1a2f; }

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
	while (fgets(line, sizeof line, stdin)) {
		if (strncmp(line, "touch", 5) == 0) {
			size_t good = 0;
			for (size_t pg = 0; pg < PAGES / 2; pg += STRIDE)
				good += ((const uint64_t *)(area + pg * PAGE))[7] == word(pg, 7);
			if (good != PAGES / 2 / STRIDE)
				FAIL("touch: %zu of %d pages hold their pattern", good, PAGES / 2 / STRIDE);
			printf("answer %zu\n", good);
			continue;
		}
		for (size_t pg = 0; pg < PAGES; pg++)
			for (size_t i = 0; i < PAGE / 8; i++)
				if (((const uint64_t *)(area + pg * PAGE))[i] != word(pg, i)) {
					FAIL("page %zu word %zu differs from the dump", pg, i);
					return 1;
				}
		return tp_finish("the 32 MiB area reads as saved");
	}
	FAIL("no check line on stdin");
	return 1;
}
