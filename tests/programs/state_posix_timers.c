/*
 * state_posix_timers: POSIX timers (timer_create) must come back with their
 * ids, clocks, notifications, values and periods, and go on firing.
 *
 * Ids 0-4 are made and deleted first, and one more in the middle, so that
 * the kept ids start at 5 and have a hole (the kernel's ids only grow):
 *   5:  SIGEV_SIGNAL SIGUSR1, CLOCK_MONOTONIC, every 20 ms, sival 111
 *   7:  SIGEV_THREAD_ID to a second thread (which waits in sigwaitinfo),
 *       SIGRTMIN+1, CLOCK_REALTIME, every 20 ms
 *   8:  SIGEV_NONE, CLOCK_PROCESS_CPUTIME_ID, 1000 s, one-shot
 *   9:  SIGEV_SIGNAL SIGUSR2, CLOCK_BOOTTIME, 1000 s, one-shot (must not fire)
 *   10: created, never armed
 *   11: glibc SIGEV_THREAD (its helper thread, signal 32), every 20 ms
 *   12: SIGEV_THREAD_ID to the main thread (the leader), SIGRTMIN+2, every 20 ms
 *
 * Check: timer_gettime works on every kept id and fails on deleted ones;
 * periods are exact and values in range; the periodic ones fire again
 * (SIGUSR1 with its sival and timer id, the thread's signal in that
 * thread, the SIGEV_THREAD function), within a generous wait; and
 * /proc/self/timers names the second thread's new id as the target.
 *
 * Protocol: see tests/e2e/state.sh. --fresh creates no timer.
 */
#include "testprog.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000L

static timer_t ids[9];
static atomic_int usr1_count, usr1_bad_value, usr1_bad_id, usr2_count, thread_count, sigev_thread_count;
static atomic_int worker_tid;  /* the worker's id as of its last wake-up */
static atomic_int leader_count, leader_elsewhere;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	usr1_count++;
	if (si->si_value.sival_int != 111)
		usr1_bad_value++;
	if (si->si_timerid != (int)(long)ids[0])
		usr1_bad_id++;
}

static void on_usr2(int sig) { (void)sig, usr2_count++; }

static void on_leader(int sig)
{
	(void)sig;
	leader_count++;
	if (syscall(SYS_gettid) != getpid())
		leader_elsewhere++;
}

static void *worker(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	for (;;) {
		worker_tid = (int)syscall(SYS_gettid);
		siginfo_t si;
		if (sigwaitinfo(&set, &si) == SIGRTMIN + 1)
			thread_count++;
	}
	return NULL;
}

static void on_sigev_thread(union sigval v) { (void)v, sigev_thread_count++; }

