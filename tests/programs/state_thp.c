/*
 * state_thp: restore backs large anonymous areas with transparent huge pages
 * (restorer/HugeBlocks.cpp), and nothing the process can see may change but
 * smaps' AnonHugePages: same /proc/self/maps line for line, same VmFlags
 * (no "hg" gained, "hg" and "nh" kept), same THPeligible, same Rss, the
 * same pages present (a block only half written must not come back whole),
 * same contents.
 *
 * Setup (THP "madvise" on this machine kind): three areas, each between two
 * PROT_NONE pages so that no neighbour merges with it:
 *   A: 16 MiB, 2 MiB-aligned, no advice; written but for the second half of
 *      its last 2 MiB block;
 *   B: 4 MiB with MADV_HUGEPAGE, all written;
 *   C: 4 MiB with MADV_NOHUGEPAGE, all written;
 *   D: 4 MiB, its first 3 MiB written, then MADV_HUGEPAGE: its last block
 *      half present on small pages, which must stay so (staging gives
 *      MADV_HUGEPAGE only once the pages are in).
 * Check: the above; C must hold no huge page; and if a fresh MADV_HUGEPAGE
 * area gets a huge page right now, A must hold at least one (restore used
 * them), else that one check is skipped, saying so.
 * --fresh writes nothing, so the contents differ.
 */
#include "testprog.h"
#include "vmtest.h"

#include <stdint.h>
#include <sys/mman.h>

#define PAGE 4096ul
#define HUGE (2ul << 20)
#define A_SIZE (16ul << 20)
#define BC_SIZE (4ul << 20)

static char maps_before[256 * 1024], maps_after[256 * 1024], smaps[2 * 1024 * 1024];
static char out_buf[64 * 1024], in_buf[4096];

/* An area of SIZE bytes at a HUGE-aligned address, fenced by PROT_NONE pages. */
static char *fenced_area(size_t size)
{
	char *r = mmap(NULL, size + 2 * HUGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		tp_die("mmap");
	char *p = (char *)(((uintptr_t)r + HUGE) & ~(HUGE - 1));
	if (mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
		tp_die("mmap fixed");
	return p;
}

static void fill(char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i += PAGE)
		for (size_t j = 0; j < PAGE; j += 512)
			*(uint64_t *)(p + i + j) = ((uint64_t)seed << 48) ^ (i + j) ^ 0x9e3779b97f4a7c15ull;
}

static int same(const char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i += PAGE)
		for (size_t j = 0; j < PAGE; j += 512)
			if (*(uint64_t *)(p + i + j) != (((uint64_t)seed << 48) ^ (i + j) ^ 0x9e3779b97f4a7c15ull))
				return 0;
	return 1;
}

/* How many of the pages in [p, p+len) are present (pagemap bit 63). */
static long present(const char *p, size_t len)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long n = 0;
	for (size_t i = 0; fd >= 0 && i < len; i += PAGE) {
		uint64_t e = 0;
		if (pread(fd, &e, 8, (off_t)(((uintptr_t)p + i) / PAGE * 8)) != 8) {
			n = -1;
			break;
		}
		n += (long)(e >> 63);
	}
	if (fd >= 0)
		close(fd);
	return fd < 0 ? -1 : n;
}

struct area {
	const char *name;
	char *p;
	char flags[256], eligible[32], rss[32], huge[32];
};

static void read_fields(struct area *a)
{
	vt_smaps_field(smaps, a->p, "VmFlags:", a->flags, sizeof a->flags);
	vt_smaps_field(smaps, a->p, "THPeligible:", a->eligible, sizeof a->eligible);
	vt_smaps_field(smaps, a->p, "Rss:", a->rss, sizeof a->rss);
	vt_smaps_field(smaps, a->p, "AnonHugePages:", a->huge, sizeof a->huge);
}

