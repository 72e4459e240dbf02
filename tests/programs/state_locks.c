/*
 * state_locks: file locks must be held again by the restored process, with
 * their ranges and types: POSIX record locks (owned by the process), OFD
 * locks, flock locks and a lease (owned by open file descriptions).
 *
 * Setup (files BASE.f, BASE.g, BASE.h, BASE.l, BASE = /tmp/state_locks.PID;
 * the ready line names BASE):
 *   a  open(BASE.f, O_RDWR): POSIX write lock on bytes 10-14 and POSIX
 *      read lock from byte 100 to EOF, both through a
 *   d  open(BASE.f, O_RDWR), a second open: OFD write lock on bytes 40-49
 *   g  open(BASE.g, O_RDONLY): flock LOCK_SH
 *   h  open(BASE.h, O_RDWR): flock LOCK_EX
 *   l  open(BASE.l, O_RDONLY): read lease (F_SETLEASE F_RDLCK), its break
 *      signal SIGUSR2 (F_SETSIG; blocked, so it stays pending to be checked)
 * The "lock:" lines of each fd's fdinfo are recorded without their id,
 * pid and device:inode fields.
 *
 * Check: the same "lock:" lines; F_GETLEASE gives F_RDLCK; then a child
 * process (fork) finds: F_GETLK for writing bytes 10-14 reports a write
 * lock held by this process's pid; F_SETLK of a write lock on byte 200
 * fails with EAGAIN (the read lock to EOF); F_OFD_GETLK for writing bytes
 * 40-49 reports a conflict; flock(BASE.g, LOCK_EX|LOCK_NB) and
 * flock(BASE.h, LOCK_SH|LOCK_NB) fail with EWOULDBLOCK; opening BASE.l for
 * writing with O_NONBLOCK fails with EWOULDBLOCK (the lease), which sends
 * this process SIGUSR2 with si_fd = l (waited for up to 60 s). The files
 * are removed at the end.
 *
 * Protocol: see tests/e2e/state.sh. --fresh opens the files but takes no
 * lock, so every check fails.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { A, D, G, H, L, N };
static const char *names[N] = {"a", "d", "g", "h", "l"};
static int fds[N];
static char base[64], info[N][1024];

static char *file(char which)
{
	static char p[80];
	snprintf(p, sizeof p, "%s.%c", base, which);
	return p;
}

static int make(char which, int flags)
{
	int w = open(file(which), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (w < 0 || write(w, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64) != 64)
		tp_die(file(which));
	close(w);
	int fd = open(file(which), flags);
	if (fd < 0)
		tp_die(file(which));
	return fd;
}

static int posix_lock(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl);
}

/* "lock:" lines: kind, mode, type, start, end (not id, pid, device:inode). */
static void lock_lines(int fd, char *out, size_t size)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	out[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(buf, sizeof buf, f)) {
		char id[16], kind[16], mode[16], type[16], pid[16], dev[64], start[32], end[32], line[256];
		if (strncmp(buf, "lock:", 5) ||
		    sscanf(buf + 5, "%15s %15s %15s %15s %15s %63s %31s %31s", id, kind, mode, type, pid, dev, start, end) != 8)
			continue;
		snprintf(line, sizeof line, "%s %s %s %s %s\n", kind, mode, type, start, end);
		if (strlen(out) + strlen(line) < size)
			strcat(out, line);
	}
	fclose(f);
}

