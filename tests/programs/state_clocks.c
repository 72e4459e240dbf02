/*
 * state_clocks: reports the clocks a restored process sees, for
 * tests/e2e/state_clocks.sh (which replaces state.sh for it).
 *
 * It prints "ready", then for each line it reads on stdin one line
 *   clocks MONOTONIC_NS BOOTTIME_NS MONO_OFFSET_S BOOT_OFFSET_S
 * (the offsets of its time namespace, from /proc/self/timens_offsets),
 * and exits 0 at EOF. With --now it prints that line once and exits: the
 * script's view of the clocks.
 */
#include "testprog.h"

#include <time.h>

static long long ns(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void report(void)
{
	long long off_mono = 0, off_boot = 0, sec;
	char name[32], line[128];
	FILE *f = fopen("/proc/self/timens_offsets", "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "%31s %lld", name, &sec) == 2) {
			if (strcmp(name, "monotonic") == 0)
				off_mono = sec;
			else if (strcmp(name, "boottime") == 0)
				off_boot = sec;
		}
	if (f)
		fclose(f);
	printf("clocks %lld %lld %lld %lld\n", ns(CLOCK_MONOTONIC), ns(CLOCK_BOOTTIME), off_mono, off_boot);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "--now") == 0) {
		report();
		return 0;
	}
	printf("ready\n");
	char line[64];
	while (fgets(line, sizeof line, stdin))
		report();
	return 0;
}
