/*
 * state_threads_busy: N threads (argument, default 8, 1..512) that never
 * stop working, for dumps taken at arbitrary moments: a thread may be
 * caught computing, holding or waiting for the shared mutex, or in its
 * short nanosleep. Whatever the moment, every thread must go on after a
 * restore (or after a dump without --kill) with its registers, FPU/SSE
 * state, stack, mask and tid intact.
 *
 * Each thread t loops: k += 1, s += k (integer), d += 1.0 (double, kept in
 * an SSE register by the compiler), with k, s, d in locals; every 1024
 * steps it publishes k, and adds 1 to a shared mutex-protected total and to
 * its own contribution; every 32768 steps it sleeps 1 ms. Its blocked
 * mask is SIGWINCH plus one RT signal chosen by t.
 *
 * Check (one line on stdin): main notes every thread's published k and
 * waits (up to 5 s) until each has moved on by 8192 steps, then stops
 * them. Each thread then checks s == k(k+1)/2 and d == k (a register or
 * stack slot that came back wrong breaks them), its mask, that glibc's
 * cached tid equals gettid() and pthread_kill(self, 0). Main joins them
 * all (with a timeout) and checks the total against the contributions;
 * prints "PASS threads_busy: ..." or "FAIL ..." lines.
 *
 * Protocol: see tests/e2e/state.sh. --fresh leaves the masks empty and
 * parks the last thread once "ready" is printed, as a restore that left
 * one thread frozen would: the progress and mask checks fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 512
#define SEARCH_BYTES 2048
#define PROGRESS_STEPS 8192
#define WAIT_SECONDS 5

static int fresh, n_threads = 8;
static long tid_offset = -1;
static atomic_int stop, started;

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int failures;

static void FAIL(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&out_lock);
	fputs("FAIL ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	failures++;
	pthread_mutex_unlock(&out_lock);
	va_end(ap);
}

static pid_t raw_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* As in state_threads.c: 8-byte aligned slots only, so that a tid equal to
 * the upper half of mmap-area pointers does not make it ambiguous. */
static long find_tid(void)
{
	const char *pd = (const char *)pthread_self();
	int tid = raw_gettid(), matches = 0;
	long at = -1;
	for (long off = 0; off + 4 <= SEARCH_BYTES; off += 8) {
		int v;
		memcpy(&v, pd + off, sizeof v);
		if (v == tid) {
			matches++;
			at = off;
		}
	}
	return matches == 1 ? at : -1;
}

static uint64_t bit(int sig) { return 1ULL << (sig - 1); }
static uint64_t thread_mask(int t) { return bit(28 /* SIGWINCH */) | bit(34 + t % 30); }

static uint64_t get_mask(void)
{
	uint64_t m = 0;
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, sizeof m);
	return m;
}

struct slot {
	_Alignas(64) atomic_ulong progress; /* k, published every 1024 steps */
	long contributed;
	pthread_t thread;
};
static struct slot slots[MAX_THREADS];

static pthread_mutex_t total_lock = PTHREAD_MUTEX_INITIALIZER;
static long total;

