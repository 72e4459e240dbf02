/*
 * restart_futex_waitv: dumped while blocked in futex_waitv(2) on one
 * private word nobody wakes, with an absolute CLOCK_MONOTONIC deadline 2 s
 * after the start.
 *
 * Expected kernel behaviour (kernel/futex/waitwake.c, futex_wait_multiple):
 * its timeout is always absolute and it keeps no restart block: on a
 * pending signal it returns -ERESTARTSYS. With no handler the call is
 * re-executed with the same deadline, so it times out at the original
 * deadline (-ETIMEDOUT). The restorer re-executes it too
 * (x86/SyscallRestart.h); CLOCK_MONOTONIC goes on across a restore on the
 * same machine. Observed at dump: orig_rax 449 (futex_waitv), rax -512.
 *
 * Checked: the one call returned -1/ETIMEDOUT, not EINTR, at or after the
 * deadline.
 *
 * --fresh: futex_waitv() is never called: the check fails.
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

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

static uint32_t word; /* stays 0 */

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	long r = -2; /* "never called" */
	int err = 0;
	struct timespec deadline, end;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 2;
	dprintf(1, "ready\n");
	if (!fresh) {
		struct futex_waitv w = {
			.val = 0,
			.uaddr = (uintptr_t)&word,
			.flags = FUTEX_32 | FUTEX_PRIVATE_FLAG,
		};
		r = syscall(SYS_futex_waitv, &w, 1, 0, &deadline, CLOCK_MONOTONIC);
		err = errno;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);

	char line[64];
	ssize_t n = read(0, line, sizeof line - 1);
	int bad = 0;
	long long late_ns = (end.tv_sec - deadline.tv_sec) * 1000000000LL + (end.tv_nsec - deadline.tv_nsec);
	if (r != -1 || err != ETIMEDOUT) {
		dprintf(1, "FAIL futex_waitv returned %ld errno %d (%s), expected -1 ETIMEDOUT%s\n", r, err,
			strerror(err), r == -1 && err == EINTR ? ": not restarted" : "");
		bad = 1;
	} else if (late_ns < 0) {
		dprintf(1, "FAIL futex_waitv timed out %.3f s before its deadline\n", -late_ns / 1e9);
		bad = 1;
	}
	if (n != 6 || memcmp(line, "check\n", 6) != 0) {
		dprintf(1, "FAIL expected the line 'check' on stdin (read %zd bytes)\n", n);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS futex_waitv restarted, ETIMEDOUT %.3f s after the deadline\n", late_ns / 1e9);
	return 0;
}
