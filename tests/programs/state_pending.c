/*
 * state_pending: pending signals must survive a checkpoint, each in its
 * queue (thread or process-wide) with its siginfo, RT signals with their
 * queue count, order and si_value.
 *
 * Setup blocks SIGUSR1, SIGUSR2, SIGRTMIN+1, SIGRTMIN+3 and makes pending:
 *   SIGUSR1     process-wide, kill(getpid())          si_code SI_USER
 *   SIGUSR2     for this thread, tgkill(pid, tid)      si_code SI_TKILL
 *   SIGRTMIN+1  process-wide, sigqueue twice, values 7 then 8   SI_QUEUE
 *   SIGRTMIN+3  process-wide, sigqueue once, value 9            SI_QUEUE
 * Every one is sent by this process, so si_pid is the pid at setup time
 * (restore gives us another pid; the siginfo must still name the sender)
 * and si_uid our uid.
 *
 * Check: /proc/self/status SigPnd (thread) and ShdPnd (shared) are as
 * above; sigtimedwait with a zero timeout takes each signal back with the
 * right siginfo, the RT ones in order and no more often than queued; then
 * nothing is pending.
 *
 * Protocol: see tests/e2e/state.sh. --fresh blocks the signals but sends
 * none, so nothing is pending.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

static uint64_t bit(int sig) { return 1ULL << (sig - 1); }

static const char *signame(int sig)
{
	static char buf[32];
	const char *abbrev = sig < 32 ? sigabbrev_np(sig) : NULL;
	if (abbrev)
		snprintf(buf, sizeof buf, "SIG%s", abbrev);
	else if (sig >= SIGRTMIN)
		snprintf(buf, sizeof buf, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, sizeof buf, "signal %d", sig);
	return buf;
}

static const char *codename(int code)
{
	static char buf[16];
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_TKILL: return "SI_TKILL";
	case SI_QUEUE: return "SI_QUEUE";
	}
	snprintf(buf, sizeof buf, "%d", code);
	return buf;
}

static pid_t setup_pid;

/* The hex value of a "Name:" line of /proc/self/status, ~0 if missing. */
static uint64_t status_field(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long v = ~0ULL;
	size_t n = strlen(name);
	if (!f)
		return v;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			sscanf(line + n + 1, "%llx", &v);
			break;
		}
	fclose(f);
	return v;
}

static void compare_set(const char *what, uint64_t got, uint64_t want)
{
	if (got == want)
		return;
	FAIL("%s: got 0x%016llx want 0x%016llx", what, (unsigned long long)got,
	     (unsigned long long)want);
	for (int sig = 1; sig <= 64; sig++)
		if ((got ^ want) & bit(sig))
			FAIL("%s %s: %s, want %s", what, signame(sig),
			     got & bit(sig) ? "pending" : "not pending",
			     want & bit(sig) ? "pending" : "not pending");
}

/* The raw syscall: glibc's sigtimedwait folds SI_TKILL into SI_USER, and
 * telling them apart is part of the check. */
static int timed_wait(const sigset_t *set, siginfo_t *si, const struct timespec *t)
{
	return (int)syscall(SYS_rt_sigtimedwait, set, si, t, 8);
}

/* Takes sig back with a zero timeout and checks its siginfo; value < 0
 * means not SI_QUEUE. Returns 0 if it was not pending. */
static int take(int sig, int code, int value, const char *nth)
{
	sigset_t set;
	siginfo_t si;
	struct timespec zero = {0, 0};
	const char *n = signame(sig);
	sigemptyset(&set);
	sigaddset(&set, sig);
	memset(&si, 0, sizeof si);
	int r = timed_wait(&set, &si, &zero);
	if (r != sig) {
		FAIL("pending %s%s: not pending (sigtimedwait %d, %s)", n, nth, r, strerror(errno));
		return 0;
	}
	if (si.si_code != code)
		FAIL("pending %s%s si_code: got %s want %s", n, nth, codename(si.si_code),
		     codename(code));
	if (si.si_pid != setup_pid)
		FAIL("pending %s%s si_pid: got %d want %d (the sender at setup)", n, nth,
		     (int)si.si_pid, (int)setup_pid);
	if (si.si_uid != getuid())
		FAIL("pending %s%s si_uid: got %d want %d", n, nth, (int)si.si_uid, (int)getuid());
	if (value >= 0 && si.si_value.sival_int != value)
		FAIL("pending %s%s si_value: got %d want %d", n, nth, si.si_value.sival_int, value);
	return 1;
}

static void none_left(int sig)
{
	sigset_t set;
	siginfo_t si;
	struct timespec zero = {0, 0};
	sigemptyset(&set);
	sigaddset(&set, sig);
	int r = timed_wait(&set, &si, &zero);
	if (r == sig)
		FAIL("pending %s: one more queued than sent (si_code %s, si_value %d)",
		     signame(sig), codename(si.si_code), si.si_value.sival_int);
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	int rt1 = SIGRTMIN + 1, rt3 = SIGRTMIN + 3;
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, rt1);
	sigaddset(&block, rt3);
	if (sigprocmask(SIG_BLOCK, &block, NULL) != 0) {
		perror("sigprocmask");
		return 2;
	}
	setup_pid = getpid();
	if (!fresh) {
		if (kill(getpid(), SIGUSR1) != 0 ||
		    syscall(SYS_tgkill, getpid(), gettid(), SIGUSR2) != 0 ||
		    sigqueue(getpid(), rt1, (union sigval){.sival_int = 7}) != 0 ||
		    sigqueue(getpid(), rt1, (union sigval){.sival_int = 8}) != 0 ||
		    sigqueue(getpid(), rt3, (union sigval){.sival_int = 9}) != 0) {
			perror("sending signals");
			return 2;
		}
	}
	printf("ready%s\n", fresh ? " (fresh)" : "");

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	compare_set("SigPnd (thread)", status_field("SigPnd"), bit(SIGUSR2));
	compare_set("ShdPnd (process)", status_field("ShdPnd"), bit(SIGUSR1) | bit(rt1) | bit(rt3));

	take(SIGUSR1, SI_USER, -1, "");
	none_left(SIGUSR1);
	take(SIGUSR2, SI_TKILL, -1, "");
	none_left(SIGUSR2);
	if (take(rt1, SI_QUEUE, 7, " (1st)"))
		take(rt1, SI_QUEUE, 8, " (2nd)");
	none_left(rt1);
	take(rt3, SI_QUEUE, 9, "");
	none_left(rt3);

	sigset_t left;
	sigpending(&left);
	for (int sig = 1; sig <= 64; sig++)
		if (sig != 32 && sig != 33 && sigismember(&left, sig) == 1)
			FAIL("pending %s: still pending after all were taken", signame(sig));
	compare_set("SigPnd at the end", status_field("SigPnd"), 0);
	compare_set("ShdPnd at the end", status_field("ShdPnd"), 0);
	if (failures)
		return 1;
	printf("PASS pending: SIGUSR1 shared, SIGUSR2 thread, SIGRTMIN+1 x2 (7, 8), SIGRTMIN+3 (9)\n");
	return 0;
}
