/*
 * restart_pause: dumped while inside pause(2). Driven by
 * tests/e2e/restart_pause.sh, not state.sh.
 *
 * Expected kernel behaviour (kernel/signal.c, sys_pause): it sleeps until a
 * signal is pending and returns -ERESTARTNOHAND; with no handler run the
 * call is re-executed, so pause() never returns to a process without
 * handlers -- after a ptrace stop it simply goes on waiting. The restorer
 * re-executes it too (x86/SyscallRestart.h). Observed at dump: orig_rax 34
 * (pause), rax -514.
 *
 * Nothing but a handled signal ends pause(), and handlers are another
 * test's subject, so the check is from outside: the harness reads
 * /proc/PID/syscall before the dump and after the restore (syscall number,
 * argument registers, sp and pc must be equal: the same pause() again),
 * sends the "check" line (which cannot end pause), sees it still there,
 * and ends it with SIGTERM (default action: terminate, status 143).
 *
 * Here, if pause() ever returns (EINTR would mean no restart) the program
 * prints FAIL and exits 1. --fresh: pause() is never entered: it reads the
 * line, prints FAIL and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;

	dprintf(1, "ready\n");
	if (fresh) {
		char line[64];
		ssize_t n = read(0, line, sizeof line);
		dprintf(1, "FAIL pause was never entered (read %zd bytes)\n", n);
		return 1;
	}
	int r = pause();
	int err = errno;
	dprintf(1, "FAIL pause returned %d errno %d (%s): it must never return without a handler\n", r, err,
		strerror(err));
	return 1;
}
