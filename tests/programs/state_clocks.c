/*
 * state_clocks: reports the clocks a restored process sees, for
 * tests/e2e/state_clocks.sh (which replaces state.sh for it).
 *
 * It arms a timerfd on CLOCK_MONOTONIC with an absolute deadline 1000 s
 * ahead, prints "ready", then for each line it reads on stdin one line
 *   clocks MONOTONIC_NS BOOTTIME_NS MONO_OFFSET_S BOOT_OFFSET_S SKEW_MS
 * (the offsets of its time namespace, from /proc/self/timens_offsets;
 * SKEW_MS: how far the timerfd's time left is from deadline - now, which
 * is 0 when the deadline kept its place on the process's clock), and
 * exits 0 at EOF. With --now it prints that line once (skew 0) and exits:
 * the script's view of the clocks. With --unshare it first calls
 * unshare(CLONE_NEWTIME): its children would get another namespace than
 * its own, whose offsets /proc cannot show (the dump must refuse).
 */
#include "testprog.h"

#include <sched.h>
#include <sys/timerfd.h>
#include <time.h>

static int tfd = -1;
static long long deadline;

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
	long long skew = 0;
	if (tfd >= 0) {
		struct itimerspec its;
		timerfd_gettime(tfd, &its);
		long long left = its.it_value.tv_sec * 1000000000LL + its.it_value.tv_nsec;
		skew = (left - (deadline - ns(CLOCK_MONOTONIC))) / 1000000;
	}
	printf("clocks %lld %lld %lld %lld %lld\n", ns(CLOCK_MONOTONIC), ns(CLOCK_BOOTTIME), off_mono, off_boot, skew);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "--now") == 0) {
		report();
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--unshare") == 0 && unshare(CLONE_NEWTIME) != 0)
		tp_die("unshare(CLONE_NEWTIME)");
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	deadline = ns(CLOCK_MONOTONIC) + 1000 * 1000000000LL;
	struct itimerspec its = {{0, 0}, {deadline / 1000000000, deadline % 1000000000}};
	if (tfd < 0 || timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		tp_die("timerfd");
	printf("ready\n");
	char line[64];
	while (fgets(line, sizeof line, stdin))
		report();
	return 0;
}