static void arm(timer_t t, long value_ns, long interval_ns)
{
	struct itimerspec its = {{interval_ns / 1000000000, interval_ns % 1000000000},
				 {value_ns / 1000000000, value_ns % 1000000000}};
	if (timer_settime(t, 0, &its, NULL) != 0)
		tp_die("timer_settime");
}

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	struct sigaction sa = {0};
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGUSR2, on_usr2);
	sa.sa_handler = on_leader;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGRTMIN + 2, &sa, NULL);
	/* Only the worker takes SIGRTMIN+1 (it blocks it too, to wait for it). */
	sigset_t rt;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &rt, NULL);
	pthread_t th;
	if (pthread_create(&th, NULL, worker, NULL) != 0)
		tp_die("pthread_create");
	while (!worker_tid)
		usleep(1000);
	for (int i = 0; i < 9; i++)
		ids[i] = (timer_t)(1000000L + i); /* no such timer (glibc would follow a negative one as a pointer) */

	if (!fresh) {
		timer_t scratch[5];
		for (int i = 0; i < 5; i++)
			if (timer_create(CLOCK_MONOTONIC, NULL, &scratch[i]) != 0)
				tp_die("timer_create");
		timer_delete(scratch[1]);
		timer_delete(scratch[3]);
		timer_delete(scratch[0]);
		timer_delete(scratch[2]);
		timer_delete(scratch[4]);
		struct sigevent ev = {0};
		/* Recreated in the same order, the kernel hands out ids 5.. (they only grow). */
		ev.sigev_notify = SIGEV_SIGNAL;
		ev.sigev_signo = SIGUSR1;
		ev.sigev_value.sival_int = 111;
		if (timer_create(CLOCK_MONOTONIC, &ev, &ids[0]) != 0)
			tp_die("timer_create monotonic");
		timer_t gap;
		timer_create(CLOCK_MONOTONIC, NULL, &gap);
		ev.sigev_notify = SIGEV_THREAD_ID;
		ev.sigev_signo = SIGRTMIN + 1;
		ev._sigev_un._tid = worker_tid;
		if (timer_create(CLOCK_REALTIME, &ev, &ids[2]) != 0)
			tp_die("timer_create thread id");
		timer_delete(gap);
		ev.sigev_notify = SIGEV_NONE;
		if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &ids[4]) != 0)
			tp_die("timer_create none");
		ev.sigev_notify = SIGEV_SIGNAL;
		ev.sigev_signo = SIGUSR2;
		if (timer_create(CLOCK_BOOTTIME, &ev, &ids[5]) != 0)
			tp_die("timer_create boottime");
		if (timer_create(CLOCK_MONOTONIC, NULL, &ids[6]) != 0)
			tp_die("timer_create unarmed");
		struct sigevent te = {0};
		te.sigev_notify = SIGEV_THREAD;
		te.sigev_notify_function = on_sigev_thread;
		if (timer_create(CLOCK_MONOTONIC, &te, &ids[7]) != 0)
			tp_die("timer_create SIGEV_THREAD");
		ev.sigev_notify = SIGEV_THREAD_ID;
		ev.sigev_signo = SIGRTMIN + 2;
		ev._sigev_un._tid = getpid();
		if (timer_create(CLOCK_MONOTONIC, &ev, &ids[8]) != 0)
			tp_die("timer_create leader");
		arm(ids[8], 20 * MS, 20 * MS);
		arm(ids[0], 20 * MS, 20 * MS);
		arm(ids[2], 20 * MS, 20 * MS);
		arm(ids[4], 1000000 * MS, 0);
		arm(ids[5], 1000000 * MS, 0);
		arm(ids[7], 20 * MS, 20 * MS);
		/* Stand-ins for the deleted ids 1 and 3 of the check: one below and one between. */
		ids[1] = scratch[1];
		ids[3] = gap;
	}
	tp_ready(fresh);
	tp_wait_check();

	struct itimerspec its;
	static const char *const names[9] = {"SIGUSR1/MONOTONIC", "deleted", "THREAD_ID/REALTIME", "deleted",
					     "NONE/PROCESS_CPUTIME", "BOOTTIME", "unarmed", "SIGEV_THREAD", "THREAD_ID/leader"};
	for (int i = 0; i < 9; i++) {
		int r = timer_gettime(ids[i], &its);
		if (i == 1 || i == 3) {
			if (r == 0)
				FAIL("deleted timer %ld exists again", (long)ids[i]);
			continue;
		}
		if (r != 0) {
			FAIL("timer %ld (%s): timer_gettime failed: %m", (long)ids[i], names[i]);
			continue;
		}
		long long v = ns(its.it_value), iv = ns(its.it_interval);
		if ((i == 0 || i == 2 || i == 7 || i == 8) && (iv != 20 * MS || v <= 0 || v > 20 * MS))
			FAIL("timer %s: value %lld ns interval %lld ns, want (0, 20 ms] and 20 ms", names[i], v, iv);
		if ((i == 4 || i == 5) && (iv != 0 || v <= 900000 * MS || v > 1000000 * MS))
			FAIL("timer %s: value %lld ns interval %lld ns, want (900, 1000] s, one-shot", names[i], v, iv);
		if (i == 6 && (iv != 0 || v != 0))
			FAIL("unarmed timer: value %lld ns interval %lld ns, want 0", v, iv);
	}
	/* They go on firing: wait (bounded, generously) for a few more of each. */
	int u0 = usr1_count, t0 = thread_count, s0 = sigev_thread_count, l0 = leader_count;
	for (int i = 0; i < 1000 && !tp_failures &&
			(usr1_count < u0 + 3 || thread_count < t0 + 3 || sigev_thread_count < s0 + 3 || leader_count < l0 + 3);
	     i++)
		usleep(10000);
	if (leader_count < l0 + 3)
		FAIL("the leader's SIGEV_THREAD_ID timer fired %d times in 10 s", leader_count - l0);
	if (leader_elsewhere)
		FAIL("%d of the leader's timer signals ran in another thread", (int)leader_elsewhere);
	if (usr1_count < u0 + 3)
		FAIL("SIGUSR1 timer fired %d times in 10 s after the check began", usr1_count - u0);
	if (thread_count < t0 + 3)
		FAIL("SIGEV_THREAD_ID timer's thread got %d signals in 10 s", thread_count - t0);
	if (sigev_thread_count < s0 + 3)
		FAIL("SIGEV_THREAD timer ran its function %d times in 10 s", sigev_thread_count - s0);
	if (usr1_bad_value)
		FAIL("%d SIGUSR1 signals without sival 111", (int)usr1_bad_value);
	if (usr1_bad_id)
		FAIL("%d SIGUSR1 signals naming another timer id", (int)usr1_bad_id);
	/* Aimed at the worker itself, not at the process (where its sigwaitinfo would take it too). */
	char want[64], line[128];
	snprintf(want, sizeof want, "notify: signal/tid.%d\n", (int)worker_tid);
	FILE *f = fopen("/proc/self/timers", "r");
	int found = 0, in_timer = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, "ID: ", 4) == 0)
			in_timer = atol(line + 4) == (long)ids[2];
		else if (in_timer && strncmp(line, "notify: ", 8) == 0)
			found = strcmp(line, want) == 0;
	}
	if (f)
		fclose(f);
	if (!found)
		FAIL("/proc/self/timers does not show timer %ld aimed at the worker thread %d", (long)ids[2], (int)worker_tid);
	if (usr2_count)
		FAIL("the 1000 s BOOTTIME timer fired");
	return tp_finish("POSIX timers: ids %ld %ld %ld %ld %ld %ld and a SIGEV_THREAD one, deleted ids stay deleted, "
			 "periodic ones firing", (long)ids[0], (long)ids[2], (long)ids[4], (long)ids[5], (long)ids[6], (long)ids[8]);
}
