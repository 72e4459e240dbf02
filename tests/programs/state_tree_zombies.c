/*
 * A tree whose members have many zombie children (issue 13): the parent
 * and three children M0..M2, each child with kZombies zombie children of
 * its own that exited with distinct statuses, plus zombies of the parent.
 * After restore every member must resume: each Mi reaps its zombies
 * (statuses as saved) and checks that it holds exactly the fds it held
 * before the dump, then exits 0 or with a bit per difference; the parent
 * reaps its own zombies and each Mi.
 *
 * Why so many zombies: a zombie member ends as soon as the restore lets
 * the tree go, while its parent launcher still waits for the same go. A
 * restore that handed out the go as one byte per member let a zombie take
 * a byte and end before its parent had seen one, so the parent took that
 * end for a failure and the whole restored tree hung in its resume
 * barrier (issue 13, state_tree under load). Many zombies per launcher
 * make that race common rather than rare.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testprog.h"

enum { kMembers = 3, kZombies = 12, kOwnZombies = 4 };

static pid_t members[kMembers], own[kOwnZombies];
static int go[2], ready[2];

/* A bit set of the fds open now (below 256); -1 if it cannot tell. */
static int open_fds(unsigned char set[32])
{
	memset(set, 0, 32);
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == self)
			continue;
		if (fd >= 256) {
			closedir(d);
			return -1;
		}
		set[fd / 8] |= (unsigned char)(1u << (fd % 8));
	}
	closedir(d);
	return 0;
}

/* Member i: kZombies zombies, then waits for the parent's go byte. */
static void member(int i)
{
	pid_t z[kZombies];
	close(go[1]);
	close(ready[0]);
	for (int k = 0; k < kZombies; ++k) {
		z[k] = fork();
		if (z[k] == 0)
			_exit(10 * i + k + 1);
	}
	siginfo_t info;
	for (int k = 0; k < kZombies; ++k)
		waitid(P_PID, (id_t)z[k], &info, WEXITED | WNOWAIT);
	unsigned char before[32], after[32];
	int bad = open_fds(before) != 0 ? 4 : 0;
	char byte = 'r';
	if (write(ready[1], &byte, 1) != 1)
		_exit(2);
	/* Blocks here across the dump. */
	ssize_t r;
	while ((r = read(go[0], &byte, 1)) < 0 && errno == EINTR)
		;
	if (r != 1)
		bad |= 8;
	if (open_fds(after) != 0 || memcmp(before, after, sizeof before) != 0)
		bad |= 2;
	for (int k = 0; k < kZombies; ++k) {
		int st = 0;
		if (waitpid(z[k], &st, 0) != z[k] || !WIFEXITED(st) || WEXITSTATUS(st) != 10 * i + k + 1)
			bad |= 1;
	}
	_exit(bad);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh) {
		if (pipe(go) != 0 || pipe(ready) != 0)
			tp_die("pipe");
		for (int i = 0; i < kMembers; ++i) {
			members[i] = fork();
			if (members[i] == 0)
				member(i);
		}
		close(go[0]);
		close(ready[1]);
		for (int k = 0; k < kOwnZombies; ++k) {
			own[k] = fork();
			if (own[k] == 0)
				_exit(100 + k);
		}
		siginfo_t info;
		for (int k = 0; k < kOwnZombies; ++k)
			waitid(P_PID, (id_t)own[k], &info, WEXITED | WNOWAIT);
		char byte;
		for (int i = 0; i < kMembers; ++i)
			if (read(ready[0], &byte, 1) != 1)
				tp_die("read ready");
	}
	tp_ready(fresh);
	tp_wait_check();

	int status = 0;
	for (int k = 0; k < kOwnZombies; ++k)
		if (own[k] <= 0 || waitpid(own[k], &status, 0) != own[k] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 100 + k)
			FAIL("zombie %d: waitpid did not give exit status %d", (int)own[k], 100 + k);
	for (int i = 0; i < kMembers; ++i) {
		char byte = 'g';
		if (members[i] <= 0 || write(go[1], &byte, 1) != 1) {
			FAIL("cannot wake child %d", (int)members[i]);
			continue;
		}
	}
	for (int i = 0; i < kMembers; ++i)
		if (members[i] <= 0 || waitpid(members[i], &status, 0) != members[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			FAIL("child %d: ended with status %#x (bits: 1 its zombies' statuses, 2 its fds differ, "
			     "4 cannot list fds, 8 no go byte)", (int)members[i], status);
	return tp_finish("%d children with %d zombies each resume, and %d zombies of the parent", kMembers, kZombies,
			 kOwnZombies);
}
