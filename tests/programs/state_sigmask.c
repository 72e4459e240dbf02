/*
 * state_sigmask: the blocked signal mask must survive a checkpoint, all 64
 * bits of it: standard signals, glibc's internal 32 and 33 (set with the raw
 * syscall, since glibc's sigprocmask filters them out) and RT signals up to
 * 64.
 *
 * Check: the raw kernel view (rt_sigprocmask with a NULL set) and SigBlk in
 * /proc/self/status both equal the mask set up; each differing signal is
 * named.
 *
 * Protocol: see tests/e2e/state.sh. --fresh leaves the mask empty.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
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
	else
		snprintf(buf, sizeof buf, "signal %d", sig);
	return buf;
}

static uint64_t wanted(void)
{
	return bit(SIGHUP) | bit(SIGINT) | bit(SIGUSR1) | bit(SIGPIPE) | bit(SIGTERM) |
	       bit(SIGCHLD) | bit(SIGWINCH) | bit(SIGSYS) | bit(32) | bit(33) | bit(34) |
	       bit(35) | bit(40) | bit(50) | bit(63) | bit(64);
}

static void compare(const char *what, uint64_t got, uint64_t want)
{
	if (got == want)
		return;
	FAIL("%s: got 0x%016llx want 0x%016llx", what, (unsigned long long)got,
	     (unsigned long long)want);
	for (int sig = 1; sig <= 64; sig++)
		if ((got ^ want) & bit(sig))
			FAIL("%s %s: %s, want %s", what, signame(sig),
			     got & bit(sig) ? "blocked" : "not blocked",
			     want & bit(sig) ? "blocked" : "not blocked");
}

/* SigBlk from /proc/self/status, or ~0 if it cannot be read. */
static uint64_t proc_sigblk(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long v = ~0ULL;
	if (!f)
		return v;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "SigBlk: %llx", &v) == 1)
			break;
	fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	uint64_t want = wanted();
	if (!fresh && syscall(SYS_rt_sigprocmask, SIG_SETMASK, &want, NULL, 8) != 0) {
		perror("rt_sigprocmask");
		return 2;
	}
	printf("ready%s\n", fresh ? " (fresh)" : "");

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	uint64_t got = 0;
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &got, 8) != 0)
		FAIL("rt_sigprocmask read failed");
	compare("blocked mask", got, want);
	compare("/proc/self/status SigBlk", proc_sigblk(), want);
	if (failures)
		return 1;
	printf("PASS sigmask: 0x%016llx\n", (unsigned long long)want);
	return 0;
}
