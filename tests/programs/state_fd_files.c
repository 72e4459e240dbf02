/*
 * state_fd_files: file descriptors on regular files, a directory and
 * character devices must come back with the same numbers, FD_CLOEXEC,
 * status flags (access mode, O_APPEND, O_NONBLOCK), offsets and targets,
 * and must work like the originals.
 *
 * Setup, in a fresh directory /tmp/ckpt-fdfiles.XXXXXX:
 *   fd 3   "ro"     O_RDONLY, 8 KiB of a byte pattern, read up to offset 1000
 *   fd 4   "app"    O_WRONLY|O_APPEND, "first\n" written (offset 6)
 *   fd 5   the directory itself, O_RDONLY|O_DIRECTORY|O_CLOEXEC
 *   fd 6   /dev/null    O_WRONLY
 *   fd 7   /dev/zero    O_RDONLY|O_NONBLOCK
 *   fd 8   /dev/urandom O_RDONLY
 *   fd 17  "rw"     O_RDWR|O_CLOEXEC (dup3 to 17: a gap in the numbers),
 *                   "0123456789abcdef" written, offset 5
 * Each fd's F_GETFD, F_GETFL, lseek(SEEK_CUR) and /proc/self/fd target are
 * recorded before "ready".
 *
 * Check: the set of open fds is the one before (0-2 and the ones above); each
 * fd's F_GETFD, F_GETFL, offset and target equal the recorded ones (and the
 * flags that were asked for are set); "ro" reads on from offset 1000 with
 * the right bytes; a write to "app" lands at the end of the file; "rw"
 * reads "567" from offset 5 and a write through it reaches the file; the
 * directory fd finds "ro" with openat; /dev/zero gives zeros, /dev/null
 * swallows a write.
 *
 * The original is killed by the dump, so the restored copy (or a --fresh
 * run) removes the directory at exit; the restore needs the files as they
 * were.
 *
 * Protocol: see tests/e2e/state.sh. --fresh opens nothing (it still makes
 * the directory and files, so the path checks have something to look at).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

#define RO_SIZE 8192
#define RO_OFFSET 1000

enum { F_RO, F_APP, F_DIR, F_NULL, F_ZERO, F_URANDOM, F_RW, NFDS };

static struct slot {
	int fd;
	const char *name;
	int fd_flags_want;  /* FD_CLOEXEC or 0 */
	int fl_want;        /* bits of F_GETFL that must be set */
	int accmode;
	/* recorded at setup */
	int fd_flags, fl;
	off_t pos;
	char target[4096];
} slots[NFDS] = {
	[F_RO] = {3, "ro", 0, 0, O_RDONLY},
	[F_APP] = {4, "app", 0, O_APPEND, O_WRONLY},
	[F_DIR] = {5, "dir", FD_CLOEXEC, O_DIRECTORY, O_RDONLY},
	[F_NULL] = {6, "/dev/null", 0, 0, O_WRONLY},
	[F_ZERO] = {7, "/dev/zero", 0, O_NONBLOCK, O_RDONLY},
	[F_URANDOM] = {8, "/dev/urandom", 0, 0, O_RDONLY},
	[F_RW] = {17, "rw", FD_CLOEXEC, 0, O_RDWR},
};

static char dir[64] = "/tmp/ckpt-fdfiles.XXXXXX";
static unsigned long long fds_before;

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + i / 251 + 3); }

static void path_of(char *buf, size_t n, const char *file) { snprintf(buf, n, "%s/%s", dir, file); }

static void write_file(const char *file, const void *data, size_t len)
{
	char p[128];
	path_of(p, sizeof p, file);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(p);
		exit(2);
	}
	close(fd);
}

/* Opens PATH with FLAGS and moves it to fd WANT (dup3 keeps O_CLOEXEC only
 * if asked, so the wanted close-on-exec is passed along). */
static void open_at(int want, const char *path, int flags)
{
	int fd = open(path, flags);
	if (fd < 0) {
		perror(path);
		exit(2);
	}
	if (fd != want) {
		if (dup3(fd, want, flags & O_CLOEXEC) != want) {
			perror("dup3");
			exit(2);
		}
		close(fd);
	}
}

static void target_of(int fd, char *buf, size_t n)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t r = readlink(link, buf, n - 1);
	buf[r < 0 ? 0 : r] = '\0';
}

