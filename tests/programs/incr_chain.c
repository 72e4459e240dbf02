/*
 * incr_chain: the target of tests/e2e/check_incremental*.sh. Its memory
 * changes in known steps between the dumps of a chain (--track, then
 * --parent), and it checks from inside that a restore of any image of the
 * chain gives exactly the memory and maps it had when that image was made.
 *
 * Protocol (its own): prints "ready" once set up (step 0). Then, per line:
 *   "step N"  applies step N (1..3), snapshots /proc/self/maps, prints "stepped N"
 *   "check N" checks that step N is the last one applied, every area's
 *             contents and the maps (against the snapshot of that step),
 *             prints "PASS ..." and exits 0, or "FAIL ..." lines and exits 1
 * Maps are compared with adjacent anonymous lines of the same permissions
 * joined: while its writes are tracked, a new mapping next to a tracked
 * area cannot merge with it (a userfaultfd registration differs), and a
 * restore shows the areas as an untracked process has them, merged
 * (docs/architecture.md, "Incremental dumps").
 * With --fresh it does not apply steps ("step N" only answers), so a
 * "check N" with N > 0 must FAIL.
 *
 * The areas (all private anonymous unless said):
 *   A  4 MiB, MADV_HUGEPAGE (transparent huge pages where the kernel gives
 *      them: tracking then splits them as they are written): all written at step 0; step t writes the pages i % (t+3) == 0;
 *      from step 2 on, step t zaps (MADV_DONTNEED) the pages i % 97 == t
 *   B  256 KiB, written at step 0, unmapped at step 2
 *   C  512 KiB, appears at step 1 (written), half rewritten at step 2
 *   D  256 KiB, written at step 0, moved by mremap at step 2
 *   E  128 KiB, written at step 0, replaced by a new MAP_FIXED mapping at step 3 (written)
 *   F  one page of its own executable, MAP_PRIVATE, written (copied on write) at step 2
 *   H  1 MiB from malloc (the heap or its own mapping) at step 1, written at step 3
 */
#include "testprog.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096
#define A_PAGES 1024
#define B_PAGES 64
#define C_PAGES 128
#define D_PAGES 64
#define E_PAGES 32
#define H_BYTES (1 << 20)

static uint8_t *A, *B, *C, *D, *E, *F, *H;
static int steps, fresh;
static char snap[256 * 1024], now[256 * 1024];
static size_t snap_len;

/* The byte at offset j of a page whose value is v (0: a zero page). */
static uint8_t byte_of(unsigned v, unsigned page, unsigned j) { return v ? (uint8_t)(v * 7 + page * 3 + j) | 1 : 0; }

static void fill(uint8_t *p, unsigned v, unsigned page)
{
	for (unsigned j = 0; j < PG; j++)
		p[j] = byte_of(v, page, j);
}

static int same(const uint8_t *p, unsigned v, unsigned page)
{
	for (unsigned j = 0; j < PG; j++)
		if (p[j] != byte_of(v, page, j))
			return 0;
	return 1;
}

/* Area A's page i after step s. */
static unsigned a_value(unsigned i, int s)
{
	unsigned v = 1;
	for (int t = 1; t <= s; t++) {
		if (i % (t + 3) == 0)
			v = 10 + t;
		if (t >= 2 && i % 97 == (unsigned)t)
			v = 0;
	}
	return v;
}

static uint8_t *anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static size_t read_maps(char *buf, size_t size)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t r;
	while (fd >= 0 && len < size && (r = read(fd, buf + len, size - len)) > 0)
		len += (size_t)r;
	if (fd >= 0)
		close(fd);
	return len;
}

/* Joins adjacent anonymous lines of the same permissions, in place; returns the new length. */
static size_t join_anon(char *buf, size_t len)
{
	static char out[sizeof snap]; /* not on the stack: its growth would show in the maps */
	size_t o = 0, last = (size_t)-1; /* offset in out of the last line, if anonymous */
	unsigned long last_end = 0;
	char last_perms[8] = "";
	for (size_t at = 0; at < len;) {
		char *nl = memchr(buf + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (buf + at)) + 1 : len - at;
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)n, buf + at);
		unsigned long start, end, off, inode;
		char perms[8], dev[16], path[256] = "";
		int f = sscanf(line, "%lx-%lx %7s %lx %15s %lu %255s", &start, &end, perms, &off, dev, &inode, path);
		int is_anon = f >= 6 && inode == 0 && path[0] == 0;
		if (is_anon && last != (size_t)-1 && start == last_end && strcmp(perms, last_perms) == 0) {
			/* widen the last line: rewrite it with the new end */
			unsigned long lstart;
			sscanf(out + last, "%lx", &lstart);
			o = last;
			o += (size_t)sprintf(out + o, "%lx-%lx %s 00000000 00:00 0\n", lstart, end, perms);
		} else if (is_anon) {
			last = o;
			o += (size_t)sprintf(out + o, "%lx-%lx %s 00000000 00:00 0\n", start, end, perms);
		} else {
			last = (size_t)-1;
			memcpy(out + o, buf + at, n);
			o += n;
		}
		last_end = end;
		snprintf(last_perms, sizeof last_perms, "%s", perms);
		at += n;
	}
	memcpy(buf, out, o);
	return o;
}

