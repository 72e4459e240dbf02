/*
 * state_memfd_shm: shared anonymous memory and memfds, mapped and open,
 * must come back with their contents and stay shared objects.
 *
 * Setup:
 *   shm      mmap 3 pages MAP_SHARED|MAP_ANONYMOUS; pages 0 and 2 filled
 *            with a pattern, page 1 never touched
 *   memfd    memfd_create("ckpt-test", MFD_ALLOW_SEALING), 4 pages of a
 *            pattern, mapped MAP_SHARED (all 4 pages) and kept open at
 *            offset 100, then sealed F_SEAL_SHRINK|F_SEAL_GROW
 *   maponly  memfd_create("ckpt-maponly"), 2 pages, mapped MAP_SHARED,
 *            its fd closed (only the mapping holds it)
 * Recorded: the /proc/self/maps line of each mapping, and of the memfd fd
 * F_GETFD, F_GETFL, the offset, F_GET_SEALS and the target.
 *
 * Check: contents of all three (shm page 1 still zero); the maps lines
 * equal except the inode (recreated shared memory gets a new one); the fd's
 * flags, offset, seals and target ("/memfd:ckpt-test (deleted)") equal;
 * fstat size 4 pages; ftruncate refused (the seals work, not just read
 * back); a pwrite through the fd is seen through the mapping and a store
 * to the mapping is seen by pread (one object, not two copies); a child
 * made by fork writes to shm and maponly and the parent sees it (the
 * mappings are shared, not private copies).
 *
 * Protocol: see tests/e2e/state.sh. --fresh maps shm and maponly as
 * private anonymous memory and makes no memfd, so the checks fail.
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

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

#define PAGE 4096
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

static unsigned char *shm, *mem, *maponly;
static int memfd = -1;
static int fd_flags, fl, seals;
static off_t pos;
static char target[256];
static char line_shm[512], line_mem[512], line_maponly[512];

static unsigned char pattern(int which, size_t i) { return (unsigned char)(which * 59 + i * 3 + i / 4093); }

/* The maps line of the mapping that starts at ADDR, with its inode (the
 * fifth field) replaced by "INODE". */
static void maps_line(void *addr, char *out, size_t size)
{
	char want[32], buf[512];
	snprintf(want, sizeof want, "%lx-", (unsigned long)(uintptr_t)addr);
	out[0] = '\0';
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	while (fgets(buf, sizeof buf, f)) {
		if (strncmp(buf, want, strlen(want)) != 0)
			continue;
		char range[64], perms[8], off[16], dev[16], path[400] = "";
		unsigned long inode;
		if (sscanf(buf, "%63s %7s %15s %15s %lu %399[^\n]", range, perms, off, dev, &inode, path) >= 5)
			snprintf(out, size, "%s %s %s %s INODE %s", range, perms, off, dev, path);
		break;
	}
	fclose(f);
}

static void target_of(int fd, char *buf, size_t n)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t r = readlink(link, buf, n - 1);
	buf[r < 0 ? 0 : r] = '\0';
}

static void *map(size_t len, int flags, int fd)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static void fill(unsigned char *p, int which, size_t from, size_t len)
{
	for (size_t i = from; i < from + len; i++)
		p[i] = pattern(which, i);
}

/* Returns the first index in [from, from+len) where P is not the
 * pattern (or zero, if WHICH is 0), or -1. */
