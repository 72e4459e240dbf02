/*
 * restart_select: dumped while blocked in select(2) on stdin with a 3 s
 * timeout, nothing to read yet.
 *
 * Expected kernel behaviour (fs/select.c): core_sys_select() returns
 * -ERESTARTNOHAND on a pending signal, and poll_select_finish() first
 * writes the time left back to the caller's timeval (Linux updates the
 * timeout). With no handler the call is re-executed and so reads the
 * reduced timeout: select() waits on with the remaining time. The restorer
 * re-executes it too (x86/SyscallRestart.h). The harness sends "check"
 * right after the restore, so the one select() call returns 1 with fd 0
 * set, never EINTR. Observed at dump: orig_rax 23 (select), rax -514.
 *
 * The raw syscall 23 is used: glibc 2.36's select() makes pselect6 (270),
 * which ends the same way (poll_select_finish, -ERESTARTNOHAND).
 *
 * Checked: select() returned 1 with fd 0 readable; the timeval it left is
 * below 3 s (the kernel updated it); then the line is read.
 *
 * --fresh: select() is never called: the check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	fd_set rd;
	struct timeval tv = { 3, 0 };
	long r = -2; /* "never called" */
	int err = 0;

	FD_ZERO(&rd);
	dprintf(1, "ready\n");
	if (!fresh) {
		FD_SET(0, &rd);
		r = syscall(SYS_select, 1, &rd, NULL, NULL, &tv);
		err = errno;
	}

	char line[64];
	ssize_t n = read(0, line, sizeof line - 1);
	int bad = 0;
	if (r == -1) {
		dprintf(1, "FAIL select returned -1 errno %d (%s): not restarted\n", err, strerror(err));
		bad = 1;
	} else if (r != 1 || !FD_ISSET(0, &rd)) {
		dprintf(1, "FAIL select returned %ld (fd 0 %s), expected 1 with fd 0 readable%s\n", r,
			FD_ISSET(0, &rd) ? "set" : "not set", r == 0 ? ": it timed out" : "");
		bad = 1;
	} else if (!(tv.tv_sec < 3 && tv.tv_sec >= 0)) {
		dprintf(1, "FAIL select left timeout %ld.%06ld s, expected the remaining time below 3 s\n",
			(long)tv.tv_sec, (long)tv.tv_usec);
		bad = 1;
	}
	if (n != 6 || memcmp(line, "check\n", 6) != 0) {
		dprintf(1, "FAIL expected the line 'check' on stdin (read %zd bytes)\n", n);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS select restarted and returned 1 with %ld.%06ld s left\n", (long)tv.tv_sec,
		(long)tv.tv_usec);
	return 0;
}
