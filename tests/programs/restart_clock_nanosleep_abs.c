/*
 * restart_clock_nanosleep_abs: dumped while inside clock_nanosleep(2) with
 * TIMER_ABSTIME on CLOCK_MONOTONIC, its deadline 2 s after the start.
 *
 * Expected kernel behaviour (kernel/time/hrtimer.c, hrtimer_nanosleep):
 * "Absolute timers do not update the rmtp value and restart": an
 * interrupted absolute sleep returns -ERESTARTNOHAND, and with no handler
 * the call is simply executed again with the same deadline. The restorer
 * re-executes it too (x86/SyscallRestart.h), so the one call returns 0 at
 * the original deadline, never EINTR. CLOCK_MONOTONIC goes on across a
 * restore on the same machine, so the deadline keeps its meaning.
 * Observed at dump: orig_rax 230 (clock_nanosleep), rax -514.
 *
 * Checked: one call, returning 0, and the clock is at or past the deadline
 * when it returns.
 *
 * --fresh: no sleep: the result stays unset and the clock short of the
 * deadline: the check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	struct timespec deadline, end;
	long r = -2; /* "never called" */
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 2;
	dprintf(1, "ready\n");
	if (!fresh) {
		/* Raw syscall: glibc's wrapper returns the error number instead. */
		r = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
		err = errno;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);

	char line[64];
	ssize_t n = read(0, line, sizeof line - 1);
	int bad = 0;
	if (r != 0) {
		dprintf(1, "FAIL clock_nanosleep(TIMER_ABSTIME) returned %ld errno %d (%s), expected 0: %s\n", r,
			err, strerror(err), r == -1 && err == EINTR ? "not restarted" : "wrong result");
		bad = 1;
	}
	long long late_ns = (end.tv_sec - deadline.tv_sec) * 1000000000LL + (end.tv_nsec - deadline.tv_nsec);
	if (late_ns < 0) {
		dprintf(1, "FAIL returned %.3f s before the deadline\n", -late_ns / 1e9);
		bad = 1;
	}
	if (n != 6 || memcmp(line, "check\n", 6) != 0) {
		dprintf(1, "FAIL expected the line 'check' on stdin (read %zd bytes)\n", n);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS clock_nanosleep(TIMER_ABSTIME) restarted, returned 0 %.3f s after the deadline\n",
		late_ns / 1e9);
	return 0;
}
