/*
 * state_deleted_mapping: mappings of a deleted file, shared and private,
 * come back mapping one recreated unlinked file, which an fd also opens.
 *
 * Setup: /tmp/ckpt-delm.XXXXXX/data, 4 pages of a pattern, opened O_RDWR
 * (fd), mapped MAP_SHARED (sh, 4 pages) and MAP_PRIVATE (pr, 4 pages,
 * page 1 then written: a private dirty page), and unlinked. A second
 * file, mapped MAP_SHARED read-only, has its fd closed and is unlinked
 * (only the mapping holds it).
 *
 * The file then gets mode 0604 and mtime 1300000000.000000700.
 *
 * Check: the file's mode and mtime (set after staging mapped it); the maps
 * lines of all three mappings end in " (deleted)"; sh and
 * fd are one file (a store to sh is read by pread; a pwrite is seen in
 * sh), and pr is not shared (its dirty page kept, a pwrite to page 2 seen
 * there since it is still the file's page; a store to pr not seen by
 * pread); the maponly mapping has its contents.
 *
 * Protocol: see tests/e2e/state.sh. --fresh maps anonymous memory instead.
 */
#include "testprog.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096
#define SIZE (4 * PAGE)
static char dir[64] = "/tmp/ckpt-delm.XXXXXX";
static unsigned char *sh, *pr, *ro;
static int fd = -1;

static void cleanup(void) { rmdir(dir); }
static unsigned char pat(size_t i, int k) { return (unsigned char)(i * 5 + k * 31 + i / 4001); }

static int maps_deleted(void *addr)
{
	char want[32], line[512];
	snprintf(want, sizeof want, "%lx-", (unsigned long)(uintptr_t)addr);
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, want, strlen(want)) == 0)
			found = strstr(line, " (deleted)\n") != NULL;
	if (f)
		fclose(f);
	return found;
}

static int make(const char *name, int k)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	unsigned char buf[SIZE];
	for (size_t i = 0; i < SIZE; i++)
		buf[i] = pat(i, k);
	if (f < 0 || write(f, buf, SIZE) != SIZE)
		tp_die(path);
	unlink(path);
	return f;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!mkdtemp(dir))
		tp_die("mkdtemp");
	atexit(cleanup);
	if (fresh) {
		sh = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		pr = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ro = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		fd = make("data", 1);
	} else {
		fd = make("data", 1);
		sh = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		pr = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		int f2 = make("maponly", 2);
		ro = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, f2, 0);
		close(f2);
	}
	if (sh == MAP_FAILED || pr == MAP_FAILED || ro == MAP_FAILED)
		tp_die("mmap");
	memset(pr + PAGE, 0xab, PAGE);
	struct timespec t[2] = {{1100000000, 0}, {1300000000, 700}};
	if (fchmod(fd, 0604) != 0 || futimens(fd, t) != 0)
		tp_die("fchmod/futimens");
	tp_ready(fresh);
	tp_wait_check();

	struct stat first;
	if (fstat(fd, &first) != 0 || (first.st_mode & 07777) != 0604 || first.st_mtim.tv_sec != 1300000000 ||
	    first.st_mtim.tv_nsec != 700)
		FAIL("mapped deleted file: mode %o mtime %ld.%09ld, want 0604 and 1300000000.000000700",
		     first.st_mode & 07777, (long)first.st_mtim.tv_sec, first.st_mtim.tv_nsec);

	if (!maps_deleted(sh) || !maps_deleted(pr) || !maps_deleted(ro))
		FAIL("the mappings are not all of deleted files (sh %d pr %d ro %d)", maps_deleted(sh), maps_deleted(pr),
		     maps_deleted(ro));
	for (size_t i = 0; i < SIZE; i++) {
		unsigned char want_pr = i / PAGE == 1 ? 0xab : pat(i, 1);
		if (sh[i] != pat(i, 1) || pr[i] != want_pr || ro[i] != pat(i, 2)) {
			FAIL("contents differ at offset %zu (sh %02x pr %02x ro %02x)", i, sh[i], pr[i], ro[i]);
			break;
		}
	}
	unsigned char b[4];
	sh[100] = 0x5a;
	if (pread(fd, b, 1, 100) != 1 || b[0] != 0x5a)
		FAIL("a store to the shared mapping is not read through fd %d", fd);
	if (pwrite(fd, "Q", 1, 2 * PAGE + 7) != 1 || sh[2 * PAGE + 7] != 'Q' || pr[2 * PAGE + 7] != 'Q')
		FAIL("a write through fd %d is not seen in the mappings (sh %02x pr %02x)", fd, sh[2 * PAGE + 7],
		     pr[2 * PAGE + 7]);
	pr[3 * PAGE] = 0x11;
	if (pread(fd, b, 1, 3 * PAGE) != 1 || b[0] == 0x11)
		FAIL("a store to the private mapping reached the file");
	struct stat st;
	if (fstat(fd, &st) || st.st_nlink != 0 || st.st_size != SIZE)
		FAIL("fd %d: nlink %lu size %lld", fd, (unsigned long)st.st_nlink, (long long)st.st_size);
	return tp_finish("deleted-file mappings: shared one with the fd, private with its dirty page, map-only");
}
