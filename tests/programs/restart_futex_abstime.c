/*
 * restart_futex_abstime: dumped while blocked in
 * futex(FUTEX_WAIT_BITSET_PRIVATE) with an ABSOLUTE CLOCK_MONOTONIC
 * deadline 3 s ahead, on a word nobody wakes.
 *
 * Expected kernel behaviour (kernel/futex/waitwake.c, futex_wait): any
 * interrupted wait with a timeout returns -ERESTART_RESTARTBLOCK, and
 * futex_wait_restart() waits on to the deadline (ETIMEDOUT). The restorer
 * restarts FUTEX_WAIT_BITSET from scratch (x86/SyscallRestart.h): its
 * deadline is absolute, so that is exactly what the kernel would have done.
 * Observed at dump: orig_rax 202 (futex), rax -516.
 *
 * Checked: the call returned -1/ETIMEDOUT, not before the deadline.
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

static uint32_t word; /* stays 0 */

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	long r = -2; /* "never called" */
	int err = 0;
	struct timespec deadline, end;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 3;
	dprintf(1, "ready\n");
	if (!fresh) {
		/* FUTEX_WAIT_BITSET takes an absolute time, on CLOCK_MONOTONIC
		 * unless FUTEX_CLOCK_REALTIME is given. */
		r = syscall(SYS_futex, &word, FUTEX_WAIT_BITSET_PRIVATE, 0, &deadline, NULL,
			    FUTEX_BITSET_MATCH_ANY);
		err = errno;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);

	char line[64];
	ssize_t n = read(0, line, sizeof line - 1);
	int bad = 0;
	long long early_ns = (deadline.tv_sec - end.tv_sec) * 1000000000LL + (deadline.tv_nsec - end.tv_nsec);
	if (r != -1 || err != ETIMEDOUT) {
		dprintf(1, "FAIL futex(FUTEX_WAIT_BITSET, absolute) returned %ld errno %d (%s), expected -1 ETIMEDOUT\n",
			r, err, strerror(err));
		bad = 1;
	} else if (early_ns > 0) {
		dprintf(1, "FAIL futex timed out %.3f s before the deadline\n", early_ns / 1e9);
		bad = 1;
	}
	if (n != 6 || memcmp(line, "check\n", 6) != 0) {
		dprintf(1, "FAIL expected the line 'check' on stdin (read %zd bytes)\n", n);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS futex(FUTEX_WAIT_BITSET, absolute) restarted and timed out %.3f s after the deadline\n",
		-early_ns / 1e9);
	return 0;
}
