/*
 * state_vmhints: read-ahead advice and droppable memory must come back.
 *
 * Setup, each its own mapping of private anonymous memory, first page
 * written:
 *   sequential  4 pages  MADV_SEQUENTIAL   VmFlags "sr"
 *   random      4 pages  MADV_RANDOM       "rr"
 *   droppable   4 pages  MAP_DROPPABLE     "dp" (kernel 6.11+)
 * Recorded before "ready": /proc/self/maps and each area's VmFlags.
 * Check: maps identical, VmFlags equal and holding the flag, contents kept.
 * --fresh maps the same areas without the advice and as plain private
 * memory, so the flags are missing.
 */
#include "testprog.h"
#include "vmtest.h"

#include <errno.h>
#include <sys/mman.h>

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#define PAGE 4096

enum { SEQ, RAND, DROP, N };
static struct {
	const char *name, *flag;
	unsigned char *addr;
	char vmflags[256];
} areas[N] = {{"sequential", "sr"}, {"random", "rr"}, {"droppable", "dp"}};

static char maps_before[256 * 1024], maps_after[256 * 1024], smaps[1024 * 1024];
static char out_buf[16 * 1024], in_buf[4096];  /* static: stdio must not malloc between the read-outs */

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);
	setvbuf(stdin, in_buf, _IOFBF, sizeof in_buf);
	for (int i = 0; i < N; i++) {
		int type = i == DROP && !fresh ? MAP_DROPPABLE : MAP_PRIVATE;
		areas[i].addr = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, type | MAP_ANONYMOUS, -1, 0);
		if (areas[i].addr == MAP_FAILED)
			tp_die(areas[i].name);
		memset(areas[i].addr, 'a' + i, PAGE);
	}
	if (!fresh && (madvise(areas[SEQ].addr, 4 * PAGE, MADV_SEQUENTIAL) != 0 ||
	               madvise(areas[RAND].addr, 4 * PAGE, MADV_RANDOM) != 0))
		tp_die("madvise");
	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
	for (int i = 0; i < N; i++)
		vt_smaps_field(smaps, areas[i].addr, "VmFlags:", areas[i].vmflags, sizeof areas[i].vmflags);
	vt_slurp("/proc/self/maps", maps_before, sizeof maps_before);
	tp_ready(fresh);
	tp_wait_check();

	vt_slurp("/proc/self/maps", maps_after, sizeof maps_after);
	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
	if (strcmp(maps_before, maps_after) != 0)
		FAIL("/proc/self/maps differs:\n--- before\n%s--- after\n%s", maps_before, maps_after);
	for (int i = 0; i < N; i++) {
		char now[256];
		vt_smaps_field(smaps, areas[i].addr, "VmFlags:", now, sizeof now);
		if (strcmp(now, areas[i].vmflags) != 0)
			FAIL("%s: VmFlags '%s', was '%s'", areas[i].name, now, areas[i].vmflags);
		if (!vt_has_flag(now, areas[i].flag))
			FAIL("%s: VmFlags '%s' lack '%s'", areas[i].name, now, areas[i].flag);
		/* A droppable page may be dropped under memory pressure: zero is allowed there. */
		unsigned char c = areas[i].addr[PAGE - 1];
		if (c != 'a' + i && !(i == DROP && c == 0))
			FAIL("%s: contents lost (%#x)", areas[i].name, c);
	}
	return tp_finish("maps identical; VmFlags sr, rr and dp kept");
}