static void step(int t)
{
	if (t == 1) {
		C = anon(C_PAGES * PG);
		for (unsigned i = 0; i < C_PAGES; i++)
			fill(C + i * PG, 21, i);
		H = malloc(H_BYTES);
		memset(H, 0x5a, H_BYTES);
	}
	for (unsigned i = 0; i < A_PAGES; i++)
		if (i % (t + 3) == 0)
			fill(A + i * PG, 10 + t, i);
	if (t >= 2)
		for (unsigned i = t; i < A_PAGES; i += 97)
			madvise(A + i * PG, PG, MADV_DONTNEED);
	if (t == 2) {
		munmap(B, B_PAGES * PG);
		B = NULL;
		for (unsigned i = 0; i < C_PAGES; i += 2)
			fill(C + i * PG, 22, i);
		/* Somewhere else: reserve a hole first, then move D into it. */
		uint8_t *to = anon(D_PAGES * PG * 2);
		munmap(to, D_PAGES * PG * 2);
		D = mremap(D, D_PAGES * PG, D_PAGES * PG, MREMAP_MAYMOVE | MREMAP_FIXED, to + D_PAGES * PG);
		if (D == MAP_FAILED) {
			perror("mremap");
			exit(2);
		}
		F[100] = 0x42;
	}
	if (t == 3) {
		if (mmap(E, E_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != E) {
			perror("mmap E");
			exit(2);
		}
		for (unsigned i = 0; i < E_PAGES; i += 3)
			fill(E + i * PG, 33, i);
		memset(H + H_BYTES / 2, 0xa5, H_BYTES / 4);
	}
}

static void check(int s)
{
	unsigned bad = 0;
	if (steps != s)
		FAIL("step %d applied, expected %d", steps, s);
	for (unsigned i = 0; i < A_PAGES; i++)
		if (!same(A + i * PG, a_value(i, s), i) && bad++ < 5)
			FAIL("A page %u differs (expected value %u, first byte %u)", i, a_value(i, s), A[i * PG]);
	if (s < 2)
		for (unsigned i = 0; i < B_PAGES; i++)
			if (!same(B + i * PG, 2, i) && bad++ < 10)
				FAIL("B page %u differs", i);
	if (s >= 1)
		for (unsigned i = 0; i < C_PAGES; i++)
			if (!same(C + i * PG, s >= 2 && i % 2 == 0 ? 22 : 21, i) && bad++ < 15)
				FAIL("C page %u differs", i);
	for (unsigned i = 0; i < D_PAGES; i++)
		if (!same(D + i * PG, 4, i) && bad++ < 20)
			FAIL("D page %u differs", i);
	for (unsigned i = 0; i < E_PAGES; i++)
		if (!same(E + i * PG, s >= 3 ? (i % 3 == 0 ? 33 : 0) : 5, i) && bad++ < 25)
			FAIL("E page %u differs", i);
	if ((s >= 2) != (F[100] == 0x42))
		FAIL("F's copied-on-write byte is %#x", F[100]);
	if (s >= 1)
		for (size_t k = 0; k < H_BYTES; k++) {
			uint8_t want = s >= 3 && k >= H_BYTES / 2 && k < H_BYTES / 2 + H_BYTES / 4 ? 0xa5 : 0x5a;
			if (H[k] != want) {
				FAIL("heap byte %zu is %#x, expected %#x", k, H[k], want);
				break;
			}
		}
	size_t len = join_anon(now, read_maps(now, sizeof now));
	if (len != snap_len || memcmp(now, snap, len) != 0)
		FAIL("/proc/self/maps differs from step %d's:\n%.*s---\n%.*s", s, (int)snap_len, snap, (int)len, now);
}

int main(int argc, char **argv)
{
	fresh = tp_start(argc, argv);
	setvbuf(stdin, NULL, _IONBF, 0); /* no buffer allocated later: the maps stay as snapshotted */
	A = anon(A_PAGES * PG);
	madvise(A, A_PAGES * PG, MADV_HUGEPAGE);
	B = anon(B_PAGES * PG);
	D = anon(D_PAGES * PG);
	E = anon(E_PAGES * PG);
	for (unsigned i = 0; i < A_PAGES; i++)
		fill(A + i * PG, 1, i);
	for (unsigned i = 0; i < B_PAGES; i++)
		fill(B + i * PG, 2, i);
	for (unsigned i = 0; i < D_PAGES; i++)
		fill(D + i * PG, 4, i);
	for (unsigned i = 0; i < E_PAGES; i++)
		fill(E + i * PG, 5, i);
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	F = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, self, 0);
	close(self);
	if (F == MAP_FAILED) {
		perror("mmap F");
		return 2;
	}
	char line[64];
	tp_ready(fresh);
	snap_len = join_anon(snap, read_maps(snap, sizeof snap));
	while (fgets(line, sizeof line, stdin)) {
		int n;
		if (sscanf(line, "step %d", &n) == 1) {
			if (!fresh) {
				step(n);
				steps = n;
			}
			snap_len = join_anon(snap, read_maps(snap, sizeof snap));
			printf("stepped %d\n", n);
		} else if (sscanf(line, "check %d", &n) == 1) {
			check(n);
			return tp_finish("memory and maps of every area at its step");
		}
	}
	FAIL("no check line on stdin");
	return 1;
}
