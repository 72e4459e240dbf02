/*
 * state_fd_shared: fds that share one open file description must share it
 * again after restore, and separate opens of one file or pipe must stay
 * separate, each with its own offset and status flags.
 *
 * Setup (FILE is a new file of 64 bytes in /tmp):
 *   a     open(FILE, O_RDWR), seeked to 5, O_APPEND set with F_SETFL
 *   b     dup(a)
 *   c     fcntl(a, F_DUPFD_CLOEXEC, 40)
 *   d     open("/proc/self/fd/a", O_RDWR): a second open of FILE,
 *         seeked to 9, O_NONBLOCK
 *   p[0], p[1]  pipe()
 *   q     open("/proc/self/fd/p[0]", O_RDONLY | O_NONBLOCK): a second
 *         read open of the pipe
 *   w     dup(p[1])
 *   e, e2 eventfd(3, 0) and dup2(e, 50)
 *   s1    dup(1), s0 fcntl(0, F_DUPFD_CLOEXEC, 60): fds above 2 sharing
 *         stdio's open files (restored as dups of restore's own 0 and 1)
 * Check: kcmp(KCMP_FILE) says a = b = c, e = e2, p[1] = w, s1 = 1, s0 = 0
 * (and s0 has FD_CLOEXEC, s1 not), and a != d,
 * p[0] != q; offsets: b and c at 5, d at 9, and after lseek(b, 7) a is at
 * 7 while d stays at 9; F_GETFL: a, b, c O_APPEND without O_NONBLOCK, d
 * O_NONBLOCK without O_APPEND, q O_NONBLOCK, p[0] not; setting O_NONBLOCK
 * on b shows on a; FD_CLOEXEC on c only; a byte written to w is read from
 * q (one pipe); reading e2 gives 3.
 *
 * Protocol: see tests/e2e/state.sh. --fresh sets nothing up, so the
 * sharing checks fail.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static int a = -1, b = -1, c = -1, d = -1, p[2] = {-1, -1}, q = -1, w = -1, e = -1, e2 = -1, s0 = -1, s1 = -1;
static char path[64];

static int same(int x, int y)
{
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, x, y) == 0;
}

static int reopen(int fd, int flags)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	return open(proc, flags);
}

static void setup(void)
{
	snprintf(path, sizeof path, "/tmp/state_fd_shared.%d", (int)getpid());
	a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char bytes[64];
	memset(bytes, 'x', sizeof bytes);
	if (a < 0 || write(a, bytes, sizeof bytes) != sizeof bytes)
		tp_die("file");
	lseek(a, 5, SEEK_SET);
	fcntl(a, F_SETFL, O_APPEND);
	b = dup(a);
	c = fcntl(a, F_DUPFD_CLOEXEC, 40);
	d = reopen(a, O_RDWR);
	if (b < 0 || c < 0 || d < 0)
		tp_die("dup/reopen");
	lseek(d, 9, SEEK_SET);
	fcntl(d, F_SETFL, O_NONBLOCK);
	if (pipe(p) != 0 || (q = reopen(p[0], O_RDONLY | O_NONBLOCK)) < 0 || (w = dup(p[1])) < 0)
		tp_die("pipe");
	e = eventfd(3, 0);
	if (e < 0 || (e2 = dup2(e, 50)) < 0)
		tp_die("eventfd");
	if ((s1 = dup(1)) < 0 || (s0 = fcntl(0, F_DUPFD_CLOEXEC, 60)) < 0)
		tp_die("dup of stdio");
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh)
		setup();
	tp_ready(fresh);
	tp_wait_check();

	if (!same(a, b) || !same(a, c))
		FAIL("a, b and c no longer share one open file description");
	if (same(a, d))
		FAIL("a and d (two opens of one file) share one open file description");
	if (!same(p[1], w))
		FAIL("the pipe's write end and its dup no longer share one open file description");
	if (same(p[0], q))
		FAIL("the pipe's two read opens share one open file description");
	if (!same(e, e2))
		FAIL("the eventfd and its dup no longer share one open file description");
	if (!same(s1, 1) || !same(s0, 0))
		FAIL("the dups of stdout and stdin (fds %d, %d) no longer share fd 1's and fd 0's open files", s1, s0);
	if (fcntl(s0, F_GETFD) != FD_CLOEXEC || fcntl(s1, F_GETFD) != 0)
		FAIL("FD_CLOEXEC of the stdio dups: %d %d, want 1 0", fcntl(s0, F_GETFD), fcntl(s1, F_GETFD));
	if (lseek(b, 0, SEEK_CUR) != 5 || lseek(c, 0, SEEK_CUR) != 5)
		FAIL("b/c offsets %lld/%lld, want 5", (long long)lseek(b, 0, SEEK_CUR), (long long)lseek(c, 0, SEEK_CUR));
	if (lseek(d, 0, SEEK_CUR) != 9)
		FAIL("d offset %lld, want 9", (long long)lseek(d, 0, SEEK_CUR));
	lseek(b, 7, SEEK_SET);
	if (lseek(a, 0, SEEK_CUR) != 7 || lseek(d, 0, SEEK_CUR) != 9)
		FAIL("after lseek(b, 7): a at %lld (want 7), d at %lld (want 9)", (long long)lseek(a, 0, SEEK_CUR),
		     (long long)lseek(d, 0, SEEK_CUR));
	int fa = fcntl(a, F_GETFL), fd = fcntl(d, F_GETFL);
	if (fa < 0 || !(fa & O_APPEND) || (fa & O_NONBLOCK) || fcntl(b, F_GETFL) != fa || fcntl(c, F_GETFL) != fa)
		FAIL("a/b/c status flags %#o/%#o/%#o, want one value with O_APPEND, no O_NONBLOCK", fa, fcntl(b, F_GETFL),
		     fcntl(c, F_GETFL));
	if (fd < 0 || !(fd & O_NONBLOCK) || (fd & O_APPEND))
		FAIL("d status flags %#o, want O_NONBLOCK without O_APPEND", fd);
	if (!(fcntl(q, F_GETFL) & O_NONBLOCK) || (fcntl(p[0], F_GETFL) & O_NONBLOCK))
		FAIL("pipe read opens: q flags %#o (want O_NONBLOCK), p[0] flags %#o (want none)", fcntl(q, F_GETFL),
		     fcntl(p[0], F_GETFL));
	fcntl(b, F_SETFL, O_NONBLOCK | O_APPEND);
	if (!(fcntl(a, F_GETFL) & O_NONBLOCK))
		FAIL("O_NONBLOCK set through b does not show on a");
	if (fcntl(c, F_GETFD) != FD_CLOEXEC || fcntl(a, F_GETFD) != 0 || fcntl(b, F_GETFD) != 0)
		FAIL("FD_CLOEXEC: a %d b %d c %d, want 0 0 1", fcntl(a, F_GETFD), fcntl(b, F_GETFD), fcntl(c, F_GETFD));
	char ch = 0;
	if (write(w, "z", 1) != 1 || read(q, &ch, 1) != 1 || ch != 'z')
		FAIL("a byte written to the pipe's dup'd write end did not come out of its second read open");
	uint64_t v = 0;
	if (read(e2, &v, 8) != 8 || v != 3)
		FAIL("the eventfd's dup read %llu, want 3", (unsigned long long)v);
	if (!fresh)
		unlink(path);
	return tp_finish("dup'd fds share offset and flags (stdio dups share restore's), separate opens of a file and a pipe stay separate");
}
