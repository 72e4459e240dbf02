/*
 * state_guard: guard regions (MADV_GUARD_INSTALL, Linux 6.13+) must come
 * back: same /proc/self/maps (guards split no VMA), same VmFlags, the same
 * guard pages reported by PAGEMAP_SCAN, the other pages' contents kept, and
 * a touch of a guard page still gives SIGSEGV.
 *
 * Setup: 8 pages of private anonymous memory, all written, guards on pages
 * 2-3 and 7 (as allocators put them between and after blocks); a private
 * mapping of this program's own file, 2 pages, guard on page 1.
 * Check: the above; the touches happen in forked children.
 * --fresh installs no guards, so the scan and the touches find none.
 * --locked adds an area with a guard page that is then mlock'ed (the
 * mlock fails with ENOMEM but leaves the area locked, "lo"): guards cannot
 * be installed in a locked area, so the dump must refuse it.
 */
#include "testprog.h"
#include "vmtest.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096
#define MADV_GUARD_INSTALL 102

/* uapi <linux/fs.h>, 6.7+ (PAGE_IS_GUARD 6.14+) */
struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_GUARD (1 << 8)

static char maps_before[256 * 1024], maps_after[256 * 1024], smaps[1024 * 1024];
static char out_buf[16 * 1024], in_buf[4096];

/* The guard ranges in [p, p+len) as text "a-b,c-d" (page numbers). */
static void guards(char *p, size_t len, char *out, size_t size)
{
	struct page_region r[16];
	struct pm_scan_arg a = {sizeof a, 0, (uint64_t)p, (uint64_t)p + len, 0, (uint64_t)r, 16, 0, 0,
	                        PAGE_IS_GUARD, 0, PAGE_IS_GUARD};
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long n = fd < 0 ? -1 : ioctl(fd, PAGEMAP_SCAN, &a);
	close(fd);
	out[0] = '\0';
	if (n < 0) {
		snprintf(out, size, "scan failed: %s", strerror(errno));
		return;
	}
	for (long i = 0; i < n; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s%lu-%lu", i ? "," : "",
		         (unsigned long)((r[i].start - (uint64_t)p) / PAGE), (unsigned long)((r[i].end - (uint64_t)p) / PAGE));
}

/* Whether reading *ADDR kills a child with SIGSEGV. */
static int segv(volatile char *addr)
{
	pid_t c = fork();
	if (c == 0) {
		(void)*addr;
		_exit(0);
	}
	int st = 0;
	waitpid(c, &st, 0);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);
	setvbuf(stdin, in_buf, _IOFBF, sizeof in_buf);
	char *anon = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	char *file = self < 0 ? MAP_FAILED : mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, self, 0);
	if (anon == MAP_FAILED || file == MAP_FAILED)
		tp_die("mmap");
	if (argc > 1 && strcmp(argv[1], "--locked") == 0) {
		char *l = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (l == MAP_FAILED || madvise(l + PAGE, PAGE, MADV_GUARD_INSTALL) != 0)
			tp_die("locked area");
		mlock(l, 2 * PAGE); /* fails on the guard page, after setting VM_LOCKED */
		printf("locked area %lx\n", (unsigned long)(uintptr_t)l);
	}
	close(self);
	for (int i = 0; i < 8; i++)
		memset(anon + i * PAGE, 'a' + i, PAGE);
	if (!fresh && (madvise(anon + 2 * PAGE, 2 * PAGE, MADV_GUARD_INSTALL) != 0 ||
	               madvise(anon + 7 * PAGE, PAGE, MADV_GUARD_INSTALL) != 0 ||
	               madvise(file + PAGE, PAGE, MADV_GUARD_INSTALL) != 0))
		tp_die("MADV_GUARD_INSTALL");
	char g_anon[128], g_file[128], f_anon[256], f_file[256], now[256];
	guards(anon, 8 * PAGE, g_anon, sizeof g_anon);
	guards(file, 2 * PAGE, g_file, sizeof g_file);
	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
	vt_smaps_field(smaps, anon, "VmFlags:", f_anon, sizeof f_anon);
	vt_smaps_field(smaps, file, "VmFlags:", f_file, sizeof f_file);
	vt_slurp("/proc/self/maps", maps_before, sizeof maps_before);
	tp_ready(fresh);
	tp_wait_check();

	vt_slurp("/proc/self/maps", maps_after, sizeof maps_after);
	if (strcmp(maps_before, maps_after) != 0)
		FAIL("/proc/self/maps differs:\n--- before\n%s--- after\n%s", maps_before, maps_after);
	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
	vt_smaps_field(smaps, anon, "VmFlags:", now, sizeof now);
	if (strcmp(now, f_anon) != 0)
		FAIL("anonymous area: VmFlags '%s', was '%s'", now, f_anon);
	vt_smaps_field(smaps, file, "VmFlags:", now, sizeof now);
	if (strcmp(now, f_file) != 0)
		FAIL("file area: VmFlags '%s', was '%s'", now, f_file);
	char g[128];
	guards(anon, 8 * PAGE, g, sizeof g);
	if (strcmp(g, "2-4,7-8") != 0)
		FAIL("anonymous area: guard pages '%s' (before the dump '%s'), want '2-4,7-8'", g, g_anon);
	guards(file, 2 * PAGE, g, sizeof g);
	if (strcmp(g, "1-2") != 0)
		FAIL("file area: guard pages '%s' (before the dump '%s'), want '1-2'", g, g_file);
	for (int i = 0; i < 8; i++) {
		int guard = i == 2 || i == 3 || i == 7;
		if (segv(anon + i * PAGE) != guard)
			FAIL("anonymous page %d: a read %s SIGSEGV", i, guard ? "did not give" : "gave");
		else if (!guard && (anon[i * PAGE] != 'a' + i || anon[i * PAGE + PAGE - 1] != 'a' + i))
			FAIL("anonymous page %d: contents lost", i);
	}
	if (!segv(file + PAGE))
		FAIL("file page 1: a read did not give SIGSEGV");
	if (segv(file) || memcmp(file, "\177ELF", 4) != 0)
		FAIL("file page 0 is not this program's ELF header");
	return tp_finish("guard pages 2-3, 7 (anonymous) and 1 (file) kept: same maps, VmFlags, PAGEMAP_SCAN and SIGSEGV");
}
