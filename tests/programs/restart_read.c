/*
 * restart_read: dumped while blocked in read(2) on its stdin pipe (a FIFO
 * the harness writes to), with nothing to read yet.
 *
 * Expected kernel behaviour: pipe_read() sleeps in
 * wait_event_interruptible_exclusive(), which returns -ERESTARTSYS when the
 * dumper's PTRACE_INTERRUPT sets TIF_SIGPENDING (fs/pipe.c). With no handler
 * to run, arch_do_signal_or_restart() (arch/x86/kernel/signal.c) rewinds rip
 * by 2 and re-executes read(): the caller never sees the interruption. The
 * restorer applies the same rule (x86/SyscallRestart.h), so after restore
 * the one read() call must return the line "check\n" the harness sends,
 * and never -1/EINTR. Observed at dump: orig_rax 0 (read), rax -512.
 *
 * --fresh: the data is read by other code, the read(2) under test is never
 * made, so its result stays unset and the check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	char buf[64] = "";
	ssize_t n = -2; /* "never called" */
	int err = 0;

	dprintf(1, "ready\n");
	if (!fresh) {
		/* One plain read(): a restart is invisible, an EINTR is not. */
		n = read(0, buf, sizeof buf - 1);
		err = errno;
	} else {
		/* Consume the line without the call under test. */
		char c;
		while (read(0, &c, 1) == 1 && c != '\n')
			;
	}

	int bad = 0;
	if (n == -1) {
		dprintf(1, "FAIL read returned -1 errno %d (%s), expected the line: not restarted\n", err,
			strerror(err));
		bad = 1;
	} else if (n != 6 || memcmp(buf, "check\n", 6) != 0) {
		buf[n > 0 ? n : 0] = 0;
		dprintf(1, "FAIL read returned %zd '%s', expected 6 bytes 'check\\n'\n", n, buf);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS read restarted and returned the line\n");
	return 0;
}
