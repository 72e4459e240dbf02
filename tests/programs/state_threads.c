/*
 * state_threads: a multi-threaded process must come back with every thread,
 * and every thread with its own state, and glibc's view of each thread
 * (its cached tid, its joinability, its stack) must still match the
 * kernel's. The restored process gets new thread ids, so this is mostly
 * about the restorer rewriting each thread's cached tid and re-registering
 * each thread's clear-child-tid, robust list and alternate stack.
 *
 * Threads (N workers from the argument, default 8, 2..31; N + 5 in all):
 *   - main, waiting in read(0);
 *   - N workers: each counts to (i+1)*1000 in a global slot and in a stack
 *     local, adds each step to a shared mutex-protected sum, has its own
 *     __thread value, name ("w<i>") and blocked mask (signals 34..38
 *     encode i+1, so no two masks are equal), then waits in a
 *     pthread_barrier (a futex wait) with main and the guard thread; with
 *     --held, each first locks an error-checking mutex of its own and keeps
 *     it locked across the dump;
 *   - "condvar", in pthread_cond_wait on an error-checking mutex;
 *   - "sleeper", in a 3 s nanosleep, looping on EINTR with the remaining time,
 *     then waiting until the check (so it is still a thread when counted);
 *   - "detached", created detached, waiting in sem_wait;
 *   - "guard", with a 64 KiB stack guard and its own alternate stack, in the
 *     barrier too.
 * Main prints "ready" once every thread has done its setup (the test then
 * waits until every thread is asleep before it dumps).
 *
 * Check (one line on stdin): main checks each worker's name and affinity
 * through pthread_getname_np/pthread_getaffinity_np (both use the worker's
 * cached tid), sends it SIGUSR1 with pthread_kill (ditto) and releases the
 * barrier. Each worker checks its __thread value and its address, its
 * counters, its mask (raw rt_sigprocmask), that its cached tid equals
 * gettid(), that main's SIGUSR1 ran in it, that pthread_kill(self, 0),
 * pthread_kill(self, SIGUSR1) (the handler runs in this very thread) and
 * pthread_getaffinity_np(self) work, (--held) that the mutex it locked
 * before the dump unlocks (glibc compares the owner recorded then, the old
 * tid, with the cached tid now), that a recursive mutex locks and unlocks twice and an
 * error-checking one gives EDEADLK/EPERM where it should, and adds (i+1)
 * more to the shared sum. The condvar thread is woken by
 * pthread_cond_signal and must see the predicate and own the mutex; the
 * sleeper must have slept its whole 3 s; the detached thread checks its own
 * tid and __thread value and posts a semaphore; the guard thread checks
 * that its guard is still a PROT_NONE mapping just below its stack, that
 * reading it faults (SIGSEGV, handled on its alternate stack) and that its
 * alternate stack is the one it set. Main joins every joinable thread with
 * a timeout (a lost clear-child-tid fails instead of hanging), checks the
 * shared sum and prints "PASS threads: ...".
 *
 * Protocol: see tests/e2e/state.sh. --fresh leaves the workers' masks
 * empty and writes a wrong tid (one no thread has) into the last worker's
 * cached tid, as a restorer that forgets a non-leader thread would leave
 * it: the mask, cached-tid, name, affinity and SIGUSR1-from-main checks
 * fail.
 *
 * --held is off by default: a restored thread has a new tid, so an
 * owner-checking mutex held across the dump records the old one and its
 * unlock fails with EPERM (ckpt as of a6ac910); tests/e2e/state_threads.sh
 * does not pass it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 31
#define OTHER_THREADS 5 /* main, condvar, sleeper, detached, guard */
#define SEARCH_BYTES 2048
#define SLEEP_SECONDS 3
#define GUARD_BYTES (64 * 1024)
#define ALTSTACK_BYTES (64 * 1024)
#define WAIT_SECONDS 15
#define PREDICATE 4242

static int fresh, held, n_workers = 8;
static long tid_offset = -1;