static void setup(int fresh)
{
	snprintf(base, sizeof base, "/tmp/state_locks.%d", (int)getpid());
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	fds[A] = make('f', O_RDWR);
	fds[D] = open(file('f'), O_RDWR);
	fds[G] = make('g', O_RDONLY);
	fds[H] = make('h', O_RDWR);
	fds[L] = make('l', O_RDONLY);
	if (fds[D] < 0)
		tp_die("reopen");
	if (!fresh &&
	    (posix_lock(fds[A], F_SETLK, F_WRLCK, 10, 5) != 0 || posix_lock(fds[A], F_SETLK, F_RDLCK, 100, 0) != 0 ||
	     posix_lock(fds[D], F_OFD_SETLK, F_WRLCK, 40, 10) != 0 || flock(fds[G], LOCK_SH) != 0 ||
	     flock(fds[H], LOCK_EX) != 0 || fcntl(fds[L], F_SETSIG, SIGUSR2) != 0 ||
	     fcntl(fds[L], F_SETLEASE, F_RDLCK) != 0))
		tp_die("locking");
	for (int i = 0; i < N; i++)
		lock_lines(fds[i], info[i], sizeof info[i]);
}

/* The checks another process makes; its exit status is the number of failures. */
static int from_outside(pid_t holder)
{
	int f = open(file('f'), O_RDWR), g = open(file('g'), O_RDONLY), h = open(file('h'), O_RDONLY);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
	if (f < 0 || fcntl(f, F_GETLK, &fl) != 0 || fl.l_type != F_WRLCK || fl.l_pid != holder)
		FAIL("F_GETLK on bytes 10-14: type %d pid %d, want a write lock (%d) of pid %d", fl.l_type, fl.l_pid, F_WRLCK,
		     holder);
	errno = 0;
	if (posix_lock(f, F_SETLK, F_WRLCK, 200, 1) != -1 || (errno != EAGAIN && errno != EACCES))
		FAIL("a write lock on byte 200 was granted (%s): the read lock to EOF is gone", strerror(errno));
	struct flock ofl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 40, .l_len = 10};
	if (fcntl(f, F_OFD_GETLK, &ofl) != 0 || ofl.l_type != F_WRLCK)
		FAIL("F_OFD_GETLK on bytes 40-49: type %d, want the OFD write lock", ofl.l_type);
	errno = 0;
	if (flock(g, LOCK_EX | LOCK_NB) != -1 || errno != EWOULDBLOCK)
		FAIL("flock(LOCK_EX) on BASE.g was granted (%s): the shared flock is gone", strerror(errno));
	errno = 0;
	if (flock(h, LOCK_SH | LOCK_NB) != -1 || errno != EWOULDBLOCK)
		FAIL("flock(LOCK_SH) on BASE.h was granted (%s): the exclusive flock is gone", strerror(errno));
	errno = 0;
	if (open(file('l'), O_WRONLY | O_NONBLOCK) != -1 || errno != EWOULDBLOCK)
		FAIL("BASE.l opened for writing (%s): the read lease is gone", strerror(errno));
	return tp_failures;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	setup(fresh);
	printf("ready %s%s\n", base, fresh ? " (fresh)" : "");
	tp_wait_check();

	for (int i = 0; i < N; i++) {
		char now[1024];
		lock_lines(fds[i], now, sizeof now);
		if (!info[i][0] || strcmp(now, info[i]) != 0)
			FAIL("%s: lock lines were\n%snow\n%s", names[i], info[i], now);
	}
	if (fcntl(fds[L], F_GETLEASE) != F_RDLCK)
		FAIL("F_GETLEASE gives %d, want F_RDLCK (%d)", fcntl(fds[L], F_GETLEASE), F_RDLCK);
	pid_t self = getpid(), child = fork();
	if (child == 0)
		_exit(from_outside(self) ? 1 : 0);
	int status = 0;
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("another process did not find the locks held (see its lines above)");
	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	siginfo_t si;
	struct timespec limit = {60, 0};
	if (!tp_failures && (sigtimedwait(&usr2, &si, &limit) != SIGUSR2 || si.si_fd != fds[L]))
		FAIL("the lease break did not bring SIGUSR2 with si_fd %d (si_fd %d)", fds[L], si.si_fd);
	const char which[] = "fghl";
	for (int i = 0; i < 4; i++)
		unlink(file(which[i]));
	return tp_finish("POSIX (2 ranges), OFD, flock (shared, exclusive) and lease held again, seen from another process; the lease break names its fd");
}