/* Whether a fresh MADV_HUGEPAGE area gets a huge page now. */
static int huge_pages_free(void)
{
	char *p = fenced_area(HUGE);
	int got = 0;
	if (madvise(p, HUGE, MADV_HUGEPAGE) == 0) {
		p[0] = 1;
		char v[32];
		vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
		vt_smaps_field(smaps, p, "AnonHugePages:", v, sizeof v);
		got = atol(v) > 0;
	}
	munmap(p, HUGE);
	return got;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);
	setvbuf(stdin, in_buf, _IOFBF, sizeof in_buf);
	struct area a[4] = {{"A (no advice)", fenced_area(A_SIZE)},
	                    {"B (MADV_HUGEPAGE)", fenced_area(BC_SIZE)},
	                    {"C (MADV_NOHUGEPAGE)", fenced_area(BC_SIZE)},
	                    {"D (MADV_HUGEPAGE after a partial fill)", fenced_area(BC_SIZE)}};
	if (madvise(a[1].p, BC_SIZE, MADV_HUGEPAGE) != 0 || madvise(a[2].p, BC_SIZE, MADV_NOHUGEPAGE) != 0)
		tp_die("madvise");
	const size_t d_written = BC_SIZE - HUGE / 2;
	const size_t a_written = A_SIZE - HUGE / 2;
	if (!fresh) {
		fill(a[0].p, a_written, 1);
		fill(a[1].p, BC_SIZE, 2);
		fill(a[2].p, BC_SIZE, 3);
		fill(a[3].p, d_written, 4);
	} else {
		memset(a[0].p, 0, a_written);  /* the same pages present, other contents */
		memset(a[1].p, 0, BC_SIZE);
		memset(a[2].p, 0, BC_SIZE);
		memset(a[3].p, 0, d_written);
	}
	if (madvise(a[3].p, BC_SIZE, MADV_HUGEPAGE) != 0)
		tp_die("madvise D");
	const long a_present = present(a[0].p, A_SIZE), d_present = present(a[3].p, BC_SIZE);
	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
	struct area before[4];
	memcpy(before, a, sizeof a);
	for (int i = 0; i < 4; i++)
		read_fields(&before[i]);
	vt_slurp("/proc/self/maps", maps_before, sizeof maps_before);
	tp_ready(fresh);
	tp_wait_check();

	vt_slurp("/proc/self/maps", maps_after, sizeof maps_after);
	if (strcmp(maps_before, maps_after) != 0)
		FAIL("/proc/self/maps differs:\n--- before\n%s--- after\n%s", maps_before, maps_after);
	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
	for (int i = 0; i < 4; i++) {
		read_fields(&a[i]);
		if (strcmp(a[i].flags, before[i].flags) != 0)
			FAIL("area %s: VmFlags '%s', was '%s'", a[i].name, a[i].flags, before[i].flags);
		if (strcmp(a[i].eligible, before[i].eligible) != 0)
			FAIL("area %s: THPeligible %s, was %s", a[i].name, a[i].eligible, before[i].eligible);
		if (strcmp(a[i].rss, before[i].rss) != 0)
			FAIL("area %s: Rss %s, was %s", a[i].name, a[i].rss, before[i].rss);
	}
	if (!vt_has_flag(a[1].flags, "hg") || !vt_has_flag(a[2].flags, "nh") || vt_has_flag(a[0].flags, "hg") ||
	    vt_has_flag(a[0].flags, "nh"))
		FAIL("VmFlags A '%s', B '%s', C '%s': want neither hg nor nh, hg, nh", a[0].flags, a[1].flags, a[2].flags);
	long now_present = present(a[0].p, A_SIZE);
	if (now_present != a_present || a_present != (long)(a_written / PAGE))
		FAIL("area A: %ld pages present, was %ld (%lu written)", now_present, a_present, a_written / PAGE);
	now_present = present(a[3].p, BC_SIZE);
	if (now_present != d_present || d_present != (long)(d_written / PAGE))
		FAIL("area D: %ld pages present, was %ld (%lu written)", now_present, d_present, d_written / PAGE);
	if (!vt_has_flag(a[3].flags, "hg"))
		FAIL("area D: VmFlags '%s' without hg", a[3].flags);
	if (!same(a[0].p, a_written, 1) || !same(a[1].p, BC_SIZE, 2) || !same(a[2].p, BC_SIZE, 3) ||
	    !same(a[3].p, d_written, 4))
		FAIL("contents differ (A %d, B %d, C %d, D %d)", same(a[0].p, a_written, 1), same(a[1].p, BC_SIZE, 2),
		     same(a[2].p, BC_SIZE, 3), same(a[3].p, d_written, 4));
	if (atol(a[2].huge) != 0)
		FAIL("area C (MADV_NOHUGEPAGE) holds huge pages: AnonHugePages %s", a[2].huge);
	const char *note = "";
	if (atol(a[0].huge) == 0) {
		if (huge_pages_free())
			FAIL("area A holds no huge page though the machine has them free (AnonHugePages 0)");
		else
			note = "; no huge page free on this machine now, so A's use of them was not checked";
	}
	return tp_finish("maps, VmFlags, THPeligible, Rss, present pages and contents kept; AnonHugePages "
	                 "A %s (was %s), B %s (was %s), C %s%s",
	                 a[0].huge, before[0].huge, a[1].huge, before[1].huge, a[2].huge, note);
}
