/*
 * state_fd_deleted: a file deleted while open must come back as an open,
 * unlinked file with the same contents, size, offset and flags; the image
 * carries the contents, since no path leads to them any more.
 *
 * Setup: /tmp/ckpt-fddel.XXXXXX/data is written with 20000 bytes (five
 * pages and a bit, so more than one page of contents must be saved), opened
 * O_RDWR, read up to offset 12345, and unlinked; F_GETFD, F_GETFL, the
 * offset and the /proc/self/fd target ("... (deleted)") are recorded.
 *
 * Check: the fd is open with the same F_GETFD, F_GETFL and offset; its
 * target still ends in " (deleted)" (the path before it may differ: the
 * restorer may have made the file elsewhere; a difference is only noted);
 * fstat says a regular file with no links and size 20000; the bytes from
 * the offset on and the whole file (pread) are the original's; a write
 * through it reads back.
 *
 * Protocol: see tests/e2e/state.sh. --fresh deletes the file without
 * opening it first, so there is nothing to check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

#define SIZE 20000
#define OFFSET 12345
#define SUFFIX " (deleted)"

static char dir[64] = "/tmp/ckpt-fddel.XXXXXX";
static int fd = -1;
static int fd_flags, fl;
static off_t pos;
static char target[4096];

static unsigned char pattern(size_t i) { return (unsigned char)(i * 13 + i / 509 + 1); }

static void cleanup(void) { rmdir(dir); }

static void target_of(int n, char *buf, size_t size)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", n);
	ssize_t r = readlink(link, buf, size - 1);
	buf[r < 0 ? 0 : r] = '\0';
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
	char path[128];
	snprintf(path, sizeof path, "%s/data", dir);

	static unsigned char data[SIZE];
	for (size_t i = 0; i < SIZE; i++)
		data[i] = pattern(i);
	int w = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w < 0 || write(w, data, SIZE) != SIZE) {
		perror(path);
		return 2;
	}
	close(w);

	if (!fresh) {
		fd = open(path, O_RDWR);
		static unsigned char skip[OFFSET];
		if (fd < 0 || read(fd, skip, OFFSET) != OFFSET) {
			perror(path);
			return 2;
		}
	}
	unlink(path);
	fd_flags = fcntl(fd, F_GETFD);
	fl = fcntl(fd, F_GETFL);
	pos = lseek(fd, 0, SEEK_CUR);
	target_of(fd, target, sizeof target);
	printf("ready%s\n", fresh ? " (fresh)" : "");

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		FAIL("the deleted file's fd %d is not open", fd);
		return 1;
	}
	if (fcntl(fd, F_GETFD) != fd_flags)
		FAIL("F_GETFD %#x, was %#x", fcntl(fd, F_GETFD), fd_flags);
	if (fcntl(fd, F_GETFL) != fl)
		FAIL("F_GETFL %#o, was %#o", fcntl(fd, F_GETFL), fl);
	off_t now = lseek(fd, 0, SEEK_CUR);
	if (now != pos || now != OFFSET)
		FAIL("offset %lld, was %lld (want %d)", (long long)now, (long long)pos, OFFSET);

	char t[4096];
	target_of(fd, t, sizeof t);
	size_t tl = strlen(t), sl = strlen(SUFFIX);
	if (tl < sl || strcmp(t + tl - sl, SUFFIX) != 0)
		FAIL("fd %d points to '%s', want a name ending in '%s' (was '%s')", fd, t, SUFFIX, target);
	else if (strcmp(t, target) != 0)
		printf("note: fd %d now points to '%s', was '%s'\n", fd, t, target);

	struct stat st;
	if (fstat(fd, &st) != 0)
		FAIL("fstat: %s", strerror(errno));
	else {
		if (!S_ISREG(st.st_mode))
			FAIL("not a regular file (mode %#o)", st.st_mode);
		if (st.st_nlink != 0)
			FAIL("st_nlink %lu, want 0 (the file must stay unlinked)", (unsigned long)st.st_nlink);
		if (st.st_size != SIZE)
			FAIL("size %lld, want %d", (long long)st.st_size, SIZE);
	}

	static unsigned char buf[SIZE];
	ssize_t n = read(fd, buf, SIZE);
	if (n != SIZE - OFFSET)
		FAIL("read from the offset gave %zd bytes, want %d", n, SIZE - OFFSET);
	else if (memcmp(buf, data + OFFSET, SIZE - OFFSET) != 0)
		FAIL("bytes from offset %d differ from the original's", OFFSET);
	if (pread(fd, buf, SIZE, 0) != SIZE || memcmp(buf, data, SIZE) != 0)
		FAIL("the whole contents (pread from 0) differ from the original's");
	if (pwrite(fd, "written", 7, 100) != 7 || pread(fd, buf, 7, 100) != 7 || memcmp(buf, "written", 7) != 0)
		FAIL("a write through the fd does not read back");

	if (failures)
		return 1;
	printf("PASS deleted file: fd %d unlinked, %d bytes, offset %d, flags as before\n", fd, SIZE, OFFSET);
	return 0;
}