/* Any thread may fail a check; one lock keeps lines whole and the count
 * exact. */
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

static void expect(const char *who, const char *what, int got, int want)
{
	if (got != want)
		FAIL("%s: %s: got %d (%s) want %d (%s)", who, what, got, strerror(got), want,
		     strerror(want));
}

static pid_t raw_gettid(void) { return (pid_t)syscall(SYS_gettid); }

static int cached_tid(void)
{
	int v;
	memcpy(&v, (char *)pthread_self() + tid_offset, sizeof v);
	return v;
}

static void set_cached_tid(int v) { memcpy((char *)pthread_self() + tid_offset, &v, sizeof v); }

/* The offset in glibc's thread descriptor of the one word equal to our
 * tid, or -1 (none or several): the same in every thread. Only 8-byte
 * aligned slots: glibc's is (0x2d0 in 2.36), and a tid from 0x7f00 to
 * 0x7fff (pid_max is often 32768) equals the upper half of every pointer
 * into the mmap area, which sits at offset 4 mod 8. */
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

static void check_tid(const char *who)
{
	if (cached_tid() != raw_gettid())
		FAIL("%s: glibc cached tid (pthread_self()+%#lx) is %d, gettid() is %d", who, tid_offset,
		     cached_tid(), (int)raw_gettid());
}

/* Masks are read and set with the raw system call: all 64 bits, with none
 * of glibc's filtering. */
static uint64_t bit(int sig) { return 1ULL << (sig - 1); }

static uint64_t get_mask(void)
{
	uint64_t m = 0;
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, sizeof m);
	return m;
}

static void set_mask(uint64_t m) { syscall(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, sizeof m); }

static uint64_t worker_mask(int i)
{
	uint64_t m = bit(SIGWINCH);
	for (int b = 0; b < 5; b++)
		if ((i + 1) >> b & 1)
			m |= bit(34 + b);
	return m;
}

static const uint64_t main_mask_bits = (1ULL << (SIGTERM - 1)) | (1ULL << (45 - 1));

static void check_mask(const char *who, uint64_t want)
{
	uint64_t got = get_mask();
	if (got != want)
		FAIL("%s: blocked mask 0x%016llx want 0x%016llx", who, (unsigned long long)got,
		     (unsigned long long)want);
}

static int tl_expected(int i) { return 0x5eed000 + i * 7919; }

static __thread int tl_value;
static __thread volatile sig_atomic_t tl_usr1_count;
static __thread volatile pid_t tl_usr1_tid;

static void on_usr1(int sig)
{
	(void)sig;
	tl_usr1_count++;
	tl_usr1_tid = raw_gettid();
}

/* The guard probe: a read of the guard must fault, and the handler (on the
 * thread's alternate stack) jumps back. Any other SIGSEGV is a real crash. */
static __thread sigjmp_buf tl_jmp;
static __thread volatile int tl_probing;
static __thread void *volatile tl_fault_addr;
static __thread volatile uintptr_t tl_handler_sp;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!tl_probing) {
		signal(sig, SIG_DFL);
		return; /* faults again, now fatally */
	}
	volatile char here;
	tl_fault_addr = si->si_addr;
	tl_handler_sp = (uintptr_t)&here;
	siglongjmp(tl_jmp, 1);
}

static sem_t setup_done; /* one post per thread once set up */
static pthread_barrier_t barrier; /* workers, guard and main */

static pthread_mutex_t sum_lock = PTHREAD_MUTEX_INITIALIZER;
static long shared_sum;

static void add_to_sum(long n)
{
	pthread_mutex_lock(&sum_lock);
	shared_sum += n;
	pthread_mutex_unlock(&sum_lock);
}

static void init_mutex(pthread_mutex_t *m, int type)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

