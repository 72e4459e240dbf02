/*
 * state_sched: how the kernel schedules a process comes back with it, in
 * every thread: the policy (SCHED_BATCH), the nice value (7), the CPU
 * affinity (CPU 0 alone), the I/O priority (best-effort, level 6) and the
 * timer slack (123456 ns). Each differs from what the harness and restore
 * run with. Set on the main thread before two more threads are created, so
 * all three have them (the dumper refuses threads that differ).
 * Checked after the restore for every thread of /proc/self/task, by tid:
 * sched_getattr, getpriority, sched_getaffinity, ioprio_get and
 * /proc/TID/timerslack_ns.
 *
 * Protocol: tests/e2e/state.sh. --fresh skips the set-up, so the checks fail.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testprog.h"

#define NICE 7
#define IOPRIO ((2 << 13) | 6) /* IOPRIO_CLASS_BE, level 6 */
#define SLACK 123456UL

struct sched_attr_v0 {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
};

static pid_t tids[3];
static pthread_barrier_t started;

static void *worker(void *arg)
{
	tids[(intptr_t)arg] = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&started);
	for (;;)
		pause();
	return NULL;
}

static void check_thread(pid_t tid)
{
	struct sched_attr_v0 a = {0};
	if (syscall(SYS_sched_getattr, tid, &a, sizeof a, 0) != 0)
		FAIL("thread %d: sched_getattr: %s", tid, strerror(errno));
	else if (a.sched_policy != SCHED_BATCH)
		FAIL("thread %d: policy %u, expected SCHED_BATCH (%d)", tid, a.sched_policy, SCHED_BATCH);
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, (id_t)tid);
	if (nice != NICE)
		FAIL("thread %d: nice %d, expected %d", tid, nice, NICE);
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(tid, sizeof set, &set) != 0 || CPU_COUNT(&set) != 1 || !CPU_ISSET(0, &set))
		FAIL("thread %d: CPU affinity has %d CPUs, expected CPU 0 alone", tid, CPU_COUNT(&set));
	long io = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, tid);
	if (io != IOPRIO)
		FAIL("thread %d: I/O priority %ld, expected %d", tid, io, IOPRIO);
	char path[64], buf[32] = "";
	snprintf(path, sizeof path, "/proc/%d/timerslack_ns", tid);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof buf, f) || strtoul(buf, NULL, 10) != SLACK)
		FAIL("thread %d: timer slack %s, expected %lu", tid, buf[0] ? buf : "unreadable\n", SLACK);
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(0, &one);
		if (sched_setaffinity(0, sizeof one, &one) != 0)
			FAIL("sched_setaffinity: %s", strerror(errno));
		if (syscall(SYS_ioprio_set, 1, 0, IOPRIO) != 0)
			FAIL("ioprio_set: %s", strerror(errno));
		if (prctl(PR_SET_TIMERSLACK, SLACK, 0, 0, 0) != 0)
			FAIL("PR_SET_TIMERSLACK: %s", strerror(errno));
		struct sched_attr_v0 a = {.size = sizeof a, .sched_policy = SCHED_BATCH, .sched_nice = NICE};
		if (syscall(SYS_sched_setattr, 0, &a, 0) != 0)
			FAIL("sched_setattr: %s", strerror(errno));
	}
	tids[0] = (pid_t)syscall(SYS_gettid);
	pthread_barrier_init(&started, NULL, 3);
	pthread_t t;
	for (intptr_t i = 1; i <= 2; ++i)
		if (pthread_create(&t, NULL, worker, (void *)i) != 0)
			FAIL("pthread_create");
	pthread_barrier_wait(&started);
	tp_ready(fresh);
	tp_wait_check();
	/* By /proc/self/task: a restore without saved pids gives the threads new ids. */
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			check_thread((pid_t)atoi(e->d_name)), n++;
	if (d)
		closedir(d);
	if (n != 3)
		FAIL("%d threads, expected 3", n);
	return tp_finish("SCHED_BATCH, nice %d, CPU 0, I/O best-effort 6, slack %lu in all 3 threads", NICE, SLACK);
}
