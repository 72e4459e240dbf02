/*
 * state_mm: the kernel's mm fields come back with the process, so that
 * /proc/PID/cmdline, environ, auxv and exe, the program break and the
 * [heap]/[stack] labels look as before (prctl PR_SET_MM_MAP at restore).
 *
 * Recorded before "ready", compared after the restore:
 *   - the bytes of /proc/self/cmdline, environ and auxv;
 *   - readlink /proc/self/exe (equal only when restore has
 *     CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN, as root has here);
 *   - the kernel's break, brk(0) as a raw system call (glibc's sbrk(0) only
 *     returns its own cached copy, which lives in restored memory anyway);
 *   - the mm fields /proc/self/stat shows: start/end of code and data,
 *     start of brk and stack, argument and environment ranges;
 *   - the [heap] line's range, and that a [stack] line exists.
 * Then the break must still work: brk grows it by 1 MiB, every new page is
 * written, and /proc/self/maps must show the grown range as one [heap] line.
 *
 * The program re-executes itself once at start with extra arguments and an
 * extra environment variable, so cmdline and environ are not just the
 * harness's. It sets its own break (sbrk) to be sure a [heap] exists, and
 * keeps it page-aligned: the dumper can only see the heap VMA's end, not
 * the exact break (a documented gap), and this test is about the mm fields.
 *
 * Protocol: tests/e2e/state.sh. The state here cannot be "not set up", so
 * --fresh appends a byte to the recorded cmdline after recording it: that
 * proves only that the comparison can fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MARK_VAR "CKPT_STATE_MM"
#define MARK_VALUE "distinctive value: restored environ must hold it"
#define PAGE 4096UL
#define GROW (1UL << 20)
#define CAP (64 * 1024)

struct blob {
	char data[CAP];
	size_t len;
};

/* The stat fields PR_SET_MM_MAP sets, by their 1-based field number. */
static const struct {
	int field;
	const char *name;
} mm_fields[] = {
	{26, "start_code"}, {27, "end_code"},	{28, "start_stack"}, {45, "start_data"}, {46, "end_data"},
	{47, "start_brk"},  {48, "arg_start"}, {49, "arg_end"},     {50, "env_start"},	{51, "env_end"},
};
#define N_MM (sizeof mm_fields / sizeof mm_fields[0])

struct record {
	struct blob cmdline, environ, auxv;
	char exe[4096];
	uint64_t brk;
	uint64_t mm[N_MM];
	uint64_t heap_start, heap_end;
	int has_stack;
};

static struct record before, after;
static struct blob scratch; /* for /proc/self/maps and stat */
static int failures;

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("FAIL ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures++;
}

static int read_file(const char *path, struct blob *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	b->len = 0;
	ssize_t r;
	while (b->len < sizeof b->data && (r = read(fd, b->data + b->len, sizeof b->data - b->len)) > 0)
		b->len += (size_t)r;
	close(fd);
	return 0;
}

static void die(const char *what)
{
	printf("FAIL set-up: %s: %s\n", what, strerror(errno));
	exit(2);
}

static uint64_t kernel_brk(void)
{
	return (uint64_t)syscall(SYS_brk, 0);
}

/* The [heap] range and whether [stack] exists, from /proc/self/maps. */
static void read_maps(struct record *r)
{
	if (read_file("/proc/self/maps", &scratch) < 0)
		die("/proc/self/maps");
	r->heap_start = r->heap_end = 0;
	r->has_stack = 0;
	char *p = scratch.data, *end = scratch.data + scratch.len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		*nl = 0;
		unsigned long lo, hi;
		size_t n = strlen(p);
		if (n >= 6 && strcmp(p + n - 6, "[heap]") == 0 && sscanf(p, "%lx-%lx", &lo, &hi) == 2) {
			if (r->heap_start)
				r->heap_start = 1; /* two [heap] lines: never equal to a real start */
			else
				r->heap_start = lo;
			r->heap_end = hi;
		}
		if (n >= 7 && strcmp(p + n - 7, "[stack]") == 0)
			r->has_stack = 1;
		p = nl + 1;
	}
}

