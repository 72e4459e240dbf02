/*
 * counter: a deterministic program whose state is spread over every kind of
 * memory a plain process has, so that a checkpoint which loses any of it shows
 * up as a wrong hash.
 *
 *   usage: counter DATAFILE        (DATAFILE: at least COUNTER_FILE_PAGES pages)
 *
 * State: a malloc'd heap buffer, a global array, a local array in main's
 * frame, and a MAP_PRIVATE mapping of DATAFILE.  Pages 0 and 2 of the mapping
 * are written every step (copy-on-write, must come back from the image); the
 * others are only read (clean, must come back from the file).
 *
 * Protocol: for every line read from fd 0, advance one step and print
 * "step N hash HHHHHHHHHHHHHHHH".  Exit 0 on EOF.  Between steps the program
 * sits in read(2) on fd 0, which is the state the end-to-end tests dump.
 * Only fds 0, 1 and 2 stay open, so the dumper accepts it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096
#define COUNTER_FILE_PAGES 5
#define HEAP_BYTES (12 * 1024)
#define GLOBAL_WORDS 1024
#define LOCAL_WORDS 512

static uint64_t global_words[GLOBAL_WORDS];

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void die(const char *what)
{
	char msg[256];
	int n = snprintf(msg, sizeof msg, "counter: %s: %s\n", what, strerror(errno));
	if (write(2, msg, (size_t)n) < 0)
		_exit(2);
	_exit(2);
}

static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write stdout");
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Returns the line length, or -1 on EOF.  One byte per read(2), so no line
 * ever sits unread in a user-space buffer: what the test wrote after the dump
 * is exactly what the restored process reads. */
static long read_line(char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(0, &c, 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("read stdin");
		}
		if (r == 0)
			return n > 0 ? (long)n : -1;
		if (c == '\n')
			return (long)n;
		if (n < cap)
			buf[n++] = c;
	}
}

/* Mutates all four areas from the step number and the line's bytes, so the
 * hash also proves that the restored process reads its new stdin. */
static void advance(uint64_t step, const char *line, size_t len, unsigned char *heap,
		    uint64_t *local, unsigned char *map, size_t map_len)
{
	uint64_t seed = fnv1a(0xcbf29ce484222325ULL ^ step, line, len) | 1;

	for (int i = 0; i < 64; i++) {
		uint64_t r = xorshift(&seed);
		heap[r % HEAP_BYTES] ^= (unsigned char)(r >> 32);
	}
	for (int i = 0; i < 16; i++) {
		uint64_t r = xorshift(&seed);
		global_words[r % GLOBAL_WORDS] += r;
	}
	for (int i = 0; i < 16; i++) {
		uint64_t r = xorshift(&seed);
		local[r % LOCAL_WORDS] ^= r * step;
	}

	/* Only pages 0 and 2 of the mapping become private copies. */
	uint64_t acc = 0;
	for (size_t off = PAGE + 17 * step % PAGE; off < map_len; off += PAGE)
		acc += map[off];
	map[xorshift(&seed) % PAGE] += (unsigned char)acc;
	map[2 * PAGE + xorshift(&seed) % PAGE] ^= (unsigned char)(acc >> 3 | 1);
}

int main(int argc, char **argv)
{
	uint64_t local[LOCAL_WORDS];
	char line[256];

	if (argc != 2) {
		static const char usage[] = "usage: counter DATAFILE\n";
		if (write(2, usage, sizeof usage - 1) < 0)
			return 2;
		return 2;
	}

	int fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		die(argv[1]);
	struct stat st;
	if (fstat(fd, &st) < 0)
		die("fstat");
	if (st.st_size < COUNTER_FILE_PAGES * PAGE) {
		errno = EINVAL;
		die("data file shorter than 5 pages");
	}
	size_t map_len = (size_t)st.st_size / PAGE * PAGE;
	unsigned char *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	close(fd);

	unsigned char *heap = malloc(HEAP_BYTES);
	if (!heap)
		die("malloc");
	for (size_t i = 0; i < HEAP_BYTES; i++)
		heap[i] = (unsigned char)(i * 7 + 3);
	for (size_t i = 0; i < GLOBAL_WORDS; i++)
		global_words[i] = i * 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < LOCAL_WORDS; i++)
		local[i] = ~(uint64_t)i;

	uint64_t step = 0;
	long len;
	while ((len = read_line(line, sizeof line)) >= 0) {
		step++;
		advance(step, line, (size_t)len, heap, local, map, map_len);

		uint64_t h = fnv1a(0xcbf29ce484222325ULL, &step, sizeof step);
		h = fnv1a(h, heap, HEAP_BYTES);
		h = fnv1a(h, global_words, sizeof global_words);
		h = fnv1a(h, local, sizeof local);
		h = fnv1a(h, map, map_len);

		char out[64];
		int n = snprintf(out, sizeof out, "step %llu hash %016llx\n",
				 (unsigned long long)step, (unsigned long long)h);
		write_all(out, (size_t)n);
	}
	return 0;
}
