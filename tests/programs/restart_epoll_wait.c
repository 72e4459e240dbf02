/*
 * restart_epoll_wait: dumped while blocked in epoll_wait(2), 3 s timeout, on an epoll fd
 * watching stdin, nothing to read yet.
 *
 * Expected kernel behaviour (fs/eventpoll.c, ep_poll): on a pending signal
 * it returns -EINTR itself -- no restart code at all (epoll_wait(2): never
 * restarted; signal(7): fails with EINTR after a stop even without
 * handlers). So the original process sees -1/EINTR too when the dumper's
 * PTRACE_INTERRUPT arrives, and the restorer leaves rax = -4 alone
 * (x86/SyscallRestart.h). Observed with a PTRACE_SEIZE/INTERRUPT/DETACH
 * probe on Linux 6.18: orig_rax 232 (epoll_wait), rax -4, and the live
 * process got EINTR.
 *
 * Checked: epoll_wait returned -1/EINTR before its 3 s; then the line
 * "check" is read. --fresh: epoll_wait is never called: the check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	long r = -2; /* "never called" */
	int err = 0;
	double took = 0;

	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = 0 };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) != 0) {
		dprintf(1, "FAIL epoll setup: %s\n", strerror(errno));
		return 1;
	}
	dprintf(1, "ready\n");
	if (!fresh) {
		struct epoll_event got;
		double t0 = now();
		r = epoll_wait(ep, &got, 1, 3000);
		err = errno;
		took = now() - t0;
	}

	char line[64];
	ssize_t n = read(0, line, sizeof line - 1);
	int bad = 0;
	if (r != -1 || err != EINTR) {
		dprintf(1, "FAIL epoll_wait returned %ld errno %d (%s), expected -1 EINTR\n", r, err, strerror(err));
		bad = 1;
	} else if (took >= 3.0) {
		dprintf(1, "FAIL epoll_wait returned EINTR only after %.3f s\n", took);
		bad = 1;
	}
	if (n != 6 || memcmp(line, "check\n", 6) != 0) {
		dprintf(1, "FAIL expected the line 'check' on stdin (read %zd bytes)\n", n);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS epoll_wait returned EINTR after %.3f s\n", took);
	return 0;
}
