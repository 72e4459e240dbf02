/*
 * bigmem: 64 MiB of anonymous memory with a checksum, to check that large
 * images restore bit for bit and to measure image size and dump time.
 *
 * The area is filled deterministically: most pages with distinct xorshift
 * data, every 8th page written with zeros (present but all-zero), every
 * 16th page (offset 3) never touched (absent), and every 32nd page
 * (offset 5) a copy of one fixed pattern (identical pages).
 *
 * Protocol: prints "ready sum HHHHHHHHHHHHHHHH", then for every line read
 * from fd 0 mutates a few pages (sometimes touching a never-touched one) and
 * prints "sum HHHHHHHHHHHHHHHH".  Exit 0 on EOF.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#define AREA_BYTES (64UL << 20)
#define AREA_PAGES (AREA_BYTES / PAGE)
#define WORDS_PER_PAGE (PAGE / 8)

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Word-wise FNV-style mix: byte-wise FNV over 64 MiB would dominate the
 * test's run time. */
static uint64_t area_sum(const uint64_t *w)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < AREA_BYTES / 8; i++) {
		h ^= w[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int say(const char *prefix, uint64_t sum)
{
	char out[64];
	int n = snprintf(out, sizeof out, "%ssum %016llx\n", prefix, (unsigned long long)sum);
	return write(1, out, (size_t)n) == n ? 0 : -1;
}

/* Returns 1 for a line, 0 on EOF; one byte per read(2) so nothing is left in
 * a user-space buffer. */
static int read_line(void)
{
	for (;;) {
		char c;
		ssize_t r = read(0, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		if (c == '\n')
			return 1;
	}
}

int main(void)
{
	uint64_t *area = mmap(NULL, AREA_BYTES, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		perror("bigmem: mmap");
		return 2;
	}

	uint64_t seed = 0x243f6a8885a308d3ULL;
	for (size_t p = 0; p < AREA_PAGES; p++) {
		uint64_t *w = area + p * WORDS_PER_PAGE;
		if (p % 16 == 3)
			continue;
		if (p % 8 == 0) {
			memset(w, 0, PAGE);
		} else if (p % 32 == 5) {
			for (size_t i = 0; i < WORDS_PER_PAGE; i++)
				w[i] = 0x5a5a5a5a00000000ULL | i;
		} else {
			for (size_t i = 0; i < WORDS_PER_PAGE; i++)
				w[i] = xorshift(&seed);
		}
	}
	if (say("ready ", area_sum(area)) < 0)
		return 1;

	uint64_t step = 0;
	while (read_line()) {
		step++;
		for (int k = 0; k < 4; k++) {
			size_t p = xorshift(&seed) % AREA_PAGES;
			if (k == 0)
				p = (p & ~(size_t)15) | 3;
			area[p * WORDS_PER_PAGE + step % WORDS_PER_PAGE] += xorshift(&seed) | 1;
		}
		if (say("", area_sum(area)) < 0)
			return 1;
	}
	return 0;
}