static void check_mutexes(const char *who)
{
	pthread_mutex_t m;
	init_mutex(&m, PTHREAD_MUTEX_RECURSIVE);
	expect(who, "recursive mutex lock", pthread_mutex_lock(&m), 0);
	expect(who, "recursive mutex lock twice", pthread_mutex_lock(&m), 0);
	expect(who, "recursive mutex unlock", pthread_mutex_unlock(&m), 0);
	expect(who, "recursive mutex unlock twice", pthread_mutex_unlock(&m), 0);
	expect(who, "recursive mutex unlock when not held", pthread_mutex_unlock(&m), EPERM);
	pthread_mutex_destroy(&m);

	init_mutex(&m, PTHREAD_MUTEX_ERRORCHECK);
	expect(who, "errorcheck mutex lock", pthread_mutex_lock(&m), 0);
	expect(who, "errorcheck mutex relock", pthread_mutex_lock(&m), EDEADLK);
	expect(who, "errorcheck mutex unlock", pthread_mutex_unlock(&m), 0);
	expect(who, "errorcheck mutex unlock when not held", pthread_mutex_unlock(&m), EPERM);
	pthread_mutex_destroy(&m);
}

static void sem_wait_intr(sem_t *s)
{
	while (sem_wait(s) != 0 && errno == EINTR)
		;
}

/* ---- workers ---- */

struct worker {
	int index;
	char name[16];
	pthread_t thread;
	long counter;
	void *tl_addr;
	pthread_mutex_t held; /* error-checking, locked across the dump (--held) */
};
static struct worker workers[MAX_WORKERS];

static long worker_steps(int i) { return (i + 1) * 1000L; }

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int i = w->index;
	const char *who = w->name;
	pthread_setname_np(pthread_self(), who);
	tl_value = tl_expected(i);
	w->tl_addr = &tl_value;
	if (!fresh)
		set_mask(worker_mask(i));
	volatile long local = 0; /* on this thread's stack */
	for (long k = 0; k < worker_steps(i); k++) {
		w->counter++;
		local++;
		add_to_sum(1);
	}
	int real_tid = raw_gettid();
	if (held)
		expect(who, "lock of the mutex held across the dump", pthread_mutex_lock(&w->held), 0);
	if (fresh && i == n_workers - 1)
		set_cached_tid(real_tid | 0x40000000); /* above any pid (PID_MAX_LIMIT is 2^22) */
	sem_post(&setup_done);

	pthread_barrier_wait(&barrier);

	if (tl_value != tl_expected(i) || (void *)&tl_value != w->tl_addr)
		FAIL("%s: __thread value %#x at %p, want %#x at %p", who, tl_value, (void *)&tl_value,
		     tl_expected(i), w->tl_addr);
	if (w->counter != worker_steps(i) || local != worker_steps(i))
		FAIL("%s: counter %ld, stack local %ld, want %ld", who, w->counter, (long)local,
		     worker_steps(i));
	check_mask(who, worker_mask(i));
	check_tid(who);
	if (tl_usr1_count != 1 || tl_usr1_tid != raw_gettid())
		FAIL("%s: SIGUSR1 from main ran %d times here (in tid %d), want once in %d", who,
		     (int)tl_usr1_count, (int)tl_usr1_tid, (int)raw_gettid());
	expect(who, "pthread_kill(self, 0)", pthread_kill(pthread_self(), 0), 0);
	tl_usr1_tid = 0;
	expect(who, "pthread_kill(self, SIGUSR1)", pthread_kill(pthread_self(), SIGUSR1), 0);
	if (tl_usr1_count != 2 || tl_usr1_tid != raw_gettid())
		FAIL("%s: pthread_kill(self, SIGUSR1): handler ran %d times in all (last in tid %d), want twice, in %d",
		     who, (int)tl_usr1_count, (int)tl_usr1_tid, (int)raw_gettid());
	cpu_set_t cpus;
	expect(who, "pthread_getaffinity_np(self)",
	       pthread_getaffinity_np(pthread_self(), sizeof cpus, &cpus), 0);
	if (held)
		expect(who, "unlock of the mutex held across the dump", pthread_mutex_unlock(&w->held),
		       0);
	check_mutexes(who);
	add_to_sum(i + 1);
	if (fresh && i == n_workers - 1)
		set_cached_tid(real_tid); /* leave glibc a sane thread to tear down */
	return NULL;
}

