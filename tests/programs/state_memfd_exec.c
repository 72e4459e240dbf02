/*
 * state_memfd_exec: a memfd keeps its mode, and a memfd holding a program
 * can still be run with execveat after restore.
 *
 * Setup: memfd_create("ckpt-exec") gets a copy of /bin/true, fchmod 0750,
 * and stays open (fd w, the description memfd_create made) with a
 * MAP_SHARED writable mapping; it is also reopened read-only through
 * /proc/self/fd (fd x), as loaders that run programs from memory do. A
 * second memfd ("ckpt-mode") is fchmod'ed 0604 and kept open (fd m).
 *
 * Check: fstat modes 0750 and 0604; children run execveat(x) and
 * execveat(w) (AT_EMPTY_PATH) and exit 0. The kernel does not count
 * memfd_create's own description as a writer, but counts a reopen with
 * O_RDWR: a restore that reopened w through /proc made execveat fail with
 * ETXTBSY.
 *
 * Protocol: see tests/e2e/state.sh. --fresh skips the fchmods, so the
 * modes are 0777.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	int w = memfd_create("ckpt-exec", MFD_CLOEXEC);
	int src = open("/bin/true", O_RDONLY);
	if (w < 0 || src < 0)
		tp_die("memfd_create or /bin/true");
	char buf[65536];
	ssize_t n;
	while ((n = read(src, buf, sizeof buf)) > 0)
		if (write(w, buf, (size_t)n) != n)
			tp_die("write");
	close(src);
	if (!fresh && fchmod(w, 0750) != 0)
		tp_die("fchmod");
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", w);
	int x = open(link, O_RDONLY | O_CLOEXEC);
	if (x < 0)
		tp_die(link);
	void *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, w, 0);
	if (map == MAP_FAILED)
		tp_die("mmap");
	int m = memfd_create("ckpt-mode", 0);
	if (m < 0 || (!fresh && fchmod(m, 0604) != 0))
		tp_die("memfd ckpt-mode");
	tp_ready(fresh);
	tp_wait_check();

	struct stat sx, sm;
	if (fstat(x, &sx) != 0 || fstat(m, &sm) != 0) {
		FAIL("fstat: %s", strerror(errno));
		return tp_finish("");
	}
	if ((sx.st_mode & 07777) != 0750)
		FAIL("memfd ckpt-exec mode %o, want 0750", sx.st_mode & 07777);
	if ((sm.st_mode & 07777) != 0604)
		FAIL("memfd ckpt-mode mode %o, want 0604", sm.st_mode & 07777);
	for (int i = 0; i < 2; i++) {
		int fd = i ? w : x;
		pid_t pid = fork();
		if (pid == 0) {
			char *args[] = {"true", NULL};
			syscall(SYS_execveat, fd, "", args, (char *[]){NULL}, AT_EMPTY_PATH);
			_exit(errno == ETXTBSY ? 100 : 101);
		}
		int status = 0;
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			FAIL("execveat of the memfd through fd %d failed: %s", fd,
			     WIFEXITED(status) && WEXITSTATUS(status) == 100 ? "ETXTBSY" : "other error");
	}
	return tp_finish("memfds: modes 0750 and 0604, execveat through both fds works");
}
