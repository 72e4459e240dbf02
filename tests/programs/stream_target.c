/*
 * stream_target: the process tests/e2e/check_stream.sh and check_migrate.sh
 * move through a stream or a connection. It fills 24 MiB with content that
 * compresses (a pattern) and content that does not (xorshift noise), keeps
 * their hash and a few values in registers' reach, prints "ready", and
 * waits in read(0). When read returns (a line, or EOF: after `restore -`
 * its fd 0 is /dev/null), it hashes its memory again and checks every
 * value: "PASS ..." and exit 0, or "FAIL ..." lines and exit 1. With
 * --fresh nothing is filled, so the check must FAIL.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testprog.h"

#define NOISE (8u << 20)
#define PATTERN (16u << 20)

static uint64_t hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a, 8 bytes at a time */
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 1099511628211ull;
	}
	return h;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	uint8_t *noise = mmap(NULL, NOISE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *pattern = mmap(NULL, PATTERN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (noise == MAP_FAILED || pattern == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < NOISE; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(noise + i, &x, 8);
	}
	for (size_t i = 0; i < PATTERN; i++)
		pattern[i] = (uint8_t)(i * 7 + i / 4096);
	const uint64_t want_noise = hash(noise, NOISE), want_pattern = hash(pattern, PATTERN);
	if (fresh) {
		memset(noise, 0, NOISE);
		memset(pattern, 0, PATTERN);
	}
	volatile double d = 3.25; /* lives in an xmm register around the call */
	tp_ready(fresh);
	char line[64];
	ssize_t n = read(0, line, sizeof line);
	if (n < 0)
		FAIL("read(0) failed: %s", strerror(errno));
	if (hash(noise, NOISE) != want_noise)
		FAIL("the 8 MiB of noise differ");
	if (hash(pattern, PATTERN) != want_pattern)
		FAIL("the 16 MiB of pattern differ");
	if (d != 3.25)
		FAIL("a double changed: %g", d);
	return tp_finish("24 MiB and a double unchanged (read(0) returned %zd)", n);
}
