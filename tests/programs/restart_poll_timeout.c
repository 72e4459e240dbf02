/*
 * restart_poll_timeout: dumped while blocked in poll(2) on stdin with a
 * 5 s timeout, nothing to read yet.
 *
 * Expected kernel behaviour (fs/select.c): the interrupted poll() returns
 * -ERESTART_RESTARTBLOCK; the restart block holds the absolute end time.
 * Without the checkpoint, restart_syscall() would run do_restart_poll()
 * and wait out the rest of the 5 s. That block is kernel state lost with
 * the process, so the restorer's documented choice (x86/SyscallRestart.h,
 * as CRIU) is to make the call return -1/EINTR; a caller that handles EINTR
 * polls again. Observed at dump: orig_rax 7 (poll), rax -516.
 *
 * Checked: the first poll() returned -1/EINTR, before its 5 s were up
 * (CLOCK_MONOTONIC goes on across a restore on the same machine); then the
 * line "check" is read.
 *
 * --fresh: poll() is never called: the check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	struct pollfd p = { .fd = 0, .events = POLLIN };
	long r = -2; /* "never called" */
	int err = 0;
	double took = 0;

	dprintf(1, "ready\n");
	if (!fresh) {
		double t0 = now();
		r = syscall(SYS_poll, &p, 1, 5000);
		err = errno;
		took = now() - t0;
	}

	char line[64];
	ssize_t n = read(0, line, sizeof line - 1);
	int bad = 0;
	if (r != -1 || err != EINTR) {
		dprintf(1, "FAIL poll(5 s) returned %ld errno %d (%s) revents %#x, expected -1 EINTR\n", r, err,
			strerror(err), p.revents);
		bad = 1;
	} else if (took >= 5.0) {
		dprintf(1, "FAIL poll(5 s) returned EINTR only after %.3f s: it waited its timeout out\n", took);
		bad = 1;
	}
	if (n != 6 || memcmp(line, "check\n", 6) != 0) {
		dprintf(1, "FAIL expected the line 'check' on stdin (read %zd bytes)\n", n);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS poll(5 s) returned EINTR after %.3f s\n", took);
	return 0;
}
