/*
 * sleeper: prints "tick N" for N = 1..COUNT with 50 ms between ticks, then
 * exits 0.   usage: sleeper [COUNT]   (default 40)
 *
 * It spends nearly all its time inside nanosleep(2), so a dump almost always
 * catches it mid-sleep: after restore the ticks must go on with no number
 * missing and none repeated.  An interrupted sleep is finished with the time
 * the kernel reported as remaining, never skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long count = argc > 1 ? strtol(argv[1], NULL, 10) : 40;
	if (count <= 0) {
		static const char usage[] = "usage: sleeper [COUNT>0]\n";
		if (write(2, usage, sizeof usage - 1) < 0)
			return 2;
		return 2;
	}

	for (long i = 1; i <= count; i++) {
		char out[32];
		int n = snprintf(out, sizeof out, "tick %ld\n", i);
		if (write(1, out, (size_t)n) != n)
			return 1;
		if (i == count)
			break;

		struct timespec req = { 0, 50 * 1000 * 1000 };
		/* rem starts as req: if a restored nanosleep returns EINTR without
		 * the kernel filling rem in, the tick waits a full period again
		 * rather than not at all. */
		struct timespec rem = req;
		while (nanosleep(&req, &rem) < 0 && errno == EINTR)
			req = rem;
	}
	return 0;
}
