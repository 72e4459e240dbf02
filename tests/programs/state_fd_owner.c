/*
 * state_fd_owner: signal-driven I/O must keep working: an open file
 * description's owner (F_SETOWN), its signal (F_SETSIG) and O_ASYNC.
 *
 * Setup: a pipe whose read end has O_ASYNC, owner this process
 * (F_SETOWN getpid()) and signal SIGUSR2 (blocked, so it is taken with
 * sigtimedwait, not by a handler); a second pipe whose read end is owned
 * by this process's main thread (F_SETOWN_EX F_OWNER_TID gettid()) with
 * the default signal (SIGIO, blocked too).
 *
 * Check: F_GETOWN gives this process's pid (the new one after restore),
 * F_GETOWN_EX of the second gives F_OWNER_TID and the main thread's tid,
 * F_GETSIG gives SIGUSR2 and 0, O_ASYNC is set on both; a byte written to
 * the first pipe brings SIGUSR2 with si_fd = its read end, and one
 * written to the second brings SIGIO (each waited for without a time limit
 * that could fail a slow machine: 60 s).
 *
 * Protocol: see tests/e2e/state.sh. --fresh makes the pipes without owner,
 * signal or O_ASYNC, so every check fails.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static int a[2], b[2];

static int wait_for(int sig, int *fd)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	siginfo_t si;
	struct timespec limit = {60, 0};
	int got = sigtimedwait(&set, &si, &limit);
	if (fd)
		*fd = si.si_fd;
	return got == sig;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGIO);
	sigprocmask(SIG_BLOCK, &block, NULL);
	if (pipe(a) != 0 || pipe(b) != 0)
		tp_die("pipe");
	if (!fresh) {
		struct f_owner_ex me = {F_OWNER_TID, gettid()};
		if (fcntl(a[0], F_SETOWN, getpid()) != 0 || fcntl(a[0], F_SETSIG, SIGUSR2) != 0 ||
		    fcntl(a[0], F_SETFL, O_ASYNC) != 0 || fcntl(b[0], F_SETOWN_EX, &me) != 0 ||
		    fcntl(b[0], F_SETFL, O_ASYNC) != 0)
			tp_die("fcntl");
	}
	tp_ready(fresh);
	tp_wait_check();

	if (fcntl(a[0], F_GETOWN) != getpid())
		FAIL("F_GETOWN of the first pipe gives %d, want this process %d", fcntl(a[0], F_GETOWN), getpid());
	struct f_owner_ex owner = {0, 0};
	if (fcntl(b[0], F_GETOWN_EX, &owner) != 0 || owner.type != F_OWNER_TID || owner.pid != gettid())
		FAIL("F_GETOWN_EX of the second pipe gives type %d id %d, want F_OWNER_TID %d", owner.type, owner.pid,
		     gettid());
	if (fcntl(a[0], F_GETSIG) != SIGUSR2 || fcntl(b[0], F_GETSIG) != 0)
		FAIL("F_GETSIG gives %d and %d, want SIGUSR2 (%d) and 0", fcntl(a[0], F_GETSIG), fcntl(b[0], F_GETSIG), SIGUSR2);
	if (!(fcntl(a[0], F_GETFL) & O_ASYNC) || !(fcntl(b[0], F_GETFL) & O_ASYNC))
		FAIL("O_ASYNC is not set on both read ends");
	if (!tp_failures) {
		int fd = -1;
		if (write(a[1], "x", 1) != 1 || !wait_for(SIGUSR2, &fd) || fd != a[0])
			FAIL("writing to the first pipe did not bring SIGUSR2 with si_fd %d (si_fd %d)", a[0], fd);
		if (write(b[1], "x", 1) != 1 || !wait_for(SIGIO, NULL))
			FAIL("writing to the second pipe did not bring SIGIO");
	}
	return tp_finish("F_SETOWN (process and main thread), F_SETSIG and O_ASYNC: SIGUSR2 and SIGIO arrive");
}
