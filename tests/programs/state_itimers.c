/*
 * state_itimers: the three interval timers must survive a checkpoint with
 * the remaining value and the interval they had at dump time (the time
 * between dump and restore does not count).
 *
 *   ITIMER_REAL     value 30 s, interval 20 s
 *   ITIMER_VIRTUAL  value 40 s, interval 10 s
 *   ITIMER_PROF     value 50 s, interval  5 s
 *
 * The values are long so that no timer fires during the test; SIGALRM,
 * SIGVTALRM and SIGPROF are caught by counting handlers all the same, and a
 * count other than zero is reported.
 *
 * Check: getitimer gives each interval exactly, and a value in
 * [set value - 10 s, set value + 0.1 s] (slack for the run time below; the
 * CPU-time timers barely move, the program sleeps; above: ticks the kernel
 * adds when a CPU-time timer is set).
 *
 * Protocol: see tests/e2e/state.sh. --fresh installs the handlers but
 * arms no timer.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define SLACK_US (10LL * 1000000)
/* The kernel adds one tick to a CPU-time timer's value when it is set (see
 * set_cpu_itimer), so getitimer right away gives 40.004 s for 40 s at
 * HZ=250; a restore that sets it again adds another. Allow a few. */
#define OVER_US (100LL * 1000)

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

static volatile sig_atomic_t fired[3];

static const struct {
	int which;
	const char *name;
	int sig;
	long value_s, interval_s;
} timers[3] = {
	{ITIMER_REAL, "ITIMER_REAL", SIGALRM, 30, 20},
	{ITIMER_VIRTUAL, "ITIMER_VIRTUAL", SIGVTALRM, 40, 10},
	{ITIMER_PROF, "ITIMER_PROF", SIGPROF, 50, 5},
};

static void count(int sig)
{
	for (int i = 0; i < 3; i++)
		if (timers[i].sig == sig)
			fired[i]++;
}

static long long us(struct timeval tv) { return tv.tv_sec * 1000000LL + tv.tv_usec; }

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < 3; i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = count;
		sa.sa_flags = SA_RESTART;
		if (sigaction(timers[i].sig, &sa, NULL) != 0) {
			perror("sigaction");
			return 2;
		}
	}
	if (!fresh)
		for (int i = 0; i < 3; i++) {
			struct itimerval it = {{timers[i].interval_s, 0}, {timers[i].value_s, 0}};
			if (setitimer(timers[i].which, &it, NULL) != 0) {
				perror("setitimer");
				return 2;
			}
		}
	printf("ready%s\n", fresh ? " (fresh)" : "");

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	for (int i = 0; i < 3; i++) {
		struct itimerval it;
		const char *n = timers[i].name;
		long long set = timers[i].value_s * 1000000LL;
		if (getitimer(timers[i].which, &it) != 0) {
			FAIL("%s: getitimer failed", n);
			continue;
		}
		if (us(it.it_interval) != timers[i].interval_s * 1000000LL)
			FAIL("%s interval: got %ld.%06ld s want %ld s", n, (long)it.it_interval.tv_sec,
			     (long)it.it_interval.tv_usec, timers[i].interval_s);
		if (us(it.it_value) <= 0 || us(it.it_value) > set + OVER_US || us(it.it_value) < set - SLACK_US)
			FAIL("%s value: got %ld.%06ld s want in [%lld, %ld.1] s", n,
			     (long)it.it_value.tv_sec, (long)it.it_value.tv_usec,
			     (set - SLACK_US) / 1000000, timers[i].value_s);
		if (fired[i])
			FAIL("%s fired %d times during the test, want 0", n, (int)fired[i]);
	}
	if (failures)
		return 1;
	printf("PASS itimers: REAL 30/20, VIRTUAL 40/10, PROF 50/5 s, within 10 s\n");
	return 0;
}
