/*
 * state_rlimits_last: a process that lowered its limits below what it
 * already holds (the kernel allows it) must come back whole: the saved
 * limits are set last, after the trampoline has placed every fd and queued
 * every pending signal. (Before, they were set first: dup3 onto fd 900
 * failed with EBADF, and queueing the fifth real-time signal with EAGAIN,
 * after the point of no return: exit 120, process lost.)
 *
 * Setup: a second thread (blocked in pause()), /dev/null on fd 900, an
 * eventfd with count 5 on fd 800, then RLIMIT_NOFILE soft limit 64 (the
 * threads' rendezvous fds must then go under the caller's limit); SIGRTMIN+1 blocked and queued 8 times with
 * sigqueue (values 1..8), then RLIMIT_SIGPENDING soft limit 4 (hard limits
 * unchanged).
 *
 * Check: fds 800 and 900 are what they were; the soft limits are 64 and 4
 * and the hard ones as before; dup2 onto fd 100 fails with EBADF (the
 * limit is in force, not just reported); the 8 signals are pending and come
 * out with their values in order; both threads are there.
 *
 * Protocol: see tests/e2e/state.sh. --fresh sets nothing up.
 */
#include "testprog.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	struct rlimit before = {0, 0}, sig_before = {0, 0};
	getrlimit(RLIMIT_NOFILE, &before);
	getrlimit(RLIMIT_SIGPENDING, &sig_before);
	sigset_t rt;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &rt, NULL);
	if (!fresh) {
		pthread_t t;
		if (pthread_create(&t, NULL, idle, NULL) != 0) {
			perror("pthread_create");
			return 2;
		}
		int null = open("/dev/null", O_RDWR);
		int ev = eventfd(5, 0);
		if (null < 0 || ev < 0 || dup2(null, 900) != 900 || dup2(ev, 800) != 800) {
			perror("setup");
			return 2;
		}
		close(null);
		close(ev);
		struct rlimit low = {64, before.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &low) != 0) {
			perror("setrlimit");
			return 2;
		}
		for (int i = 1; i <= 8; i++)
			if (sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = i}) != 0) {
				perror("sigqueue");
				return 2;
			}
		struct rlimit few = {4, sig_before.rlim_max};
		if (setrlimit(RLIMIT_SIGPENDING, &few) != 0) {
			perror("setrlimit");
			return 2;
		}
	}
	tp_ready(fresh);
	tp_wait_check();

	struct stat st, null_st;
	if (fstat(900, &st) != 0 || stat("/dev/null", &null_st) != 0 || st.st_rdev != null_st.st_rdev)
		FAIL("fd 900 is not /dev/null any more");
	uint64_t count = 0;
	if (read(800, &count, sizeof count) != sizeof count || count != 5)
		FAIL("fd 800 is not the eventfd with count 5 (read %llu)", (unsigned long long)count);
	struct rlimit now;
	getrlimit(RLIMIT_NOFILE, &now);
	if (now.rlim_cur != 64 || now.rlim_max != before.rlim_max)
		FAIL("RLIMIT_NOFILE is %llu/%llu, expected 64/%llu", (unsigned long long)now.rlim_cur,
		     (unsigned long long)now.rlim_max, (unsigned long long)before.rlim_max);
	errno = 0;
	if (dup2(0, 100) != -1 || errno != EBADF)
		FAIL("dup2 onto fd 100 did not fail with EBADF under the limit of 64");
	getrlimit(RLIMIT_SIGPENDING, &now);
	if (now.rlim_cur != 4 || now.rlim_max != sig_before.rlim_max)
		FAIL("RLIMIT_SIGPENDING is %llu/%llu, expected 4/%llu", (unsigned long long)now.rlim_cur,
		     (unsigned long long)now.rlim_max, (unsigned long long)sig_before.rlim_max);
	struct timespec zero = {0, 0};
	for (int i = 1; i <= 8; i++) {
		siginfo_t info;
		if (sigtimedwait(&rt, &info, &zero) != SIGRTMIN + 1 || info.si_value.sival_int != i) {
			FAIL("queued signal %d of 8 is missing or out of order", i);
			break;
		}
	}
	if (thread_count() != 2)
		FAIL("%d threads, expected 2", thread_count());
	return tp_finish("2 threads, fds 800 and 900 above RLIMIT_NOFILE 64, 8 signals queued above RLIMIT_SIGPENDING 4");
}
