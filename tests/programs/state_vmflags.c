/*
 * state_vmflags: memory areas with madvise state, mlock, PROT_NONE and
 * read-only protection must come back with the same VmFlags and the same
 * /proc/self/maps, line for line, and behave accordingly.
 *
 * Setup, each area its own mmap of private anonymous memory, first page
 * written (so there is content to keep):
 *   dontfork    4 pages  MADV_DONTFORK     VmFlags "dc"
 *   dontdump    4 pages  MADV_DONTDUMP     "dd"
 *   wipeonfork  4 pages  MADV_WIPEONFORK   "wf"
 *   hugepage   16 pages  MADV_HUGEPAGE     "hg"
 *   nohuge      4 pages  MADV_NOHUGEPAGE   "nh"
 *   mergeable   4 pages  MADV_MERGEABLE    "mg" (only if the kernel has KSM)
 *   locked      1 page   mlock             "lo", smaps Locked: 4 kB
 *   reserve    64 pages  PROT_NONE, MAP_NORESERVE, never touched  "---p"
 *   rodata      2 pages  written, then mprotect PROT_READ  "r--p"
 * Recorded before "ready": the whole /proc/self/maps and each area's
 * VmFlags line from /proc/self/smaps.
 *
 * Check: /proc/self/maps is identical; each area's VmFlags equal and hold
 * the expected flag; contents kept; Locked: 4 kB; then a forked child
 * finds dontfork unmapped (mincore: ENOMEM), wipeonfork zeroed, dontdump
 * and rodata intact (the flags act, not only show).
 *
 * Between the two read-outs nothing may change the maps: stdout has a
 * static buffer and stdin is read with read(2), so no malloc happens.
 *
 * Protocol: see tests/e2e/state.sh. --fresh maps the areas but sets no
 * advice, lock or protection, so the expected flags are missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

#define PAGE 4096

enum { DONTFORK, DONTDUMP, WIPEONFORK, HUGEPAGE, NOHUGE, MERGEABLE, LOCKED, RESERVE, RODATA, NAREAS };
static struct area {
	const char *name;
	size_t pages;
	const char *flag;   /* a VmFlags entry it must show, or NULL */
	const char *perms;  /* its permissions in maps */
	unsigned char *addr;
	int skip;           /* MADV_MERGEABLE not offered by this kernel */
	char vmflags[256];
} areas[NAREAS] = {
	[DONTFORK] = {"dontfork", 4, "dc", "rw-p"},
	[DONTDUMP] = {"dontdump", 4, "dd", "rw-p"},
	[WIPEONFORK] = {"wipeonfork", 4, "wf", "rw-p"},
	[HUGEPAGE] = {"hugepage", 16, "hg", "rw-p"},
	[NOHUGE] = {"nohugepage", 4, "nh", "rw-p"},
	[MERGEABLE] = {"mergeable", 4, "mg", "rw-p"},
	[LOCKED] = {"locked", 1, "lo", "rw-p"},
	[RESERVE] = {"reserve", 64, NULL, "---p"},
	[RODATA] = {"rodata", 2, NULL, "r--p"},
};

static char out_buf[64 * 1024];
static char maps_before[256 * 1024], maps_after[256 * 1024];
static char smaps[1024 * 1024];

