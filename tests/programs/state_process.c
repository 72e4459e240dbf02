/*
 * state_process: the per-process settings a program makes about itself come
 * back with it: working directory, umask, all 16 resource limits (soft and
 * hard), personality, comm, no_new_privs, the parent-death signal, the
 * dumpable flag and THP-disable.
 *
 * Set up before "ready", each value different from what a process started
 * by the harness (or restore itself) has, where it can be:
 *   - cwd: a fresh directory from mkdtemp under /tmp (removed at exit);
 *   - umask 027;
 *   - each limit lowered to a value of its own (never raised: the restore
 *     runs with the harness's limits, and raising a hard limit would need
 *     CAP_SYS_RESOURCE). RLIMIT_NICE and RLIMIT_RTPRIO are usually 0/0
 *     already and stay so; they are still compared;
 *   - personality PER_LINUX | ADDR_NO_RANDOMIZE | STICKY_TIMEOUTS (both
 *     harmless here: one matters only at exec, the other only to select(2));
 *   - comm "ckpt-state", PR_SET_NO_NEW_PRIVS 1, PR_SET_PDEATHSIG SIGWINCH
 *     (ignored by default, so harmless if the parent does die), PR_SET_DUMPABLE
 *     0, PR_SET_THP_DISABLE 1.
 * Checked after the restore with the getters: getcwd, the Umask: line of
 * /proc/self/status (umask(2) can only be read by changing it), getrlimit
 * for every limit, personality(0xffffffff), and the PR_GET_* calls.
 *
 * Protocol: tests/e2e/state.sh. --fresh skips the set-up and checks against
 * the same expected values, so it fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMM "ckpt-state"
#define UMASK 027
#define PERSONA (PER_LINUX | ADDR_NO_RANDOMIZE | STICKY_TIMEOUTS)
#define PDEATH SIGWINCH
#define KiB 1024ULL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

/* What each limit is lowered to (soft, hard), capped by what the process
 * started with. The values only need to be unusual and harmless: a CPU
 * limit of an hour, file sizes of GiBs, an address space far beyond this
 * program's. */
static const struct {
	int resource;
	const char *name;
	rlim_t soft, hard;
} plan[] = {
	{RLIMIT_CPU, "RLIMIT_CPU", 3600, 7200},
	{RLIMIT_FSIZE, "RLIMIT_FSIZE", 1 * GiB, 2 * GiB},
	{RLIMIT_DATA, "RLIMIT_DATA", 8 * GiB, 16 * GiB},
	{RLIMIT_STACK, "RLIMIT_STACK", 4 * MiB, 64 * MiB},
	{RLIMIT_CORE, "RLIMIT_CORE", 0, 0},
	{RLIMIT_RSS, "RLIMIT_RSS", 1 * GiB, 2 * GiB},
	{RLIMIT_NPROC, "RLIMIT_NPROC", 5000, 6000},
	{RLIMIT_NOFILE, "RLIMIT_NOFILE", 200, 300},
	{RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 64 * KiB, 128 * KiB},
	{RLIMIT_AS, "RLIMIT_AS", 16 * GiB, 32 * GiB},
	{RLIMIT_LOCKS, "RLIMIT_LOCKS", 1000, 2000},
	{RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING", 1000, 2000},
	{RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 100 * KiB, 200 * KiB},
	{RLIMIT_NICE, "RLIMIT_NICE", 0, 0},
	{RLIMIT_RTPRIO, "RLIMIT_RTPRIO", 0, 0},
	{RLIMIT_RTTIME, "RLIMIT_RTTIME", 1000000, 2000000},
};
#define N_LIMITS (sizeof plan / sizeof plan[0])
_Static_assert(N_LIMITS == RLIM_NLIMITS, "every resource limit is checked");

static struct rlimit expected[N_LIMITS];
static char dir[64] = "/tmp/ckpt-state-process.XXXXXX";
static int dir_made, failures;

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("FAIL ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures++;
}

static void die(const char *what)
{
	printf("FAIL set-up: %s: %s\n", what, strerror(errno));
	if (dir_made)
		rmdir(dir);
	exit(2);
}

static rlim_t lower(rlim_t want, rlim_t have)
{
	return have == RLIM_INFINITY || want < have ? want : have;
}

static void plan_limits(void)
{
	for (size_t i = 0; i < N_LIMITS; i++) {
		struct rlimit now;
		if (getrlimit(plan[i].resource, &now) < 0)
			die(plan[i].name);
		expected[i].rlim_max = lower(plan[i].hard, now.rlim_max);
		expected[i].rlim_cur = lower(lower(plan[i].soft, now.rlim_cur), expected[i].rlim_max);
	}
}

static void set_up(void)
{
	if (!mkdtemp(dir))
		die("mkdtemp");
	dir_made = 1;
	if (chdir(dir) < 0)
		die("chdir");
	umask(UMASK);
	for (size_t i = 0; i < N_LIMITS; i++)
		if (setrlimit(plan[i].resource, &expected[i]) < 0)
			die(plan[i].name);
	if (personality(PERSONA) < 0)
		die("personality");
	if (prctl(PR_SET_NAME, COMM, 0, 0, 0) < 0)
		die("PR_SET_NAME");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_PDEATHSIG, PDEATH, 0, 0, 0) < 0)
		die("PR_SET_PDEATHSIG");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die("PR_SET_DUMPABLE");
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0)
		die("PR_SET_THP_DISABLE");
}