/* ---- the condition variable waiter ---- */

static pthread_mutex_t cv_lock;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int predicate;

static void *condvar_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "condvar");
	pthread_mutex_lock(&cv_lock);
	/* Main can take the lock only once we are inside pthread_cond_wait. */
	sem_post(&setup_done);
	while (predicate != PREDICATE)
		pthread_cond_wait(&cv, &cv_lock);
	check_tid("condvar");
	expect("condvar", "unlock of the mutex pthread_cond_wait reacquired",
	       pthread_mutex_unlock(&cv_lock), 0);
	return NULL;
}

/* ---- the sleeper ---- */

static long long slept_ns;
/* Posted at check time: a sleeper done early (a slow, busy machine) stays
 * a thread until then, so the thread count the test compares holds. */
static sem_t sleeper_release;
static int sleep_eintr;

static long long mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *sleeper_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "sleeper");
	long long t0 = mono_ns();
	sem_post(&setup_done);
	struct timespec req = {SLEEP_SECONDS, 0}, rem;
	while (nanosleep(&req, &rem) != 0) {
		if (errno != EINTR) {
			FAIL("sleeper: nanosleep: %s", strerror(errno));
			break;
		}
		sleep_eintr++;
		req = rem;
	}
	slept_ns = mono_ns() - t0;
	check_tid("sleeper");
	sem_wait_intr(&sleeper_release);
	return NULL;
}

/* ---- the detached thread ---- */

static sem_t detached_go, detached_done;

static void *detached_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "detached");
	tl_value = 0xde7ac4;
	sem_post(&setup_done);
	sem_wait_intr(&detached_go);
	if (tl_value != 0xde7ac4)
		FAIL("detached: __thread value %#x want %#x", tl_value, 0xde7ac4);
	check_tid("detached");
	expect("detached", "pthread_kill(self, 0)", pthread_kill(pthread_self(), 0), 0);
	cpu_set_t cpus;
	expect("detached", "pthread_getaffinity_np(self)",
	       pthread_getaffinity_np(pthread_self(), sizeof cpus, &cpus), 0);
	pthread_attr_t a;
	int state = -1;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getdetachstate(&a, &state);
		pthread_attr_destroy(&a);
	}
	if (state != PTHREAD_CREATE_DETACHED)
		FAIL("detached: detach state %d want PTHREAD_CREATE_DETACHED", state);
	sem_post(&detached_done);
	return NULL;
}

/* ---- the thread with a big stack guard ---- */

static char *guard_lo, *guard_hi; /* the guard: [lo, hi), just below the stack */
static char *alt_base;

/* The permissions and end of the mapping holding ADDR, from /proc/self/maps. */
static int mapping_of(const char *addr, char perms[5], uintptr_t *end)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	char line[512];
	int found = -1;
	while (fgets(line, sizeof line, f)) {
		uintptr_t lo, hi;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) != 3)
			continue;
		if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			memcpy(perms, p, 5);
			*end = hi;
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

/* The guard is a PROT_NONE mapping that ends where the stack begins. */
static int guard_ok(const char *who, int report)
{
	char perms[5] = "";
	uintptr_t end = 0;
	if (mapping_of(guard_hi - 1, perms, &end) != 0 || strcmp(perms, "---p") != 0 ||
	    end != (uintptr_t)guard_hi) {
		if (report)
			FAIL("%s: guard [%p, %p) is mapped '%s' up to %#lx, want '---p' up to %p", who,
			     (void *)guard_lo, (void *)guard_hi, perms, (unsigned long)end,
			     (void *)guard_hi);
		return 0;
	}
	if (mapping_of(guard_lo, perms, &end) != 0 || strcmp(perms, "---p") != 0) {
		if (report)
			FAIL("%s: guard start %p is mapped '%s', want '---p'", who, (void *)guard_lo, perms);
		return 0;
	}
	return 1;
}

