/*
 * restart_nanosleep: dumped while inside a relative nanosleep(2) of 2 s.
 *
 * Expected kernel behaviour (kernel/time/hrtimer.c): do_nanosleep() on a
 * pending signal writes the time left to `rem` (nanosleep_copyout) and
 * returns -ERESTART_RESTARTBLOCK. Without the checkpoint,
 * restart_syscall() would sleep the rest (hrtimer_nanosleep_restart) and
 * the caller would never see EINTR. The restart block dies with the
 * process; the restorer's documented choice (x86/SyscallRestart.h, as
 * CRIU) is -1/EINTR, with `rem` already filled in by the kernel, so a
 * caller that loops on EINTR with rem still sleeps 2 s in all.
 * Observed at dump: orig_rax 35 (nanosleep), rax -516.
 *
 * Checked: exactly one EINTR; the rem it left was > 0 and < 2 s; the loop
 * then finished with 0; at least 2 s of CLOCK_MONOTONIC passed in all (it
 * goes on across a restore on the same machine).
 *
 * --fresh: no sleep at all: no EINTR, the check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
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

static double secs(struct timespec t) { return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	int eintr = 0, calls = 0;
	long last = -2; /* result of the last call; -2: never called */
	int err = 0;
	struct timespec first_rem = { -1, 0 };
	double t0 = now(), took = 0;

	dprintf(1, "ready\n");
	if (!fresh) {
		struct timespec req = { 2, 0 }, rem;
		for (;;) {
			/* rem preset to req: an EINTR without rem filled in would
			 * show up as rem == 2 s, not as a zero. */
			rem = req;
			calls++;
			/* The raw syscall 35: glibc's nanosleep() uses
			 * clock_nanosleep (230), tested by restart_clock_nanosleep. */
			last = syscall(SYS_nanosleep, &req, &rem);
			err = errno;
			if (last == 0 || err != EINTR || calls > 10)
				break;
			if (eintr++ == 0)
				first_rem = rem;
			req = rem;
		}
		took = now() - t0;
	}

	char line[64];
	ssize_t n = read(0, line, sizeof line - 1);
	int bad = 0;
	if (last != 0) {
		dprintf(1, "FAIL nanosleep loop ended with %ld errno %d (%s) after %d calls\n", last, err,
			strerror(err), calls);
		bad = 1;
	}
	if (eintr != 1) {
		dprintf(1, "FAIL nanosleep returned EINTR %d times, expected exactly once (at restore)\n", eintr);
		bad = 1;
	} else if (!(secs(first_rem) > 0 && secs(first_rem) < 2.0)) {
		dprintf(1, "FAIL rem after EINTR was %ld.%09ld s, expected > 0 and < 2 s\n", (long)first_rem.tv_sec,
			first_rem.tv_nsec);
		bad = 1;
	}
	if (!fresh && took < 2.0) {
		dprintf(1, "FAIL slept %.3f s in all, less than the 2 s asked\n", took);
		bad = 1;
	}
	if (n != 6 || memcmp(line, "check\n", 6) != 0) {
		dprintf(1, "FAIL expected the line 'check' on stdin (read %zd bytes)\n", n);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS nanosleep: one EINTR with rem %.3f s, %.3f s in all\n", secs(first_rem), took);
	return 0;
}