static void cleanup(void)
{
	static const char *files[] = {"ro", "app", "rw"};
	char p[128];
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		path_of(p, sizeof p, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* The set of fds open now, as a bitmap of 0..63; the fd opendir uses to
 * list them is left out. */
static unsigned long long open_fds(void)
{
	unsigned long long set = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return ~0ULL;
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		set |= fd < 64 ? 1ULL << fd : 1ULL << 63;
	}
	closedir(d);
	return set;
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	atexit(cleanup);

	static unsigned char ro[RO_SIZE];
	for (size_t i = 0; i < RO_SIZE; i++)
		ro[i] = pattern(i);
	write_file("ro", ro, sizeof ro);
	write_file("app", "", 0);
	write_file("rw", "0123456789abcdef", 16);

	if (!fresh) {
		char p[128];
		path_of(p, sizeof p, "ro");
		open_at(3, p, O_RDONLY);
		path_of(p, sizeof p, "app");
		open_at(4, p, O_WRONLY | O_APPEND);
		open_at(5, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		open_at(6, "/dev/null", O_WRONLY);
		open_at(7, "/dev/zero", O_RDONLY | O_NONBLOCK);
		open_at(8, "/dev/urandom", O_RDONLY);
		path_of(p, sizeof p, "rw");
		open_at(17, p, O_RDWR | O_CLOEXEC);

		/* Move the offsets the way a program would: by reading and writing. */
		static unsigned char skip[RO_OFFSET];
		if (read(3, skip, sizeof skip) != RO_OFFSET || write(4, "first\n", 6) != 6 ||
		    lseek(17, 5, SEEK_SET) != 5) {
			perror("setup i/o");
			return 2;
		}
	}
	for (int i = 0; i < NFDS; i++) {
		struct slot *s = &slots[i];
		s->fd_flags = fcntl(s->fd, F_GETFD);
		s->fl = fcntl(s->fd, F_GETFL);
		s->pos = lseek(s->fd, 0, SEEK_CUR);
		target_of(s->fd, s->target, sizeof s->target);
	}
	/* Whatever else the caller gave us besides 0-2 (nothing, under
	 * state.sh) must be there again, and no more. */
	fds_before = open_fds();
	printf("ready%s\n", fresh ? " (fresh)" : "");

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	unsigned long long have_set = open_fds();
	if (have_set != fds_before)
		FAIL("open fds: bitmap %#llx, was %#llx (bit 63: some fd >= 63)", have_set, fds_before);

	for (int i = 0; i < NFDS; i++) {
		struct slot *s = &slots[i];
		int fd_flags = fcntl(s->fd, F_GETFD);
		int fl = fcntl(s->fd, F_GETFL);
		if (fd_flags < 0 || fl < 0) {
			FAIL("fd %d (%s): not open (%s)", s->fd, s->name, strerror(errno));
			continue;
		}
		off_t pos = lseek(s->fd, 0, SEEK_CUR);
		char target[4096];
		target_of(s->fd, target, sizeof target);
		if (fd_flags != s->fd_flags || fd_flags != s->fd_flags_want)
			FAIL("fd %d (%s): F_GETFD %#x, was %#x, want %#x", s->fd, s->name, fd_flags,
			     s->fd_flags, s->fd_flags_want);
		if (fl != s->fl || (fl & s->fl_want) != s->fl_want || (fl & O_ACCMODE) != s->accmode)
			FAIL("fd %d (%s): F_GETFL %#o, was %#o (want bits %#o, access mode %d)", s->fd,
			     s->name, fl, s->fl, s->fl_want, s->accmode);
		if (pos != s->pos)
			FAIL("fd %d (%s): offset %lld, was %lld", s->fd, s->name, (long long)pos,
			     (long long)s->pos);
		if (strcmp(target, s->target) != 0)
			FAIL("fd %d (%s): points to '%s', was '%s'", s->fd, s->name, target, s->target);
	}
	if (failures)
		return 1;

	/* Reading continues where it stopped, with the file's bytes. */
	unsigned char buf[256];
	if (read(3, buf, sizeof buf) != (ssize_t)sizeof buf)
		FAIL("ro: short read at offset %d", RO_OFFSET);
	else
		for (size_t i = 0; i < sizeof buf; i++)
			if (buf[i] != pattern(RO_OFFSET + i)) {
				FAIL("ro: byte %zu is %#x, want %#x", RO_OFFSET + i, buf[i], pattern(RO_OFFSET + i));
				break;
			}

	/* O_APPEND: move the offset away first; the write must still append. */
	char p[128], got[64];
	if (lseek(4, 0, SEEK_SET) != 0 || write(4, "second\n", 7) != 7)
		FAIL("app: write failed (%s)", strerror(errno));
	path_of(p, sizeof p, "app");
	int chk = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = chk < 0 ? -1 : read(chk, got, sizeof got - 1);
	got[n < 0 ? 0 : n] = '\0';
	if (chk >= 0)
		close(chk);
	if (strcmp(got, "first\nsecond\n") != 0)
		FAIL("app: file holds '%s', want 'first\\nsecond\\n' (O_APPEND lost?)", got);

	/* O_RDWR at offset 5: reads "567", and a write reaches the file. */
	if (read(17, got, 3) != 3 || memcmp(got, "567", 3) != 0)
		FAIL("rw: read at offset 5 did not give '567'");
	if (write(17, "XY", 2) != 2 || pread(17, got, 16, 0) != 16 || memcmp(got, "01234567XYabcdef", 16) != 0)
		FAIL("rw: write at offset 8 did not reach the file");

	/* The directory fd is that directory. */
	int via_dir = openat(5, "ro", O_RDONLY | O_CLOEXEC);
	if (via_dir < 0)
		FAIL("dir: openat(fd 5, \"ro\") failed (%s)", strerror(errno));
	else
		close(via_dir);

	memset(buf, 0xff, sizeof buf);
	if (read(7, buf, sizeof buf) != (ssize_t)sizeof buf || buf[0] != 0 || buf[255] != 0)
		FAIL("/dev/zero: did not read zeros");
	if (write(6, "gone", 4) != 4)
		FAIL("/dev/null: write failed");
	if (read(8, buf, 16) != 16)
		FAIL("/dev/urandom: read failed");

	if (failures)
		return 1;
	printf("PASS fds 3-8 and 17 (files, directory, /dev/null, /dev/zero, /dev/urandom): "
	       "flags, offsets, targets and contents as before\n");
	return 0;
}