static int wait_line(void)
{
	for (;;) {
		char c;
		ssize_t r = read(0, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			return 0;
	}
}

static int setup(void)
{
	static const int advice[] = {[DONTFORK] = MADV_DONTFORK, [DONTDUMP] = MADV_DONTDUMP,
	                             [WIPEONFORK] = MADV_WIPEONFORK, [HUGEPAGE] = MADV_HUGEPAGE,
	                             [NOHUGE] = MADV_NOHUGEPAGE, [MERGEABLE] = MADV_MERGEABLE};
	for (int i = DONTFORK; i <= MERGEABLE; i++)
		if (madvise(areas[i].addr, areas[i].pages * PAGE, advice[i]) != 0) {
			if (i == MERGEABLE && errno == EINVAL) {
				areas[i].skip = 1;  /* no CONFIG_KSM */
				continue;
			}
			perror(areas[i].name);
			return -1;
		}
	if (mlock(areas[LOCKED].addr, PAGE) != 0 || mprotect(areas[RODATA].addr, 2 * PAGE, PROT_READ) != 0) {
		perror("mlock/mprotect");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);

	for (int i = 0; i < NAREAS; i++) {
		int prot = i == RESERVE ? PROT_NONE : PROT_READ | PROT_WRITE;
		int flags = MAP_PRIVATE | MAP_ANONYMOUS | (i == RESERVE ? MAP_NORESERVE : 0);
		areas[i].addr = mmap(NULL, areas[i].pages * PAGE, prot, flags, -1, 0);
		if (areas[i].addr == MAP_FAILED) {
			perror("mmap");
			return 2;
		}
		if (i != RESERVE)
			memset(areas[i].addr, 'a' + i, PAGE);
	}
	if (!fresh && setup() != 0)
		return 2;

	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
	for (int i = 0; i < NAREAS; i++)
		vt_smaps_field(smaps, areas[i].addr, "VmFlags:", areas[i].vmflags, sizeof areas[i].vmflags);
	vt_slurp("/proc/self/maps", maps_before, sizeof maps_before);
	printf("ready%s\n", fresh ? " (fresh)" : "");

	if (wait_line() < 0)
		FAIL("no check line on stdin");
	vt_slurp("/proc/self/maps", maps_after, sizeof maps_after);
	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);

	if (strcmp(maps_before, maps_after) != 0) {
		FAIL("/proc/self/maps differs");
		printf("--- before\n%s--- after\n%s", maps_before, maps_after);
	}
	for (int i = 0; i < NAREAS; i++) {
		struct area *a = &areas[i];
		char now[256];
		vt_smaps_field(smaps, a->addr, "VmFlags:", now, sizeof now);
		if (!now[0])
			FAIL("%s: no area starts at %p", a->name, (void *)a->addr);
		else if (strcmp(now, a->vmflags) != 0)
			FAIL("%s: VmFlags '%s', was '%s'", a->name, now, a->vmflags);
		if (a->flag && !a->skip && !vt_has_flag(now, a->flag))
			FAIL("%s: VmFlags '%s' lack '%s'", a->name, now, a->flag);
		char head[32];
		int len = snprintf(head, sizeof head, "%lx-%lx %s ", (unsigned long)(uintptr_t)a->addr,
		                   (unsigned long)(uintptr_t)(a->addr + a->pages * PAGE), a->perms);
		if (!strstr(maps_after, head))
			FAIL("%s: no maps line starting '%.*s'", a->name, len - 1, head);
		if (i != RESERVE)
			for (size_t b = 0; b < PAGE; b++)
				if (a->addr[b] != 'a' + i) {
					FAIL("%s: byte %zu is %#x, want %#x", a->name, b, a->addr[b], 'a' + i);
					break;
				}
	}
	char locked[64];
	vt_smaps_field(smaps, areas[LOCKED].addr, "Locked:", locked, sizeof locked);
	if (strcmp(locked, "4 kB") != 0)
		FAIL("locked: smaps Locked: '%s', want '4 kB'", locked);
	if (failures)
		return 1;

	/* The advice acts in a child: dontfork is not there, wipeonfork is
	 * zero, the rest is inherited. Exit status bits name what failed. */
	pid_t child = fork();
	if (child == 0) {
		unsigned char vec;
		int bad = 0;
		if (mincore(areas[DONTFORK].addr, PAGE, &vec) == 0 || errno != ENOMEM)
			bad |= 1;
		if (areas[WIPEONFORK].addr[0] != 0)
			bad |= 2;
		if (areas[DONTDUMP].addr[0] != 'a' + DONTDUMP || areas[RODATA].addr[0] != 'a' + RODATA)
			bad |= 4;
		_exit(bad);
	}
	int status = -1;
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status))
		FAIL("fork/wait failed");
	else if (WEXITSTATUS(status) != 0)
		FAIL("in a forked child:%s%s%s", WEXITSTATUS(status) & 1 ? " dontfork area is mapped" : "",
		     WEXITSTATUS(status) & 2 ? " wipeonfork area not wiped" : "",
		     WEXITSTATUS(status) & 4 ? " dontdump/rodata contents lost" : "");

	if (failures)
		return 1;
	printf("PASS maps identical; VmFlags dc dd wf hg nh%s lo, PROT_NONE and read-only areas kept\n",
	       areas[MERGEABLE].skip ? "" : " mg");
	return 0;
}
