/*
 * state_compressible: memory of the kinds the image writer treats
 * differently (format/ImageWriter.h), so that a zstd image holds zstd
 * chunks of several ratios and raw chunks side by side, and restores bit
 * for bit:
 *   - text: words of a 64-word list, as bench/hog.c's (zstd:3 about 3.5 : 1);
 *   - objects: 64-byte records of pointers into the area, small counters
 *     and flags, as an interpreter's heap holds (about 4 : 1);
 *   - weak: random bytes, every fourth one zero (less than 2 : 1: stored raw);
 *   - pattern: one 64-byte pattern over and over (thousands : 1).
 * Every byte is a function of its offset: the check recomputes it. With
 * --fresh the area stays zero, and the check must FAIL.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "testprog.h"

#define MIB (1UL << 20)
#define TEXT_BYTES (6 * MIB)
#define OBJECT_BYTES (4 * MIB)
#define WEAK_BYTES (2 * MIB)
#define PATTERN_BYTES (2 * MIB)
#define AREA_BYTES (TEXT_BYTES + OBJECT_BYTES + WEAK_BYTES + PATTERN_BYTES)

static uint64_t next(uint64_t *x)
{
	*x ^= *x >> 12, *x ^= *x << 25, *x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dULL;
}

/* Fills `area` with what the area at `base` holds (its pointers point into `base`). */
static void fill(uint8_t *area, const uint8_t *base)
{
	static const char *words[64] = {
		"the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by",
		"on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an",
		"had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there",
		"been", "if", "more", "when", "will", "would", "who", "so", "no", "memory", "page",
		"kernel", "image", "restore", "process", "thread", "signal", "file", "read", "write", "map",
		"zero", "stack", "heap", "time"};
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	uint8_t *p = area, *end = area + TEXT_BYTES;
	while (p < end) {
		for (const char *s = words[next(&x) >> 58]; *s && p < end; ++s) *p++ = (uint8_t)*s;
		if (p < end) *p++ = ' ';
	}
	uint64_t *o = (uint64_t *)(area + TEXT_BYTES);
	const uint64_t objects = (uint64_t)(uintptr_t)(base + TEXT_BYTES);
	for (size_t i = 0; i < OBJECT_BYTES / 64; ++i) {
		uint64_t r = next(&x);
		o[8 * i + 0] = objects + 64 * ((r >> 8) % (OBJECT_BYTES / 64));  /* pointers */
		o[8 * i + 1] = objects + 64 * ((r >> 32) % (OBJECT_BYTES / 64));
		o[8 * i + 2] = 1 + (r & 7);                                       /* a refcount */
		o[8 * i + 3] = (uint64_t)(uintptr_t)base;                         /* a type */
		o[8 * i + 4] = i;
		o[8 * i + 5] = 0;
		o[8 * i + 6] = r & 0xffff;
		o[8 * i + 7] = 0;
	}
	uint8_t *w = area + TEXT_BYTES + OBJECT_BYTES;
	for (size_t i = 0; i < WEAK_BYTES; i += 8) {
		uint64_t r = next(&x);
		for (int k = 0; k < 8; ++k) w[i + k] = k % 4 == 3 ? 0 : (uint8_t)(r >> (8 * k));
	}
	uint8_t *q = w + WEAK_BYTES;
	for (size_t i = 0; i < PATTERN_BYTES; ++i) q[i] = (uint8_t)(i % 64 * 37 + 1);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	uint8_t *area = mmap(0, AREA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	if (!fresh) fill(area, area);
	tp_ready(fresh);
	tp_wait_check();
	uint8_t *want = mmap(0, AREA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (want == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	fill(want, area);
	static const char *part[] = {"text", "objects", "weak", "pattern"};
	const size_t bound[] = {TEXT_BYTES, TEXT_BYTES + OBJECT_BYTES, TEXT_BYTES + OBJECT_BYTES + WEAK_BYTES, AREA_BYTES};
	for (size_t i = 0, k = 0; i < AREA_BYTES; ++i) {
		while (i >= bound[k]) ++k;
		if (area[i] != want[i]) {
			FAIL("%s byte at offset %zu is %u, not %u", part[k], i, area[i], want[i]);
			i = bound[k] - 1;  /* one line per part */
		}
	}
	return tp_finish("%lu MiB of text, objects, weak and pattern memory restored bit for bit", AREA_BYTES / MIB);
}
