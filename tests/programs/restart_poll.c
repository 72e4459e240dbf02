/*
 * restart_poll: dumped while blocked in poll(2) on stdin with no timeout
 * (-1), nothing to read yet.
 *
 * Expected kernel behaviour (fs/select.c): do_poll() ends with
 * -ERESTARTNOHAND when a signal is pending, and sys_poll() turns every
 * -ERESTARTNOHAND into -ERESTART_RESTARTBLOCK with do_restart_poll() as the
 * restart function -- with or without a timeout (has_timeout = 0 here).
 * With no handler, arch_do_signal_or_restart() makes the thread call
 * restart_syscall(), i.e. poll() again with the same fds and no timeout:
 * the caller sees no interruption and poll() returns 1 (POLLIN) when the
 * line arrives. Observed at dump: orig_rax 7 (poll), rax -516.
 *
 * So this test asserts the transparent restart. NOTE: the restorer's rule
 * in x86/SyscallRestart.h returns -EINTR for every -516; for poll with a
 * negative timeout (rdx < 0) re-executing poll() is exactly what
 * do_restart_poll() would do, and that is what this test demands.
 *
 * --fresh: poll() is never called, the result stays unset: the check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	struct pollfd p = { .fd = 0, .events = POLLIN };
	long r = -2; /* "never called" */
	int err = 0;

	dprintf(1, "ready\n");
	if (!fresh) {
		/* The raw syscall: glibc's poll() is the same syscall 7 on x86-64,
		 * this just makes sure of it. */
		r = syscall(SYS_poll, &p, 1, -1);
		err = errno;
	}

	char line[64];
	ssize_t n = read(0, line, sizeof line - 1);
	int bad = 0;
	if (r == -1) {
		dprintf(1, "FAIL poll(-1) returned -1 errno %d (%s): not restarted\n", err, strerror(err));
		bad = 1;
	} else if (r != 1 || !(p.revents & POLLIN)) {
		dprintf(1, "FAIL poll(-1) returned %ld revents %#x, expected 1 with POLLIN\n", r, p.revents);
		bad = 1;
	}
	if (n != 6 || memcmp(line, "check\n", 6) != 0) {
		dprintf(1, "FAIL expected the line 'check' on stdin (read %zd bytes)\n", n);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS poll(-1) restarted and returned 1 (POLLIN)\n");
	return 0;
}
