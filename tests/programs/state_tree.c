/*
 * A process with children comes back with its children (issue 13):
 *   A  running, reading a pipe from the parent that holds unread data, in
 *      its own process group, with a parent-death signal, sharing an open
 *      file description (one offset) with the parent, holding a POSIX lock
 *      through it;
 *      Z2 A's zombie, exited with status 5;
 *      G  A's child, blocked in read: orphaned when A exits, it must come to the
 *         parent, a child subreaper;
 *   B  running (blocked in read): the parent's kill() must reach it; it
 *      shares the read end (one description) of a pipe holding unread data;
 *   C  in a session of its own;
 *   Z  a zombie that exited with status 3;
 *   K  a zombie killed by SIGUSR1.
 * After restore the parent checks every link from its side (waitpid, kill,
 * getpgid, getsid, the shared offset) and A checks its own.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testprog.h"

static pid_t a, b, c, z, k, g;
static char name_buf[64];
static int to_a[2], from_a[2], life[2], both[2] = {-1, -1}, shared_fd;

/* A child that waits until killed, or until the parent is gone (EOF on the
 * lifeline, whose write end only the parent holds): none outlives a failed
 * test. Only its own end of each pipe stays open. */
static void wait_for_death(void)
{
	char x;
	close(life[1]);
	close(to_a[1]);
	close(from_a[0]);
	if (both[1] >= 0)
		close(both[1]);
	while (read(life[0], &x, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* A: the pipe's unread data first, then EOF; its own state; exit 0 or a
 * bit per difference. */
static int child_a(void)
{
	close(to_a[1]);
	close(from_a[0]);
	close(life[1]);
	if (setpgid(0, 0) != 0 || prctl(PR_SET_PDEATHSIG, SIGHUP) != 0)
		tp_die("child a setup");
	g = fork();
	if (g == 0)
		wait_for_death();
	/* A zombie of A's own (a member's zombie child). */
	pid_t z2 = fork();
	if (z2 == 0)
		_exit(5);
	siginfo_t info;
	waitid(P_PID, (id_t)z2, &info, WEXITED | WNOWAIT);
	if (write(shared_fd, "abcde", 5) != 5)
		tp_die("write");
	/* A POSIX lock is the process's: A holds it through the description it
	 * shares with the parent. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 1};
	if (fcntl(shared_fd, F_SETLK, &fl) != 0)
		tp_die("lock");
	if (write(from_a[1], &g, sizeof g) != sizeof g)
		tp_die("write g");
	char buf[64];
	size_t n = 0;
	ssize_t r;
	/* Blocks here across the dump: "hello" is waiting, " world" comes after. */
	while ((r = read(to_a[0], buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	int bad = 0;
	if (strcmp(buf, "hello world") != 0)
		bad |= 1;
	int sig = 0;
	if (prctl(PR_GET_PDEATHSIG, &sig) != 0 || sig != SIGHUP)
		bad |= 2;
	if (getpgid(0) != getpid())
		bad |= 4;
	if (write(shared_fd, "!", 1) != 1)
		bad |= 8;
	int st = 0;
	if (waitpid(z2, &st, 0) != z2 || !WIFEXITED(st) || WEXITSTATUS(st) != 5)
		bad |= 16;
	_exit(bad);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	/* A named file: a deleted one shared by two members is refused. */
	char name[64];
	snprintf(name, sizeof name, "/tmp/ckpt-state-tree-%d", (int)getpid());
	shared_fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (shared_fd < 0)
		tp_die("open");
	if (!fresh) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
			tp_die("subreaper");
		if (pipe(to_a) != 0 || pipe(from_a) != 0 || pipe(life) != 0)
			tp_die("pipe");
		a = fork();
		if (a == 0)
			child_a();
		close(to_a[0]);
		close(from_a[1]);
		if (read(from_a[0], &g, sizeof g) != sizeof g)
			tp_die("read g");
		if (write(to_a[1], "hello", 5) != 5)
			tp_die("write hello");
		/* A read end shared with B (one description) holding unread data. */
		if (pipe(both) != 0 || write(both[1], "data!", 5) != 5)
			tp_die("pipe both");
		b = fork();
		if (b == 0)
			wait_for_death();
		c = fork();
		if (c == 0) {
			setsid();
			wait_for_death();
		}
		z = fork();
		if (z == 0)
			_exit(3);
		k = fork();
		if (k == 0) {
			signal(SIGUSR1, SIG_DFL);
			wait_for_death();
		}
		close(life[0]);
		kill(k, SIGUSR1);
		/* Both zombies exist before "ready": not reaped, only waited on. */
		siginfo_t info;
		waitid(P_PID, (id_t)z, &info, WEXITED | WNOWAIT);
		waitid(P_PID, (id_t)k, &info, WEXITED | WNOWAIT);
		while (getsid(c) != c)
			usleep(1000);
	}
	tp_ready(fresh);
	tp_wait_check();

	int status, sub = 0;
	char zcomm[32] = "";
	snprintf(name_buf, sizeof name_buf, "/proc/%d/comm", (int)z);
	FILE *zf = fopen(name_buf, "r");
	if (!zf || !fgets(zcomm, sizeof zcomm, zf) || strcmp(zcomm, "state_tree\n") != 0)
		FAIL("zombie %d is named '%s', not state_tree", (int)z, zcomm);
	if (zf)
		fclose(zf);
	if (prctl(PR_GET_CHILD_SUBREAPER, &sub) != 0 || sub != 1)
		FAIL("not a child subreaper (%d)", sub);
	if (waitpid(z, &status, 0) != z || !WIFEXITED(status) || WEXITSTATUS(status) != 3)
		FAIL("zombie %d: waitpid did not give exit status 3 (%s, status %#x)", (int)z, strerror(errno), status);
	if (waitpid(k, &status, 0) != k || !WIFSIGNALED(status) || WTERMSIG(status) != SIGUSR1)
		FAIL("zombie %d: waitpid did not give death by SIGUSR1 (status %#x)", (int)k, status);
	if (getpgid(a) != a)
		FAIL("child %d is in group %d, not its own", (int)a, (int)getpgid(a));
	if (getsid(c) != c)
		FAIL("child %d is in session %d, not its own", (int)c, (int)getsid(c));
	if (waitpid(b, &status, WNOHANG) != 0)
		FAIL("running child %d reads as ended or not mine (%s)", (int)b, strerror(errno));
	if (b <= 0 || kill(b, SIGTERM) != 0 || waitpid(b, &status, 0) != b || !WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM)
		FAIL("kill() of child %d did not reach it (status %#x)", (int)b, status);
	char got[8] = "";
	if (both[0] >= 0)
		fcntl(both[0], F_SETFL, O_NONBLOCK);  /* lost data must not hang the check */
	if (both[0] < 0 || read(both[0], got, 5) != 5 || memcmp(got, "data!", 5) != 0)
		FAIL("the pipe whose read end child %d shares lost its unread data ('%s')", (int)b, got);
	/* A's lock, seen from the parent through a description of its own. */
	int probe = open(name, O_RDWR);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 1};
	if (probe < 0 || fcntl(probe, F_GETLK, &fl) != 0 || fl.l_type != F_WRLCK || fl.l_pid != a)
		FAIL("child %d does not hold its POSIX lock (type %d, holder %d)", (int)a, fl.l_type, (int)fl.l_pid);
	if (probe >= 0)
		close(probe);
	if (a <= 0 || write(to_a[1], " world", 6) != 6)
		FAIL("cannot write to child a's pipe");
	close(to_a[1]);
	if (waitpid(a, &status, 0) != a || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("child %d: ended with status %#x (bits: 1 pipe data, 2 pdeathsig, 4 group, 8 write, 16 its zombie)", (int)a, status);
	off_t at = lseek(shared_fd, 0, SEEK_CUR);
	if (at != 6)
		FAIL("the offset shared with child %d is %lld, not 6", (int)a, (long long)at);
	/* A is gone: its child G is ours now (subreaper). */
	if (g <= 0 || kill(g, SIGTERM) != 0 || waitpid(g, &status, 0) != g || !WIFSIGNALED(status))
		FAIL("orphaned grandchild %d did not come to the subreaper (%s)", (int)g, strerror(errno));
	if (c > 0) {
		kill(c, SIGKILL);
		waitpid(c, &status, 0);
	}
	unlink(name);
	return tp_finish("children: running, zombies (3, SIGUSR1), group, session, pipe data, shared offset, "
			 "a child's POSIX lock, pdeathsig, subreaper");
}