static void read_stat(struct record *r)
{
	if (read_file("/proc/self/stat", &scratch) < 0)
		die("/proc/self/stat");
	scratch.data[scratch.len < CAP ? scratch.len : CAP - 1] = 0;
	char *p = strrchr(scratch.data, ')'); /* comm may hold spaces */
	if (!p)
		die("/proc/self/stat has no ')'");
	p += 2;
	/* p is at field 3 */
	for (int field = 3, i = 0; *p && i < (int)N_MM; field++) {
		if (field == mm_fields[i].field)
			r->mm[i++] = strtoull(p, NULL, 10);
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
}

static void record(struct record *r)
{
	if (read_file("/proc/self/cmdline", &r->cmdline) < 0 || read_file("/proc/self/environ", &r->environ) < 0 ||
	    read_file("/proc/self/auxv", &r->auxv) < 0)
		die("reading /proc/self/{cmdline,environ,auxv}");
	ssize_t n = readlink("/proc/self/exe", r->exe, sizeof r->exe - 1);
	r->exe[n > 0 ? n : 0] = 0;
	r->brk = kernel_brk();
	read_stat(r);
	read_maps(r);
}

static void compare_blob(const char *what, const struct blob *a, const struct blob *b)
{
	if (a->len == b->len && memcmp(a->data, b->data, a->len) == 0)
		return;
	fail("/proc/self/%s differs from before the dump (%zu bytes, now %zu)", what, a->len, b->len);
}

/* With read(2), not stdio: glibc would malloc a buffer for stdin, and the
 * first malloc moves the break after it was recorded. */
static int read_line(char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(0, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return n > 0 ? 0 : -1;
		if (c == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = c;
	}
	buf[n] = 0;
	return 0;
}

/* Re-executes once with extra arguments and a variable of our own. */
static void become_distinctive(int argc, char **argv)
{
	if (getenv(MARK_VAR))
		return;
	char *args[argc + 4];
	int n = 0;
	for (int i = 0; i < argc; i++)
		args[n++] = argv[i];
	args[n++] = "--an-argument-with=restored cmdline";
	args[n++] = "two words";
	args[n++] = "";
	args[n] = NULL;
	if (setenv(MARK_VAR, MARK_VALUE, 1) < 0)
		die("setenv");
	execv("/proc/self/exe", args);
	die("re-executing /proc/self/exe");
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	char line[64];

	become_distinctive(argc, argv);
	setvbuf(stdout, NULL, _IONBF, 0);

	/* A page-aligned break with at least 64 KiB of heap, all of it touched. */
	uint64_t cur = kernel_brk();
	uint64_t want = ((cur + PAGE - 1) & ~(PAGE - 1)) + 16 * PAGE;
	if ((uint64_t)syscall(SYS_brk, want) != want)
		die("growing the break");
	memset((void *)cur, 0x5a, want - cur);

	record(&before);
	if (!before.heap_start || !before.has_stack) {
		printf("FAIL set-up: no [heap] or no [stack] line in /proc/self/maps\n");
		return 2;
	}
	if (fresh)
		before.cmdline.data[before.cmdline.len++] = 'x';

	printf("ready brk %#" PRIx64 ", heap %#" PRIx64 "-%#" PRIx64 ", cmdline %zu bytes\n", before.brk,
	       before.heap_start, before.heap_end, before.cmdline.len);
	if (read_line(line, sizeof line) < 0)
		return 2;

	record(&after);
	compare_blob("cmdline", &before.cmdline, &after.cmdline);
	compare_blob("environ", &before.environ, &after.environ);
	compare_blob("auxv", &before.auxv, &after.auxv);
	if (strcmp(before.exe, after.exe) != 0)
		fail("/proc/self/exe was %s, now %s", before.exe, after.exe);
	if (before.brk != after.brk)
		fail("the kernel's break (brk(0)) was %#" PRIx64 ", now %#" PRIx64, before.brk, after.brk);
	for (size_t i = 0; i < N_MM; i++)
		if (before.mm[i] != after.mm[i])
			fail("mm field %s (/proc/self/stat) was %#" PRIx64 ", now %#" PRIx64, mm_fields[i].name,
			     before.mm[i], after.mm[i]);
	if (before.heap_start != after.heap_start || before.heap_end != after.heap_end)
		fail("the [heap] line was %#" PRIx64 "-%#" PRIx64 ", now %#" PRIx64 "-%#" PRIx64 " (0: none)",
		     before.heap_start, before.heap_end, after.heap_start, after.heap_end);
	if (!after.has_stack)
		fail("no [stack] line in /proc/self/maps");

	/* The break must still be usable from where it was. */
	uint64_t base = after.brk, grown = after.brk + GROW;
	if ((uint64_t)syscall(SYS_brk, grown) != grown) {
		fail("brk could not grow the heap by 1 MiB, from %#" PRIx64 " to %#" PRIx64, base, grown);
	} else {
		for (uint64_t a = base; a < grown; a += PAGE)
			*(volatile char *)a = 1;
		read_maps(&after);
		if (after.heap_start != before.heap_start || after.heap_end != grown)
			fail("after growing the break by 1 MiB the [heap] line is %#" PRIx64 "-%#" PRIx64
			     " (0: none), expected %#" PRIx64 "-%#" PRIx64,
			     after.heap_start, after.heap_end, before.heap_start, grown);
	}

	if (failures)
		return 1;
	printf("PASS cmdline, environ, auxv, exe, brk, mm fields and [heap]/[stack] as before; brk grew the heap "
	       "by 1 MiB to %#" PRIx64 "\n",
	       grown);
	return 0;
}
