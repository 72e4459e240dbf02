/*
 * state_rseq: after a restore, the thread's rseq area is registered with the
 * kernel again, at the same address, with the same length and signature.
 *
 * The area is the one glibc registered at start-up (thread pointer +
 * __rseq_offset, <sys/rseq.h>). Checked from inside:
 *   - registering that area again with the length and signature found at
 *     set-up fails with EBUSY. The kernel answers EBUSY only for the very
 *     registration it holds (another address or length gives EINVAL, another
 *     signature EPERM), so this proves all three at once;
 *   - the kernel writes into the area: its cpu_id is a valid cpu equal to the
 *     one getcpu(2) reports, also after the thread is moved to another cpu
 *     (a stale copy of the area, restored from the image but not
 *     registered, would keep the cpu of the dump).
 *
 * Protocol: tests/e2e/state.sh. --fresh unregisters glibc's area at set-up
 * instead, so both checks must fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures;

static void fail(const char *what)
{
	printf("FAIL %s\n", what);
	failures++;
}

static struct rseq *glibc_area(void)
{
	return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

static long sys_rseq(struct rseq *area, uint32_t len, int flags, uint32_t sig)
{
	return syscall(SYS_rseq, area, len, flags, sig);
}

/* The length glibc registered: the one for which a second registration
 * answers EBUSY. glibc 2.36 registers 32 bytes; later versions report the
 * feature size in __rseq_size but may still register 32. */
static uint32_t registered_length(struct rseq *area)
{
	uint32_t candidates[] = {32, __rseq_size};
	for (unsigned i = 0; i < 2; i++) {
		if (candidates[i] == 0)
			continue;
		if (sys_rseq(area, candidates[i], 0, RSEQ_SIG) < 0 && errno == EBUSY)
			return candidates[i];
	}
	return 0;
}

static int raw_getcpu(void)
{
	unsigned cpu;
	/* Not sched_getcpu(): glibc answers that from the rseq area itself. */
	if (syscall(SYS_getcpu, &cpu, NULL, NULL) < 0)
		return -1;
	return (int)cpu;
}

/* cpu_id as the kernel keeps it, read where no migration can slip between
 * the two reads: a few attempts, each bracketed by getcpu. */
static int check_cpu_id(struct rseq *area, const char *when)
{
	char msg[160];
	for (int attempt = 0; attempt < 100; attempt++) {
		int before = raw_getcpu();
		int32_t id = (int32_t)__atomic_load_n(&area->cpu_id, __ATOMIC_RELAXED);
		int after = raw_getcpu();
		if (before != after)
			continue; /* migrated in between: ask again */
		if (id >= 0 && id == before)
			return 0;
		snprintf(msg, sizeof msg, "rseq cpu_id %d %s, but the thread runs on cpu %d", (int)id, when, before);
		fail(msg);
		return -1;
	}
	fail("the thread kept migrating while cpu_id was read");
	return -1;
}

/* Moves the thread to another allowed cpu; cpu_id must follow. Returns the
 * number of moves made (0 when only one cpu is allowed). */
static int check_after_migration(struct rseq *area)
{
	cpu_set_t allowed, one;
	if (sched_getaffinity(0, sizeof allowed, &allowed) < 0 || CPU_COUNT(&allowed) < 2)
		return 0;
	int here = raw_getcpu();
	int moves = 0;
	for (int cpu = 0; cpu < CPU_SETSIZE && moves < 1; cpu++) {
		if (!CPU_ISSET(cpu, &allowed) || cpu == here)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof one, &one) < 0)
			continue;
		moves++;
		check_cpu_id(area, "after a move to another cpu");
	}
	sched_setaffinity(0, sizeof allowed, &allowed);
	return moves;
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	struct rseq *area = glibc_area();
	char line[64];

	setvbuf(stdout, NULL, _IONBF, 0);
	if (__rseq_size == 0) {
		/* Without glibc's registration there is nothing to carry over. */
		printf("FAIL glibc did not register rseq (tunable glibc.pthread.rseq=0?)\n");
		return 1;
	}
	uint32_t len = registered_length(area);
	if (len == 0) {
		printf("FAIL cannot tell the length glibc registered its rseq area with\n");
		return 1;
	}
	if (fresh && sys_rseq(area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) < 0) {
		printf("FAIL --fresh: cannot unregister glibc's rseq area: %s\n", strerror(errno));
		return 1;
	}

	printf("ready rseq area %p length %u\n", (void *)area, len);
	if (!fgets(line, sizeof line, stdin))
		return 2;

	/* cpu_id first: the registration probe below would itself register the
	 * area when it is not registered, and make cpu_id valid again. */
	check_cpu_id(area, "right after the restore");
	long r = sys_rseq(area, len, 0, RSEQ_SIG);
	if (r == 0) {
		fail("rseq area was not registered: registering it again succeeded");
	} else if (errno != EBUSY) {
		char msg[160];
		snprintf(msg, sizeof msg,
			 "registering the area again (length %u, signature 0x%x) failed with %s, not EBUSY: "
			 "another area, length or signature is registered",
			 len, RSEQ_SIG, strerror(errno));
		fail(msg);
	}
	int moves = failures ? 0 : check_after_migration(area);

	if (failures)
		return 1;
	printf("PASS rseq area %p registered (length %u, signature 0x%x), cpu_id kept up to date (%d move%s)\n",
	       (void *)area, len, RSEQ_SIG, moves, moves == 1 ? "" : "s");
	return 0;
}
