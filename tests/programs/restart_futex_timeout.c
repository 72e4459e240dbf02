/*
 * restart_futex_timeout: dumped while blocked in futex(FUTEX_WAIT_PRIVATE)
 * with a relative timeout of 3 s on a word nobody wakes.
 *
 * Expected kernel behaviour (kernel/futex/waitwake.c, futex_wait): a wait
 * with a timeout (the relative one is made absolute on entry) that a signal
 * interrupts stores the deadline in the restart block (futex_wait_restart)
 * and returns -ERESTART_RESTARTBLOCK. Without the checkpoint,
 * restart_syscall() would wait on to the same deadline and return
 * ETIMEDOUT. The restart block is lost with the process; the restorer's
 * documented choice (x86/SyscallRestart.h, as CRIU) is -1/EINTR, which
 * futex(2) documents for FUTEX_WAIT. Observed at dump: orig_rax 202
 * (futex), rax -516.
 *
 * Checked: the call returned -1/EINTR before its 3 s were up.
 *
 * --fresh: futex() is never called: the check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
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

static uint32_t word; /* stays 0: only a signal or the timeout ends the wait */

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	long r = -2; /* "never called" */
	int err = 0;
	double took = 0;

	dprintf(1, "ready\n");
	if (!fresh) {
		struct timespec rel = { 3, 0 };
		double t0 = now();
		r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0);
		err = errno;
		took = now() - t0;
	}

	char line[64];
	ssize_t n = read(0, line, sizeof line - 1);
	int bad = 0;
	if (r != -1 || err != EINTR) {
		dprintf(1, "FAIL futex(FUTEX_WAIT, 3 s) returned %ld errno %d (%s), expected -1 EINTR\n", r, err,
			strerror(err));
		bad = 1;
	} else if (took >= 3.0) {
		dprintf(1, "FAIL futex returned EINTR only after %.3f s: it waited its timeout out\n", took);
		bad = 1;
	}
	if (n != 6 || memcmp(line, "check\n", 6) != 0) {
		dprintf(1, "FAIL expected the line 'check' on stdin (read %zd bytes)\n", n);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS futex(FUTEX_WAIT, 3 s) returned EINTR after %.3f s\n", took);
	return 0;
}
