/*
 * many_timers N: holds N POSIX timers (SIGEV_NONE, disarmed), more than an
 * image may carry when N > 65536: `ckpt dump` must refuse, naming the
 * count. Prints "ready N", then waits for EOF on stdin and exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	long n = argc > 1 ? atol(argv[1]) : 1;
	struct sigevent ev = {.sigev_notify = SIGEV_NONE};
	for (long i = 0; i < n; i++) {
		timer_t t;
		if (timer_create(CLOCK_MONOTONIC, &ev, &t) != 0) {
			perror("timer_create");
			return 2;
		}
	}
	printf("ready %ld\n", n);
	char line[64];
	while (fgets(line, sizeof line, stdin))
		;
	return 0;
}
