/*
 * restart_futex: dumped while blocked in futex(FUTEX_WAIT) with no timeout.
 *
 * Expected kernel behaviour (kernel/futex/waitwake.c, futex_wait): woken by
 * a pending signal with no timeout, it returns -ERESTARTSYS (only a call
 * with a timeout sets up a restart block). With no handler the call is
 * re-executed: it reads the word again and, still equal, waits again. The
 * restorer re-executes it too (x86/SyscallRestart.h). Observed at dump:
 * orig_rax 202 (futex), rax -512.
 *
 * Something must then wake the restored waiter, without signal handlers
 * (restored separately) or threads (not dumped yet). A futex word in a
 * MAP_SHARED mapping of a file is keyed by (inode, offset), not by mm
 * (get_futex_key), so any process mapping that file can wake it with a
 * shared FUTEX_WAKE. A child forked before "ready" waits for its parent to
 * die (the dump kills it), then calls FUTEX_WAKE until it has woken one
 * waiter: the restored process, blocked in the re-executed call. The file
 * is never written, so the restorer's mtime check passes.
 *
 * Checked: the one futex() call returned 0 (woken), not -1/EINTR (no
 * restart) nor EAGAIN (word changed). The child closes fds 0-2, gives up
 * after a bounded time, and removes the file.
 *
 * --fresh: no file, no child, futex() is never called: the check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&t, NULL);
}

/* The waker: outlives its parent (killed by the dump), wakes the restored
 * waiter through the file's page, and cleans up. */
static void waker(uint32_t *word, const char *path, pid_t parent)
{
	close(0), close(1), close(2);
	/* Wait (at most 60 s) for the original to die: a wake before that
	 * would end the original's wait before the dump. */
	for (int i = 0; i < 6000 && getppid() == parent; i++)
		nap_ms(10);
	/* Then wake (for at most 20 s) until one waiter was woken. */
	for (int i = 0; i < 2000; i++) {
		if (syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0) >= 1)
			break;
		nap_ms(10);
	}
	unlink(path);
	_exit(0);
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	long r = -2; /* "never called" */
	int err = 0;
	char path[] = "/tmp/ckpt-restart-futex.XXXXXX";
	uint32_t *word = NULL;

	if (!fresh) {
		int fd = mkstemp(path);
		if (fd < 0 || ftruncate(fd, 4096) != 0) {
			dprintf(1, "FAIL cannot create %s: %s\n", path, strerror(errno));
			return 1;
		}
		/* Read-only is enough to wait and to be woken; the word stays 0. */
		word = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		close(fd); /* the dumper takes fds 0-2 only */
		if (word == MAP_FAILED) {
			dprintf(1, "FAIL mmap %s: %s\n", path, strerror(errno));
			unlink(path);
			return 1;
		}
		pid_t self = getpid();
		pid_t child = fork();
		if (child < 0) {
			dprintf(1, "FAIL fork: %s\n", strerror(errno));
			unlink(path);
			return 1;
		}
		if (child == 0)
			waker(word, path, self);
	}

	dprintf(1, "ready\n");
	if (!fresh) {
		/* Shared (no FUTEX_PRIVATE_FLAG): the wake comes from another mm. */
		r = syscall(SYS_futex, word, FUTEX_WAIT, 0, NULL, NULL, 0);
		err = errno;
		unlink(path); /* the child does too; whoever is first */
	}

	char line[64];
	ssize_t n = read(0, line, sizeof line - 1);
	int bad = 0;
	if (r != 0) {
		dprintf(1, "FAIL futex(FUTEX_WAIT) returned %ld errno %d (%s), expected 0 (woken)%s\n", r, err,
			strerror(err), r == -1 && err == EINTR ? ": not restarted" : "");
		bad = 1;
	}
	if (n != 6 || memcmp(line, "check\n", 6) != 0) {
		dprintf(1, "FAIL expected the line 'check' on stdin (read %zd bytes)\n", n);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS futex(FUTEX_WAIT) restarted and was woken\n");
	return 0;
}
