/*
 * state_timerfd: timerfds must come back with their period, time left,
 * absolute flags and unread expirations.
 *
 * Setup:
 *   periodic  CLOCK_MONOTONIC, relative, first expiry after 1 ns, then
 *             every 1000 s: it has fired once (waited for with poll) and
 *             is not read, so it holds 1 tick and its next expiry is
 *             999.99... s away
 *   behind    CLOCK_REALTIME, TFD_TIMER_ABSTIME, first expiry 2500 s in
 *             the past, then every 1000 s: armed in the past, it has
 *             missed 3 periods (at -2500, -1500, -500 s), which a read
 *             reports as 3 ticks; its next expiry is at +500 s
 *   alarm     CLOCK_REALTIME, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
 *             one-shot at +1000 s (absolute time T)
 *   fired     CLOCK_BOOTTIME, one-shot after 1 ns: fired, not read (1 tick),
 *             now disarmed
 * None is read or queried before the dump (so the dump sees `behind` as
 * the kernel keeps it: expired, not yet moved onto its next period).
 *
 * Check: fdinfo "clockid:" and "settime flags:" as before (0, 01, 03, 0);
 * timerfd_gettime: periodic every 1000 s with time left in (0, 1000 s];
 * behind every 1000 s with time left in (0, 500 s]; alarm one-shot with
 * now + time left = T within 1 s (absolute: the time spent between dump
 * and restore does not move it); fired disarmed. Then reads: periodic 1,
 * behind 3, fired 1 (alarm: EAGAIN, it has not fired).
 *
 * Protocol: see tests/e2e/state.sh. --fresh sets nothing up.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET (1 << 1)
#endif

enum { PERIODIC, BEHIND, ALARM, FIRED, N };
static const char *names[N] = {"periodic", "behind", "alarm", "fired"};
static int fds[N] = {-1, -1, -1, -1};
static char info[N][256];
static long long alarm_at;  /* T, in ns of CLOCK_REALTIME */

static long long now_ns(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static struct timespec ts(long long ns) { return (struct timespec){ns / 1000000000LL, ns % 1000000000LL}; }

static int make(clockid_t clock, int flags, long long value_ns, long long interval_ns)
{
	int fd = timerfd_create(clock, TFD_NONBLOCK);
	struct itimerspec its = {ts(interval_ns), ts(value_ns)};
	if (fd < 0 || timerfd_settime(fd, flags, &its, NULL) != 0)
		tp_die("timerfd");
	return fd;
}

/* fdinfo's clockid and settime flags lines (not ticks or it_value: reading
 * them does not change the timer, but they move with time). */
static void settings(int fd, char *out, size_t size)
{
	char path[64], buf[128];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	out[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(buf, sizeof buf, f))
		if ((!strncmp(buf, "clockid:", 8) || !strncmp(buf, "settime flags:", 14)) && strlen(out) + strlen(buf) < size)
			strcat(out, buf);
	fclose(f);
}

static void setup(void)
{
	const long long s = 1000000000LL;
	fds[PERIODIC] = make(CLOCK_MONOTONIC, 0, 1, 1000 * s);
	fds[BEHIND] = make(CLOCK_REALTIME, TFD_TIMER_ABSTIME, now_ns(CLOCK_REALTIME) - 2500 * s, 1000 * s);
	alarm_at = now_ns(CLOCK_REALTIME) + 1000 * s;
	fds[ALARM] = make(CLOCK_REALTIME, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, alarm_at, 0);
	fds[FIRED] = make(CLOCK_BOOTTIME, 0, 1, 0);
	/* Wait (no timeout: no speed assumed) until the three have fired. */
	int due[] = {PERIODIC, BEHIND, FIRED};
	for (int i = 0; i < 3; i++) {
		struct pollfd p = {.fd = fds[due[i]], .events = POLLIN};
		while (poll(&p, 1, -1) != 1)
			;
	}
	for (int i = 0; i < N; i++)
		settings(fds[i], info[i], sizeof info[i]);
}

static void expect_time(int i, long long interval_ns, long long min_left, long long max_left)
{
	struct itimerspec its;
	if (fds[i] < 0 || timerfd_gettime(fds[i], &its) != 0) {
		FAIL("%s: timerfd_gettime: %s", names[i], strerror(errno));
		return;
	}
	long long iv = its.it_interval.tv_sec * 1000000000LL + its.it_interval.tv_nsec;
	long long left = its.it_value.tv_sec * 1000000000LL + its.it_value.tv_nsec;
	if (iv != interval_ns)
		FAIL("%s: interval %lld ns, want %lld", names[i], iv, interval_ns);
	if (left < min_left || left > max_left)
		FAIL("%s: time left %lld ns, want in [%lld, %lld]", names[i], left, min_left, max_left);
}

static void expect_ticks(int i, long long want)
{
	uint64_t v = 0;
	errno = 0;
	ssize_t r = fds[i] < 0 ? -1 : read(fds[i], &v, 8);
	if (want ? (r != 8 || (long long)v != want) : (r != -1 || errno != EAGAIN))
		FAIL("%s: read gave %lld ticks (%s), want %lld", names[i], r == 8 ? (long long)v : -1LL,
		     r == 8 ? "ok" : strerror(errno), want);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh)
		setup();
	tp_ready(fresh);
	tp_wait_check();

	const long long s = 1000000000LL;
	for (int i = 0; i < N; i++) {
		char now[256];
		settings(fds[i], now, sizeof now);
		if (fds[i] < 0 || strcmp(now, info[i]) != 0)
			FAIL("%s: fdinfo was\n%snow\n%s", names[i], info[i], now);
	}
	expect_time(PERIODIC, 1000 * s, 1, 1000 * s);
	expect_time(BEHIND, 1000 * s, 1, 500 * s);
	expect_time(FIRED, 0, 0, 0);
	struct itimerspec its;
	if (fds[ALARM] < 0 || timerfd_gettime(fds[ALARM], &its) != 0) {
		FAIL("alarm: timerfd_gettime: %s", strerror(errno));
	} else {
		long long at = now_ns(CLOCK_REALTIME) + its.it_value.tv_sec * s + its.it_value.tv_nsec;
		if (its.it_interval.tv_sec || its.it_interval.tv_nsec || at < alarm_at - s || at > alarm_at + s)
			FAIL("alarm: expires at %lld ns, want the absolute %lld (one-shot)", at, alarm_at);
	}
	expect_ticks(PERIODIC, 1);
	expect_ticks(BEHIND, 3);
	expect_ticks(FIRED, 1);
	expect_ticks(ALARM, 0);
	return tp_finish("timerfds: periods, time left, absolute expiry, cancel-on-set and unread ticks (1, 3, 1)");
}