static long status_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long mask = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "Umask:", 6) == 0)
			mask = strtol(line + 6, NULL, 8);
	fclose(f);
	return mask;
}

static void limit_text(char *out, size_t cap, rlim_t v)
{
	if (v == RLIM_INFINITY)
		snprintf(out, cap, "unlimited");
	else
		snprintf(out, cap, "%" PRIu64, (uint64_t)v);
}

static void check(void)
{
	char cwd[4096], comm[17] = "";
	if (!getcwd(cwd, sizeof cwd))
		snprintf(cwd, sizeof cwd, "(getcwd: %s)", strerror(errno));
	if (strcmp(cwd, dir) != 0)
		fail("cwd is %s, expected %s", cwd, dir);

	long mask = status_umask();
	if (mask != UMASK)
		fail("umask is %03lo, expected %03o", mask, UMASK);

	for (size_t i = 0; i < N_LIMITS; i++) {
		struct rlimit now;
		if (getrlimit(plan[i].resource, &now) < 0) {
			fail("getrlimit(%s): %s", plan[i].name, strerror(errno));
			continue;
		}
		if (now.rlim_cur == expected[i].rlim_cur && now.rlim_max == expected[i].rlim_max)
			continue;
		char s[24], h[24], es[24], eh[24];
		limit_text(s, sizeof s, now.rlim_cur);
		limit_text(h, sizeof h, now.rlim_max);
		limit_text(es, sizeof es, expected[i].rlim_cur);
		limit_text(eh, sizeof eh, expected[i].rlim_max);
		fail("%s is %s/%s (soft/hard), expected %s/%s", plan[i].name, s, h, es, eh);
	}

	int persona = personality(0xffffffff);
	if (persona != PERSONA)
		fail("personality is %#x, expected %#x", persona, PERSONA);

	if (prctl(PR_GET_NAME, comm, 0, 0, 0) < 0 || strcmp(comm, COMM) != 0)
		fail("comm is \"%s\", expected \"%s\"", comm, COMM);

	int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	if (nnp != 1)
		fail("no_new_privs is %d, expected 1", nnp);

	int sig = -1;
	if (prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) < 0 || sig != PDEATH)
		fail("parent-death signal is %d, expected %d (SIGWINCH)", sig, PDEATH);

	int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	if (dumpable != 0)
		fail("dumpable is %d, expected 0", dumpable);

	int thp = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	if (thp != 1)
		fail("THP-disable is %d, expected 1", thp);
}

/* With read(2): the check line must not sit in a stdio buffer, and nothing
 * should allocate between the set-up and the dump that need not. */
static int read_line(char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(0, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return n > 0 ? 0 : -1;
		if (c == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = c;
	}
	buf[n] = 0;
	return 0;
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	char line[64];

	setvbuf(stdout, NULL, _IONBF, 0);
	plan_limits();
	if (fresh)
		/* The directory the check expects, which --fresh never enters. */
		snprintf(dir, sizeof dir, "/tmp/ckpt-state-process.fresh-not-entered");
	else
		set_up();

	printf("ready cwd %s%s\n", dir, fresh ? " (fresh: nothing set)" : "");
	if (read_line(line, sizeof line) < 0)
		return 2;
	check();
	if (dir_made)
		rmdir(dir);
	if (failures)
		return 1;
	printf("PASS cwd, umask, %zu rlimits, personality, comm, no_new_privs, pdeath signal, dumpable and "
	       "THP-disable as set\n",
	       N_LIMITS);
	return 0;
}
