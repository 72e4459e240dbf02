/*
 * thread_cpu_timer: holds a POSIX timer on its own thread's CPU clock
 * (CLOCK_THREAD_CPUTIME_ID), which restore cannot give back (the kernel
 * does not say which thread's clock it is): `ckpt dump` must refuse it.
 * Prints "ready", then waits for EOF on stdin and exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <time.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	timer_t t;
	struct sigevent ev = {.sigev_notify = SIGEV_NONE};
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &t) != 0) {
		perror("timer_create");
		return 2;
	}
	printf("ready timer %ld\n", (long)t);
	char line[64];
	while (fgets(line, sizeof line, stdin))
		;
	return 0;
}
