/*
 * state_fd_pipe: a pipe with both ends in the process must come back as one
 * pipe, with its unread data in order, its size and each end's flags.
 *
 * Setup: pipe2 (fds 3 and 4), the read end made O_NONBLOCK with F_SETFL,
 * the write end FD_CLOEXEC, F_SETPIPE_SZ 128 KiB, then three writes nobody
 * reads: 100 bytes, 5000 bytes (so more than one page is in the pipe,
 * spread over several pipe buffers) and 37 bytes. F_GETFD, F_GETFL and the
 * targets ("pipe:[N]") are recorded.
 *
 * Check: both fds open with the same F_GETFD and F_GETFL; both ends are
 * the same pipe (same inode); F_GETPIPE_SZ is 128 KiB on both; FIONREAD
 * says 5137 bytes; reading gives exactly the three writes in order, then
 * EAGAIN (not EOF: the write end is open, and O_NONBLOCK is kept); a new
 * write through fd 4 comes out of fd 3, and 100 KiB fit in without
 * blocking (the size is real, not just reported).
 *
 * Protocol: see tests/e2e/state.sh. --fresh makes no pipe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

#define PIPE_SIZE (128 * 1024)
static const size_t lens[3] = {100, 5000, 37};
#define TOTAL (100 + 5000 + 37)

static int ends[2] = {-1, -1};
static int fd_flags[2], fl[2];
static unsigned char sent[TOTAL];

static unsigned char pattern(size_t i) { return (unsigned char)('A' + (i * 31 + i / 97) % 53); }

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < TOTAL; i++)
		sent[i] = pattern(i);

	if (!fresh) {
		if (pipe2(ends, 0) != 0 || fcntl(ends[0], F_SETFL, O_NONBLOCK) != 0 ||
		    fcntl(ends[1], F_SETFD, FD_CLOEXEC) != 0 || fcntl(ends[0], F_SETPIPE_SZ, PIPE_SIZE) < 0) {
			perror("pipe setup");
			return 2;
		}
		size_t off = 0;
		for (int i = 0; i < 3; i++) {
			if (write(ends[1], sent + off, lens[i]) != (ssize_t)lens[i]) {
				perror("write");
				return 2;
			}
			off += lens[i];
		}
	}
	for (int i = 0; i < 2; i++) {
		fd_flags[i] = fcntl(ends[i], F_GETFD);
		fl[i] = fcntl(ends[i], F_GETFL);
	}
	printf("ready%s\n", fresh ? " (fresh)" : "");

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	const char *names[2] = {"read end", "write end"};
	for (int i = 0; i < 2; i++) {
		if (ends[i] < 0 || fcntl(ends[i], F_GETFD) < 0) {
			FAIL("%s fd %d is not open", names[i], ends[i]);
			continue;
		}
		if (fcntl(ends[i], F_GETFD) != fd_flags[i])
			FAIL("%s fd %d: F_GETFD %#x, was %#x", names[i], ends[i], fcntl(ends[i], F_GETFD), fd_flags[i]);
		if (fcntl(ends[i], F_GETFL) != fl[i])
			FAIL("%s fd %d: F_GETFL %#o, was %#o", names[i], ends[i], fcntl(ends[i], F_GETFL), fl[i]);
		int size = fcntl(ends[i], F_GETPIPE_SZ);
		if (size != PIPE_SIZE)
			FAIL("%s fd %d: F_GETPIPE_SZ %d, want %d", names[i], ends[i], size, PIPE_SIZE);
	}
	if (failures)
		return 1;

	struct stat a, b;
	if (fstat(ends[0], &a) != 0 || fstat(ends[1], &b) != 0 || !S_ISFIFO(a.st_mode) ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		FAIL("fds %d and %d are not the two ends of one pipe", ends[0], ends[1]);
	if (!(fl[0] & O_NONBLOCK) || (fl[0] & O_ACCMODE) != O_RDONLY || (fl[1] & O_ACCMODE) != O_WRONLY)
		FAIL("recorded flags %#o/%#o are not O_RDONLY|O_NONBLOCK / O_WRONLY", fl[0], fl[1]);

	int queued = -1;
	if (ioctl(ends[0], FIONREAD, &queued) != 0 || queued != TOTAL)
		FAIL("FIONREAD %d, want %d unread bytes", queued, TOTAL);

	static unsigned char got[TOTAL + 16];
	size_t have = 0;
	for (;;) {
		ssize_t r = read(ends[0], got + have, sizeof got - have);
		if (r > 0) {
			have += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EAGAIN)
			break;
		FAIL("read on the pipe gave %zd (%s) after %zu bytes, want EAGAIN at the end", r,
		     r < 0 ? strerror(errno) : "EOF", have);
		break;
	}
	if (have != TOTAL)
		FAIL("read back %zu bytes, want %d", have, TOTAL);
	else if (memcmp(got, sent, TOTAL) != 0) {
		size_t i = 0;
		while (got[i] == sent[i])
			i++;
		FAIL("unread data differs from byte %zu on", i);
	}

	/* Still one working pipe, of the full size: 100 KiB go in without
	 * blocking (the write end is blocking, so a smaller pipe would hang
	 * here; the test's timeout would tell) and come out of the read end. */
	static unsigned char big[100 * 1024];
	memset(big, 'p', sizeof big);
	if (write(ends[1], "ping", 4) != 4 || read(ends[0], got, 16) != 4 || memcmp(got, "ping", 4) != 0)
		FAIL("a write through fd %d did not come out of fd %d", ends[1], ends[0]);
	int saved = fcntl(ends[1], F_GETFL);
	fcntl(ends[1], F_SETFL, saved | O_NONBLOCK);
	ssize_t w = write(ends[1], big, sizeof big);
	fcntl(ends[1], F_SETFL, saved);
	if (w != (ssize_t)sizeof big)
		FAIL("100 KiB did not fit in the pipe (wrote %zd): its size is not 128 KiB", w);

	if (failures)
		return 1;
	printf("PASS pipe fds %d/%d: %d unread bytes in order, size %d, flags as before, still one pipe\n",
	       ends[0], ends[1], TOTAL, PIPE_SIZE);
	return 0;
}