static void *guard_main(void *arg)
{
	(void)arg;
	const char *who = "guard";
	pthread_setname_np(pthread_self(), who);
	pthread_attr_t a;
	void *stack;
	size_t size, guard;
	pthread_getattr_np(pthread_self(), &a);
	pthread_attr_getstack(&a, &stack, &size);
	pthread_attr_getguardsize(&a, &guard);
	pthread_attr_destroy(&a);
	/* glibc 2.36 reports the stack without its guard, which lies below. */
	guard_hi = stack;
	guard_lo = guard_hi - guard;
	if (guard != GUARD_BYTES || !guard_ok(who, 0)) {
		fprintf(stderr, "state_threads: guard thread's guard is not where glibc 2.36 puts it\n");
		exit(2);
	}
	alt_base = malloc(ALTSTACK_BYTES);
	stack_t ss = {.ss_sp = alt_base, .ss_size = ALTSTACK_BYTES};
	sigaltstack(&ss, NULL);
	sem_post(&setup_done);

	pthread_barrier_wait(&barrier);

	guard_ok(who, 1);
	stack_t cur;
	sigaltstack(NULL, &cur);
	if (cur.ss_sp != alt_base || cur.ss_size != ALTSTACK_BYTES || cur.ss_flags != 0)
		FAIL("%s: alternate stack %p+%zu flags %d, want %p+%d flags 0", who, cur.ss_sp,
		     cur.ss_size, cur.ss_flags, (void *)alt_base, ALTSTACK_BYTES);
	volatile char *probe = guard_lo + GUARD_BYTES / 2;
	tl_fault_addr = NULL;
	tl_handler_sp = 0;
	tl_probing = 1;
	if (sigsetjmp(tl_jmp, 1) == 0) {
		(void)*probe;
		tl_probing = 0;
		FAIL("%s: reading the guard at %p did not fault", who, (void *)probe);
	} else {
		tl_probing = 0;
		if (tl_fault_addr != (void *)probe)
			FAIL("%s: guard fault at %p, want %p", who, tl_fault_addr, (void *)probe);
		if (tl_handler_sp < (uintptr_t)alt_base ||
		    tl_handler_sp >= (uintptr_t)alt_base + ALTSTACK_BYTES)
			FAIL("%s: SIGSEGV handler ran on %#lx, not on the alternate stack %p+%d", who,
			     (unsigned long)tl_handler_sp, (void *)alt_base, ALTSTACK_BYTES);
	}
	check_tid(who);
	return NULL;
}

/* ---- main ---- */

static void start_thread(pthread_t *t, const char *what, void *(*fn)(void *), void *arg,
			 const pthread_attr_t *attr)
{
	int r = pthread_create(t, attr, fn, arg);
	if (r != 0) {
		fprintf(stderr, "state_threads: pthread_create %s: %s\n", what, strerror(r));
		exit(2);
	}
}

static void join(pthread_t t, const char *who)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_SECONDS;
	int r = pthread_timedjoin_np(t, NULL, &until);
	if (r != 0)
		FAIL("main: joining %s: %s%s", who, strerror(r),
		     r == ETIMEDOUT ? " (its exit did not clear glibc's tid: clear-child-tid lost?)" : "");
}

