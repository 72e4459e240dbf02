/*
 * restart_wait4: dumped while blocked in wait4(2) for a child that sleeps
 * 3 s and exits.
 *
 * Expected kernel behaviour (kernel/exit.c, do_wait): with no child ready
 * and no WNOHANG, a pending signal makes it return -ERESTARTSYS; with no
 * handler the call is re-executed. The restorer re-executes it too
 * (x86/SyscallRestart.h). The child is dumped and restored with it (a
 * process tree, with its saved pid), so the re-executed wait4(child) waits
 * for it and returns it, exited 0, once its sleep ends. EINTR would mean
 * the call was not restarted; ECHILD that the child was not restored.
 * Observed at dump: orig_rax 61 (wait4), rax -512.
 *
 * The child closes fds 0-2 (it must not hold the harness's pipe or output
 * files) and exits by itself after 3 s, so nothing is left behind.
 *
 * Checked: wait4 returned the child, exited with status 0.
 *
 * --fresh: no child, wait4 is never called: the check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	long r = -2; /* "never called" */
	int err = 0, status = 0;
	pid_t child = -1;

	if (!fresh) {
		child = fork();
		if (child < 0) {
			dprintf(1, "FAIL fork: %s\n", strerror(errno));
			return 1;
		}
		if (child == 0) {
			close(0), close(1), close(2);
			struct timespec t = { 3, 0 };
			while (nanosleep(&t, &t) != 0 && errno == EINTR)
				;
			_exit(0);
		}
	}

	dprintf(1, "ready\n");
	if (!fresh) {
		/* Waits for that pid only: whatever else the restored process
		 * might be given as children cannot answer. */
		struct rusage ru;
		r = wait4(child, &status, 0, &ru);
		err = errno;
	}

	char line[64];
	ssize_t n = read(0, line, sizeof line - 1);
	int bad = 0;
	if (r != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		dprintf(1, "FAIL wait4(%d) returned %ld errno %d (%s) status %#x, expected the child, exited 0%s\n",
			(int)child, r, err, strerror(err), status,
			r == -1 && err == EINTR	   ? ": not restarted"
			: r == -1 && err == ECHILD ? ": the child was not restored"
						   : "");
		bad = 1;
	}
	if (n != 6 || memcmp(line, "check\n", 6) != 0) {
		dprintf(1, "FAIL expected the line 'check' on stdin (read %zd bytes)\n", n);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS wait4 restarted and returned the restored child, exited 0\n");
	return 0;
}