static void *busy_main(void *arg)
{
	int t = (int)(intptr_t)arg;
	char name[16];
	snprintf(name, sizeof name, "busy%d", t);
	pthread_setname_np(pthread_self(), name);
	if (!fresh) {
		uint64_t m = thread_mask(t);
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, sizeof m);
	}
	atomic_fetch_add(&started, 1);
	struct slot *me = &slots[t];
	uint64_t k = 0, s = 0;
	double d = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		k++;
		s += k;
		d += 1.0;
		if ((k & 1023) == 0) {
			atomic_store_explicit(&me->progress, k, memory_order_relaxed);
			pthread_mutex_lock(&total_lock);
			total++;
			me->contributed++;
			pthread_mutex_unlock(&total_lock);
		}
		/* About 90 us of work, then 1 ms asleep: busy enough to be caught
		 * running, idle enough that 2 CPUs still serve the dumper, a
		 * restored copy and the original at once. */
		if ((k & 32767) == 0) {
			struct timespec nap = {0, 1000000};
			nanosleep(&nap, NULL);
		}
		/* --fresh: freeze the last thread once the others are all going. */
		while (fresh && t == n_threads - 1 && atomic_load(&started) == n_threads + 1 &&
		       !atomic_load(&stop)) {
			struct timespec nap = {0, 10000000};
			nanosleep(&nap, NULL);
		}
	}
	uint64_t want_s = (k & 1) ? k * ((k + 1) / 2) : (k / 2) * (k + 1);
	if (s != want_s || d != (double)k)
		FAIL("%s: after %llu steps sum %llu (want %llu), double %.1f (want %llu)", name,
		     (unsigned long long)k, (unsigned long long)s, (unsigned long long)want_s, d,
		     (unsigned long long)k);
	if (get_mask() != thread_mask(t))
		FAIL("%s: blocked mask 0x%016llx want 0x%016llx", name, (unsigned long long)get_mask(),
		     (unsigned long long)thread_mask(t));
	int cached;
	memcpy(&cached, (char *)pthread_self() + tid_offset, sizeof cached);
	if (cached != raw_gettid())
		FAIL("%s: glibc cached tid %d, gettid() %d", name, cached, (int)raw_gettid());
	int r = pthread_kill(pthread_self(), 0);
	if (r != 0)
		FAIL("%s: pthread_kill(self, 0): %s", name, strerror(r));
	return NULL;
}

int main(int argc, char **argv)
{
	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--fresh") == 0)
			fresh = 1;
		else
			n_threads = atoi(argv[a]);
	}
	if (n_threads < 1 || n_threads > MAX_THREADS) {
		fprintf(stderr, "usage: state_threads_busy [--fresh] [THREADS 1..%d]\n", MAX_THREADS);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	tid_offset = find_tid();
	if (tid_offset < 0) {
		fprintf(stderr, "state_threads_busy: cannot find glibc's cached tid\n");
		return 2;
	}
	for (int t = 0; t < n_threads; t++) {
		int r = pthread_create(&slots[t].thread, NULL, busy_main, (void *)(intptr_t)t);
		if (r != 0) {
			fprintf(stderr, "state_threads_busy: pthread_create: %s\n", strerror(r));
			return 2;
		}
	}
	while (atomic_load(&started) < n_threads) {
		struct timespec nap = {0, 1000000};
		nanosleep(&nap, NULL);
	}
	/* Every thread has published progress once: all are in their loops. */
	for (int t = 0; t < n_threads; t++)
		while (atomic_load(&slots[t].progress) == 0) {
			struct timespec nap = {0, 1000000};
			nanosleep(&nap, NULL);
		}
	atomic_fetch_add(&started, 1); /* lets --fresh freeze its last thread */
	printf("ready%s: %d busy threads\n", fresh ? " (fresh)" : "", n_threads);

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("main: no check line on stdin");

	unsigned long before[MAX_THREADS];
	for (int t = 0; t < n_threads; t++)
		before[t] = atomic_load(&slots[t].progress);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int t = 0; t < n_threads; t++) {
		while (atomic_load(&slots[t].progress) < before[t] + PROGRESS_STEPS) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec >= WAIT_SECONDS) {
				FAIL("busy%d: made no progress in %d s (stuck at step %lu)", t, WAIT_SECONDS,
				     (unsigned long)atomic_load(&slots[t].progress));
				break;
			}
			struct timespec nap = {0, 1000000};
			nanosleep(&nap, NULL);
		}
	}
	atomic_store(&stop, 1);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_SECONDS;
	long contributed = 0;
	for (int t = 0; t < n_threads; t++) {
		int r = pthread_timedjoin_np(slots[t].thread, NULL, &until);
		if (r != 0)
			FAIL("main: joining busy%d: %s", t, strerror(r));
		contributed += slots[t].contributed;
	}
	if (contributed != total)
		FAIL("main: shared total %ld, threads contributed %ld", total, contributed);
	if (failures)
		return 1;
	printf("PASS threads_busy: %d threads ran on and kept their sums, doubles, masks and tids; total %ld\n",
	       n_threads, total);
	return 0;
}