int main(int argc, char **argv)
{
	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--fresh") == 0)
			fresh = 1;
		else if (strcmp(argv[a], "--held") == 0)
			held = 1;
		else
			n_workers = atoi(argv[a]);
	}
	if (n_workers < 2 || n_workers > MAX_WORKERS) {
		fprintf(stderr, "usage: state_threads [--fresh] [--held] [WORKERS 2..%d]\n", MAX_WORKERS);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	tid_offset = find_tid();
	if (tid_offset < 0) {
		fprintf(stderr, "state_threads: no unique copy of tid %d in the first %d bytes at pthread_self()\n",
			(int)raw_gettid(), SEARCH_BYTES);
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, NULL);

	sem_init(&setup_done, 0, 0);
	sem_init(&detached_go, 0, 0);
	sem_init(&detached_done, 0, 0);
	sem_init(&sleeper_release, 0, 0);
	pthread_barrier_init(&barrier, NULL, n_workers + 2);
	init_mutex(&cv_lock, PTHREAD_MUTEX_ERRORCHECK);

	for (int i = 0; i < n_workers; i++) {
		struct worker *w = &workers[i];
		w->index = i;
		snprintf(w->name, sizeof w->name, "w%d", i);
		init_mutex(&w->held, PTHREAD_MUTEX_ERRORCHECK);
		start_thread(&w->thread, w->name, worker_main, w, NULL);
	}
	pthread_t condvar, sleeper, detached, guard;
	start_thread(&condvar, "condvar", condvar_main, NULL, NULL);
	start_thread(&sleeper, "sleeper", sleeper_main, NULL, NULL);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	start_thread(&detached, "detached", detached_main, NULL, &attr);
	pthread_attr_destroy(&attr);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_attr_setguardsize(&attr, GUARD_BYTES);
	start_thread(&guard, "guard", guard_main, NULL, &attr);
	pthread_attr_destroy(&attr);
	for (int i = 0; i < n_workers + OTHER_THREADS - 1; i++)
		sem_wait_intr(&setup_done);
	/* After the pthread_creates: new threads take their creator's mask. */
	set_mask(main_mask_bits);
	printf("ready%s: %d workers, %d threads\n", fresh ? " (fresh)" : "", n_workers,
	       n_workers + OTHER_THREADS);

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("main: no check line on stdin");

	check_tid("main");
	check_mask("main", main_mask_bits);
	for (int i = 0; i < n_workers; i++) {
		struct worker *w = &workers[i];
		char name[16] = "";
		int r = pthread_getname_np(w->thread, name, sizeof name);
		if (r != 0 || strcmp(name, w->name) != 0)
			FAIL("main: pthread_getname_np(%s): returned %d (%s), name '%s'", w->name, r,
			     strerror(r), name);
		cpu_set_t cpus;
		expect("main", "pthread_getaffinity_np(worker)",
		       pthread_getaffinity_np(w->thread, sizeof cpus, &cpus), 0);
		expect("main", "pthread_kill(worker, SIGUSR1)", pthread_kill(w->thread, SIGUSR1), 0);
	}
	pthread_barrier_wait(&barrier);

	expect("main", "lock of the condvar's mutex", pthread_mutex_lock(&cv_lock), 0);
	predicate = PREDICATE;
	pthread_cond_signal(&cv);
	expect("main", "unlock of the condvar's mutex", pthread_mutex_unlock(&cv_lock), 0);

	sem_post(&detached_go);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_SECONDS;
	while (sem_timedwait(&detached_done, &until) != 0) {
		if (errno != EINTR) {
			FAIL("main: the detached thread did not report back: %s", strerror(errno));
			break;
		}
	}

	for (int i = 0; i < n_workers; i++)
		join(workers[i].thread, workers[i].name);
	join(condvar, "condvar");
	sem_post(&sleeper_release);
	join(sleeper, "sleeper");
	join(guard, "guard");

	long want_sum = 0;
	for (int i = 0; i < n_workers; i++)
		want_sum += worker_steps(i) + i + 1;
	if (shared_sum != want_sum)
		FAIL("main: shared sum %ld want %ld", shared_sum, want_sum);
	if (slept_ns < SLEEP_SECONDS * 1000000000LL)
		FAIL("sleeper: slept %lld ns of %d s", slept_ns, SLEEP_SECONDS);
	if (failures)
		return 1;
	printf("PASS threads: %d workers and 4 other threads, each with its own tid, mask, TLS and counter; sum %ld; slept %.2f s (%d EINTR)\n",
	       n_workers, shared_sum, slept_ns / 1e9, sleep_eintr);
	return 0;
}
