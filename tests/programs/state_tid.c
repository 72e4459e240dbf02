/*
 * state_tid: the thread id glibc caches in its thread descriptor must name
 * this thread after a restore. The restored process has restore's pid, not
 * the dumped one, so the restorer rewrites the cached tid; whatever reads it
 * (pthread_sigqueue, pthread_getaffinity_np, pthread_getschedparam, mutex
 * owners) must then see the new id.
 *
 * Setup: install SA_SIGINFO handlers for SIGUSR1 and SIGUSR2, and find the
 * cached tid: the one 4-byte word in the first 2 KiB of the descriptor at
 * pthread_self() that equals gettid() (glibc 2.36: offset 0x2d0).
 *
 * Check: getpid() equals the raw getpid, gettid() equals getpid(); the
 * cached tid equals gettid(); raise(SIGUSR1), pthread_kill(self, 0),
 * pthread_kill(self, SIGUSR2) and pthread_sigqueue(self, SIGUSR2, 42) all
 * work and the handlers see the right siginfo; pthread_getaffinity_np and
 * pthread_getschedparam on ourselves succeed; an error-checking, a
 * recursive and a robust mutex lock and unlock with the right owner
 * recorded, EDEADLK on relocking the error-checking one, EPERM on unlocking
 * one not held.
 *
 * Protocol: see tests/e2e/state.sh. A tid cannot be "not set up", so
 * --fresh instead writes a wrong tid (one no process has) into the cache:
 * what a restore that forgets to rewrite it leaves behind. glibc 2.36's
 * raise() and pthread_kill(self) ask the kernel for the tid and still work
 * then; the cache compare, pthread_sigqueue, the affinity and scheduling
 * calls and the mutex owners fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SEARCH_BYTES 2048

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

static long tid_offset = -1;

static volatile sig_atomic_t usr1_ran, usr1_code, usr2_ran, usr2_code, usr2_value;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	usr1_ran++;
	usr1_code = si->si_code;
}

static void on_usr2(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	usr2_ran++;
	usr2_code = si->si_code;
	usr2_value = si->si_code == SI_QUEUE ? si->si_value.sival_int : -1;
}

static pid_t raw_gettid(void) { return (pid_t)syscall(SYS_gettid); }

static int cached_tid(void)
{
	int v;
	memcpy(&v, (char *)pthread_self() + tid_offset, sizeof v);
	return v;
}

/* The offset of the one word equal to our tid, or -1 (none or several). */
static long find_tid(void)
{
	const char *pd = (const char *)pthread_self();
	int tid = raw_gettid(), matches = 0;
	long at = -1;
	for (long off = 0; off + 4 <= SEARCH_BYTES; off += 8) { /* pid_t tid is 8-aligned; see dumper/TaskState.cpp */
		int v;
		memcpy(&v, pd + off, sizeof v);
		if (v == tid) {
			matches++;
			at = off;
		}
	}
	return matches == 1 ? at : -1;
}

static void check_ids(void)
{
	pid_t pid = getpid(), raw = (pid_t)syscall(SYS_getpid), tid = raw_gettid();
	if (pid != raw)
		FAIL("getpid(): got %d want %d (the kernel's)", (int)pid, (int)raw);
	if (gettid() != tid)
		FAIL("gettid(): got %d want %d (the kernel's)", (int)gettid(), (int)tid);
	if (tid != raw)
		FAIL("tid of the only thread: got %d want the pid %d", (int)tid, (int)raw);
	if (cached_tid() != tid)
		FAIL("glibc cached tid (pthread_self()+%#lx): got %d want %d", tid_offset, cached_tid(),
		     (int)tid);
}

static int handler_is(int sig, void (*h)(int, siginfo_t *, void *))
{
	struct sigaction cur;
	return sigaction(sig, NULL, &cur) == 0 && cur.sa_sigaction == h;
}

static void check_signals(void)
{
	/* Lost handlers are state_sigactions' business; here they would only
	 * kill us before we can say what is wrong. */
	if (!handler_is(SIGUSR1, on_usr1) || !handler_is(SIGUSR2, on_usr2)) {
		FAIL("SIGUSR1/SIGUSR2 handlers not installed after restore: signals not sent");
		return;
	}
	int r = raise(SIGUSR1);
	if (r != 0 || usr1_ran != 1 || usr1_code != SI_TKILL)
		FAIL("raise(SIGUSR1): returned %d, handler ran %d times with si_code %d, want 0, 1, %d",
		     r, (int)usr1_ran, (int)usr1_code, SI_TKILL);

	r = pthread_kill(pthread_self(), 0);
	if (r != 0)
		FAIL("pthread_kill(self, 0): got %d (%s) want 0", r, strerror(r));

	r = pthread_kill(pthread_self(), SIGUSR2);
	if (r != 0 || usr2_ran != 1 || usr2_code != SI_TKILL)
		FAIL("pthread_kill(self, SIGUSR2): returned %d (%s), handler ran %d times with si_code %d, want 0, 1, %d",
		     r, strerror(r), (int)usr2_ran, (int)usr2_code, SI_TKILL);

	usr2_ran = 0;
	r = pthread_sigqueue(pthread_self(), SIGUSR2, (union sigval){.sival_int = 42});
	if (r != 0 || usr2_ran != 1 || usr2_code != SI_QUEUE || usr2_value != 42)
		FAIL("pthread_sigqueue(self, SIGUSR2, 42): returned %d (%s), handler ran %d times with si_code %d value %d, want 0, 1, %d, 42",
		     r, strerror(r), (int)usr2_ran, (int)usr2_code, (int)usr2_value, SI_QUEUE);
}

