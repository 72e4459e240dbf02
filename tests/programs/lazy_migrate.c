/*
 * lazy_migrate: the process tests/e2e/check_migrate_lazy.sh moves with
 * `ckpt migrate --lazy`. It fills 48 MiB with content unique to each page
 * (xorshift noise seeded by the page's index: a page filled from the wrong
 * chunk, left zero or damaged is told apart), prints "ready" and waits in
 * read(0). When read returns it checks every page, last page first (so
 * that it touches pages the source's background pushing, which goes from
 * the first, has not reached yet), and prints "PASS ..." or one FAIL line
 * per bad page (at most 8) and exits 1. With --fresh nothing is filled.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testprog.h"

#define SIZE (48u << 20)
#define PAGE 4096u

static void fill_page(uint64_t *p, uint64_t index)
{
	uint64_t x = 0x9e3779b97f4a7c15ull ^ (index * 0xbf58476d1ce4e5b9ull);
	for (unsigned i = 0; i < PAGE / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = x;
	}
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	uint8_t *mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	if (!fresh)
		for (uint64_t i = 0; i < SIZE / PAGE; i++)
			fill_page((uint64_t *)(mem + i * PAGE), i);
	tp_ready(fresh);
	char line[64];
	if (read(0, line, sizeof line) < 0)
		FAIL("read(0) failed: %s", strerror(errno));
	static uint64_t want[PAGE / 8];
	unsigned bad = 0;
	for (uint64_t i = SIZE / PAGE; i-- > 0;) {
		fill_page(want, i);
		if (memcmp(mem + i * PAGE, want, PAGE) != 0 && bad++ < 8)
			FAIL("page %llu (at %p) differs", (unsigned long long)i, (void *)(mem + i * PAGE));
	}
	if (bad)
		FAIL("%u of %u pages differ", bad, SIZE / PAGE);
	return tp_finish("48 MiB checked page by page, last page first");
}