static long differs(const unsigned char *p, int which, size_t from, size_t len)
{
	for (size_t i = from; i < from + len; i++)
		if (p[i] != (which ? pattern(which, i) : 0))
			return (long)i;
	return -1;
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	int shared = fresh ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED | MAP_ANONYMOUS;

	shm = map(3 * PAGE, shared, -1);
	fill(shm, 1, 0, PAGE);
	fill(shm, 1, 2 * PAGE, PAGE);

	if (fresh) {
		mem = map(4 * PAGE, shared, -1);
		maponly = map(2 * PAGE, shared, -1);
	} else {
		memfd = memfd_create("ckpt-test", MFD_ALLOW_SEALING);
		int other = memfd_create("ckpt-maponly", MFD_CLOEXEC);
		if (memfd < 0 || other < 0 || ftruncate(memfd, 4 * PAGE) != 0 || ftruncate(other, 2 * PAGE) != 0) {
			perror("memfd");
			return 2;
		}
		mem = map(4 * PAGE, MAP_SHARED, memfd);
		maponly = map(2 * PAGE, MAP_SHARED, other);
		close(other);
		if (lseek(memfd, 100, SEEK_SET) != 100 || fcntl(memfd, F_ADD_SEALS, SEALS) != 0) {
			perror("memfd setup");
			return 2;
		}
	}
	fill(mem, 2, 0, 4 * PAGE);
	fill(maponly, 3, 0, 2 * PAGE);

	maps_line(shm, line_shm, sizeof line_shm);
	maps_line(mem, line_mem, sizeof line_mem);
	maps_line(maponly, line_maponly, sizeof line_maponly);
	fd_flags = fcntl(memfd, F_GETFD);
	fl = fcntl(memfd, F_GETFL);
	pos = lseek(memfd, 0, SEEK_CUR);
	seals = fcntl(memfd, F_GET_SEALS);
	target_of(memfd, target, sizeof target);
	printf("ready%s\n", fresh ? " (fresh)" : "");

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	long at;
	if ((at = differs(shm, 1, 0, PAGE)) >= 0 || (at = differs(shm, 1, 2 * PAGE, PAGE)) >= 0)
		FAIL("shm: byte %ld differs", at);
	if ((at = differs(shm, 0, PAGE, PAGE)) >= 0)
		FAIL("shm: untouched page 1 is not zero at byte %ld", at);
	if ((at = differs(mem, 2, 0, 4 * PAGE)) >= 0)
		FAIL("memfd mapping: byte %ld differs", at);
	if ((at = differs(maponly, 3, 0, 2 * PAGE)) >= 0)
		FAIL("maponly mapping: byte %ld differs", at);

	struct {
		const char *name;
		void *addr;
		const char *was;
		const char *path;
	} m[3] = {
		{"shm", shm, line_shm, "/dev/zero (deleted)"},
		{"memfd", mem, line_mem, "/memfd:ckpt-test (deleted)"},
		{"maponly", maponly, line_maponly, "/memfd:ckpt-maponly (deleted)"},
	};
	for (int i = 0; i < 3; i++) {
		char now[512];
		maps_line(m[i].addr, now, sizeof now);
		if (strcmp(now, m[i].was) != 0)
			FAIL("%s maps line (inode left out) is '%s', was '%s'", m[i].name, now, m[i].was);
		size_t l = strlen(now), pl = strlen(m[i].path);
		if (l < pl || strcmp(now + l - pl, m[i].path) != 0 || !strstr(now, "rw-s"))
			FAIL("%s maps line '%s' is not a rw-s mapping of '%s'", m[i].name, now, m[i].path);
	}

	if (memfd < 0 || fcntl(memfd, F_GETFD) < 0) {
		FAIL("memfd fd %d is not open", memfd);
		return 1;
	}
	if (fcntl(memfd, F_GETFD) != fd_flags || fcntl(memfd, F_GETFL) != fl)
		FAIL("memfd fd %d: F_GETFD/F_GETFL %#x/%#o, was %#x/%#o", memfd, fcntl(memfd, F_GETFD),
		     fcntl(memfd, F_GETFL), fd_flags, fl);
	if (lseek(memfd, 0, SEEK_CUR) != pos || pos != 100)
		FAIL("memfd offset %lld, was %lld (want 100)", (long long)lseek(memfd, 0, SEEK_CUR), (long long)pos);
	if (fcntl(memfd, F_GET_SEALS) != seals || seals != SEALS)
		FAIL("memfd seals %#x, was %#x (want %#x)", fcntl(memfd, F_GET_SEALS), seals, SEALS);
	char t[256];
	target_of(memfd, t, sizeof t);
	if (strcmp(t, target) != 0 || strcmp(t, "/memfd:ckpt-test (deleted)") != 0)
		FAIL("memfd fd points to '%s', was '%s'", t, target);
	off_t size = lseek(memfd, 0, SEEK_END);
	lseek(memfd, pos, SEEK_SET);
	if (size != 4 * PAGE)
		FAIL("memfd size %lld, want %d", (long long)size, 4 * PAGE);
	errno = 0;
	if (ftruncate(memfd, PAGE) == 0 || errno != EPERM)
		FAIL("ftruncate of the sealed memfd was not refused with EPERM (%s)", strerror(errno));

	/* One object: fd writes show in the mapping, mapping stores in the fd. */
	char buf[32];
	if (pwrite(memfd, "through-the-fd", 14, 8000) != 14 || memcmp(mem + 8000, "through-the-fd", 14) != 0)
		FAIL("a write through the memfd fd is not seen through its mapping");
	memcpy(mem + 3 * PAGE + 7, "through-the-map", 15);
	if (pread(memfd, buf, 15, 3 * PAGE + 7) != 15 || memcmp(buf, "through-the-map", 15) != 0)
		FAIL("a store to the memfd mapping is not seen through its fd");

	/* Shared with a child: its stores must reach us. */
	pid_t child = fork();
	if (child == 0) {
		memcpy(shm + PAGE, "from-child", 10);
		memcpy(maponly + 10, "from-child", 10);
		_exit(0);
	}
	int status;
	if (child < 0 || waitpid(child, &status, 0) != child || status != 0)
		FAIL("fork/wait of the child failed");
	if (memcmp(shm + PAGE, "from-child", 10) != 0)
		FAIL("shm is not shared with a forked child");
	if (memcmp(maponly + 10, "from-child", 10) != 0)
		FAIL("maponly is not shared with a forked child");

	if (failures)
		return 1;
	printf("PASS shared anonymous memory, memfd mapped+open (seals, offset, one object), "
	       "mapped-only memfd: contents and maps lines as before\n");
	return 0;
}
