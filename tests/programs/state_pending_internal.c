/*
 * state_pending_internal: signals 32 and 33 (glibc's internal SIGCANCEL /
 * SIGTIMER and SIGSETXID, which glibc's sigfillset/sigprocmask never block)
 * and 64 (the last one), pending while blocked, per thread and process-wide,
 * must survive a checkpoint: restore must keep them blocked all the way
 * (a full 64-bit raw mask), or their default action kills the process.
 *
 * Setup (raw rt_sigprocmask/rt_sigaction: glibc refuses 32 and 33) sets
 * SIG_DFL for 32, 33 and 64, starts a second thread that waits in read(),
 * blocks the three in both threads and makes pending:
 *   32  process-wide, rt_sigqueueinfo, value 32        SI_QUEUE
 *   33  process-wide, rt_sigqueueinfo, value 33        SI_QUEUE
 *   64  process-wide, rt_sigqueueinfo, value 64        SI_QUEUE
 *   33  for the main thread, tgkill                    SI_TKILL
 *   32  for the second thread, rt_tgsigqueueinfo, 320  SI_QUEUE
 *   64  for the second thread, tgkill                  SI_TKILL
 *
 * Check: each thread's SigBlk holds 32, 33 and 64, its SigPnd and the
 * process's ShdPnd are as above, and rt_sigtimedwait takes each signal back
 * with its siginfo; then nothing is pending.
 *
 * Protocol: tests/e2e/state.sh; --fresh blocks but sends nothing.
 */
#include "testprog.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t bit(int sig) { return 1ULL << (sig - 1); }
static const uint64_t kBlocked = (1ULL << 31) | (1ULL << 32) | (1ULL << 63); /* 32, 33, 64 */
static pid_t setup_pid;
static int wake[2];
static pid_t second_tid_seen;

static uint64_t status_field(const char *file, const char *name) { return tp_status_hex(file, name); }

static void expect_set(const char *who, const char *what, uint64_t got, uint64_t want)
{
	if (got != want)
		FAIL("%s %s: got 0x%016llx want 0x%016llx", who, what, (unsigned long long)got,
		     (unsigned long long)want);
}

/* Takes `sig` back (zero timeout, raw call) and checks its siginfo; value < 0: SI_TKILL. */
static void take(const char *who, int sig, int value)
{
	uint64_t set = bit(sig);
	siginfo_t si;
	struct timespec zero = {0, 0};
	memset(&si, 0, sizeof si);
	long r = syscall(SYS_rt_sigtimedwait, &set, &si, &zero, 8);
	if (r != sig) {
		FAIL("%s: signal %d not pending (rt_sigtimedwait %ld, %s)", who, sig, r, strerror(errno));
		return;
	}
	int code = value < 0 ? SI_TKILL : SI_QUEUE;
	if (si.si_code != code)
		FAIL("%s: signal %d si_code %d, want %d", who, sig, si.si_code, code);
	if (si.si_pid != setup_pid)
		FAIL("%s: signal %d si_pid %d, want %d", who, sig, (int)si.si_pid, (int)setup_pid);
	if (value >= 0 && si.si_value.sival_int != value)
		FAIL("%s: signal %d si_value %d, want %d", who, sig, si.si_value.sival_int, value);
}

static void check_thread(const char *who, uint64_t thread_pending)
{
	uint64_t blocked = 0;
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &blocked, 8);
	if ((blocked & kBlocked) != kBlocked)
		FAIL("%s: blocked mask 0x%016llx lacks 32, 33 or 64", who, (unsigned long long)blocked);
	expect_set(who, "SigPnd", status_field("/proc/thread-self/status", "SigPnd"), thread_pending);
}

static void *second(void *arg)
{
	char c;
	uint64_t block = kBlocked;
	(void)arg;
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &block, NULL, 8) != 0)
		tp_die("rt_sigprocmask");
	__atomic_store_n(&second_tid_seen, gettid(), __ATOMIC_RELEASE);
	if (read(wake[0], &c, 1) != 1)
		tp_die("read");
	check_thread("second thread", bit(32) | bit(64));
	take("second thread", 32, 320);
	take("second thread", 64, -1);
	expect_set("second thread", "SigPnd at the end", status_field("/proc/thread-self/status", "SigPnd"), 0);
	return NULL;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	uint64_t block = kBlocked;
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} dfl = {SIG_DFL, 0, NULL, 0};
	for (int sig = 32; sig <= 64; sig += sig == 33 ? 31 : 1)
		if (syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8) != 0)
			tp_die("rt_sigaction");
	if (pipe(wake) != 0)
		tp_die("pipe");
	setup_pid = getpid();
	/* Each thread blocks for itself: glibc's pthread_create puts back the
	 * creator's mask without 32 and 33. */
	pthread_t t;
	pid_t second_tid = 0;
	if (pthread_create(&t, NULL, second, NULL) != 0)
		tp_die("pthread_create");
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &block, NULL, 8) != 0)
		tp_die("rt_sigprocmask");
	for (int i = 0; i < 5000 && !(second_tid = __atomic_load_n(&second_tid_seen, __ATOMIC_ACQUIRE)); i++)
		usleep(1000);
	if (!second_tid)
		tp_die("finding the second thread");
	if (!fresh) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		si.si_code = SI_QUEUE;
		si.si_pid = getpid();
		si.si_uid = getuid();
		si.si_signo = 32, si.si_value.sival_int = 32;
		if (syscall(SYS_rt_sigqueueinfo, getpid(), 32, &si) != 0)
			tp_die("rt_sigqueueinfo 32");
		si.si_signo = 33, si.si_value.sival_int = 33;
		if (syscall(SYS_rt_sigqueueinfo, getpid(), 33, &si) != 0)
			tp_die("rt_sigqueueinfo 33");
		si.si_signo = 64, si.si_value.sival_int = 64;
		if (syscall(SYS_rt_sigqueueinfo, getpid(), 64, &si) != 0)
			tp_die("rt_sigqueueinfo 64");
		if (syscall(SYS_tgkill, getpid(), gettid(), 33) != 0)
			tp_die("tgkill 33");
		si.si_signo = 32, si.si_value.sival_int = 320;
		if (syscall(SYS_rt_tgsigqueueinfo, getpid(), second_tid, 32, &si) != 0)
			tp_die("rt_tgsigqueueinfo 32");
		if (syscall(SYS_tgkill, getpid(), second_tid, 64) != 0)
			tp_die("tgkill 64");
	}
	tp_ready(fresh);
	tp_wait_check();

	check_thread("main thread", bit(33));
	expect_set("process", "ShdPnd", status_field("/proc/self/status", "ShdPnd"), bit(32) | bit(33) | bit(64));
	take("main thread", 33, -1); /* its own queue first, then the process's */
	take("main thread", 33, 33);
	take("main thread", 32, 32);
	take("main thread", 64, 64);
	if (write(wake[1], "g", 1) != 1)
		tp_die("write");
	pthread_join(t, NULL);
	expect_set("process", "ShdPnd at the end", status_field("/proc/self/status", "ShdPnd"), 0);
	expect_set("main thread", "SigPnd at the end", status_field("/proc/thread-self/status", "SigPnd"), 0);
	return tp_finish("signals 32, 33, 64 pending and blocked, per thread and process-wide, with their siginfo");
}
