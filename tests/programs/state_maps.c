/*
 * state_maps: prints its own /proc/self/maps before the dump and again after
 * the restore, for tests/e2e/state_maps.sh to compare line for line (no
 * page of the restorer left, nothing staged left over, [heap] and [stack]
 * labelled as before).
 *
 * Protocol (its own, see state_maps.sh):
 *   - prints "ready", its maps, and a line "end";
 *   - on the first line from stdin, prints its maps and "end" again;
 *   - then waits for EOF on stdin, so that the test can look at the
 *     restored process (its fds, its /proc/PID/status), and exits 0.
 * With --fresh it prints "end" at once in place of the second maps, so a
 * comparison of its output must fail (state_maps.sh uses this to prove the
 * comparison can fail).
 *
 * Nothing between the two prints may change the maps: no malloc, no stdio
 * (its buffers are malloc'd), only read(2) and write(2) on static buffers.
 * A little heap is made at start (sbrk) so that a [heap] line exists, and
 * SIGUSR2 is blocked so that the blocked mask the test compares is not just
 * the empty one restore could leave by accident.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static char maps[256 * 1024];

static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(2);
		p += w;
		n -= (size_t)w;
	}
}

static void say(const char *s)
{
	write_all(s, strlen(s));
}

/* Reads the whole file first, then writes it: writing to a pipe or file
 * while reading maps would not change them, but one read-out is one
 * consistent view. */
static void print_maps(void)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		_exit(2);
	size_t len = 0;
	ssize_t r;
	while (len < sizeof maps && (r = read(fd, maps + len, sizeof maps - len)) > 0)
		len += (size_t)r;
	close(fd);
	write_all(maps, len);
}

/* Returns 0 after a line, -1 at EOF. */
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

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;

	char *heap = sbrk(64 * 1024);
	if (heap == (void *)-1)
		return 2;
	memset(heap, 0x5a, 64 * 1024);

	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	sigprocmask(SIG_BLOCK, &usr2, NULL);

	say("ready\n");
	print_maps();
	say("end\n");
	if (wait_line() < 0)
		return 2;
	if (!fresh)
		print_maps();
	say("end\n");
	while (wait_line() == 0)
		;
	return 0;
}