static void check_sched(void)
{
	cpu_set_t cpus;
	int r = pthread_getaffinity_np(pthread_self(), sizeof cpus, &cpus);
	if (r != 0)
		FAIL("pthread_getaffinity_np(self): got %d (%s) want 0", r, strerror(r));
	struct sched_param sp;
	int policy;
	r = pthread_getschedparam(pthread_self(), &policy, &sp);
	if (r != 0)
		FAIL("pthread_getschedparam(self): got %d (%s) want 0", r, strerror(r));
}

static void expect(const char *what, int got, int want)
{
	if (got != want)
		FAIL("%s: got %d (%s) want %d (%s)", what, got, strerror(got), want, strerror(want));
}

static void init_mutex(pthread_mutex_t *m, int type, int robust)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	if (robust)
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

static void check_owner(const char *what, int got)
{
	if (got != raw_gettid())
		FAIL("%s owner: got %d want %d (our tid)", what, got, (int)raw_gettid());
}

static void check_mutexes(void)
{
	pthread_mutex_t m;

	init_mutex(&m, PTHREAD_MUTEX_ERRORCHECK, 0);
	expect("errorcheck mutex lock", pthread_mutex_lock(&m), 0);
	check_owner("errorcheck mutex", m.__data.__owner);
	expect("errorcheck mutex relock", pthread_mutex_lock(&m), EDEADLK);
	expect("errorcheck mutex trylock while held", pthread_mutex_trylock(&m), EBUSY);
	expect("errorcheck mutex unlock", pthread_mutex_unlock(&m), 0);
	expect("errorcheck mutex unlock when not held", pthread_mutex_unlock(&m), EPERM);
	expect("errorcheck mutex lock again", pthread_mutex_lock(&m), 0);
	expect("errorcheck mutex unlock again", pthread_mutex_unlock(&m), 0);
	pthread_mutex_destroy(&m);

	init_mutex(&m, PTHREAD_MUTEX_RECURSIVE, 0);
	expect("recursive mutex lock", pthread_mutex_lock(&m), 0);
	expect("recursive mutex lock twice", pthread_mutex_lock(&m), 0);
	check_owner("recursive mutex", m.__data.__owner);
	expect("recursive mutex unlock", pthread_mutex_unlock(&m), 0);
	expect("recursive mutex unlock twice", pthread_mutex_unlock(&m), 0);
	expect("recursive mutex unlock when not held", pthread_mutex_unlock(&m), EPERM);
	pthread_mutex_destroy(&m);

	/* A robust mutex's futex word holds the owner's tid: the kernel reads
	 * it (through the robust list) if the owner dies. */
	init_mutex(&m, PTHREAD_MUTEX_ERRORCHECK, 1);
	expect("robust mutex lock", pthread_mutex_lock(&m), 0);
	check_owner("robust mutex futex word", m.__data.__lock & FUTEX_TID_MASK);
	expect("robust mutex relock", pthread_mutex_lock(&m), EDEADLK);
	expect("robust mutex unlock", pthread_mutex_unlock(&m), 0);
	expect("robust mutex unlock when not held", pthread_mutex_unlock(&m), EPERM);
	pthread_mutex_destroy(&m);
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_flags = SA_SIGINFO;
	sa.sa_sigaction = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_sigaction = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);

	tid_offset = find_tid();
	if (tid_offset < 0) {
		fprintf(stderr, "state_tid: no unique copy of tid %d in the first %d bytes at pthread_self()\n",
			(int)raw_gettid(), SEARCH_BYTES);
		return 2;
	}
	if (fresh) {
		/* Above any pid the kernel hands out (PID_MAX_LIMIT is 2^22). */
		int wrong = raw_gettid() | 0x40000000;
		memcpy((char *)pthread_self() + tid_offset, &wrong, sizeof wrong);
	}
	printf("ready%s: cached tid at pthread_self()+%#lx\n", fresh ? " (fresh)" : "", tid_offset);

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	check_ids();
	check_signals();
	check_sched();
	check_mutexes();
	if (failures)
		return 1;
	printf("PASS tid: pid %d, cached tid right, raise/pthread_kill/pthread_sigqueue, sched calls and mutexes work\n",
	       (int)getpid());
	return 0;
}
