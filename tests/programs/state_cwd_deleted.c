/*
 * state_cwd_deleted: a working directory removed while the process is in
 * it, and a directory fd on it, come back as one removed directory.
 *
 * Setup: mkdir /tmp/ckpt-cwd.XXXXXX, chmod 0751, chdir into it, open "."
 * O_RDONLY|O_DIRECTORY (fd d), and rmdir the directory.
 *
 * Check: /proc/self/cwd ends in " (deleted)"; stat(".") is a directory with
 * no links, mode 0751; fd d is the same inode as "."; creating a file in
 * "." fails with ENOENT, as in any removed directory.
 *
 * Protocol: see tests/e2e/state.sh. --fresh does not remove the directory
 * (it is removed at exit instead), so the checks fail.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64] = "/tmp/ckpt-cwd.XXXXXX";
static void cleanup(void) { rmdir(dir); }

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!mkdtemp(dir) || chmod(dir, 0751) != 0 || chdir(dir) != 0)
		tp_die(dir);
	int d = open(".", O_RDONLY | O_DIRECTORY);
	if (d < 0)
		tp_die("open .");
	if (fresh)
		atexit(cleanup);
	else if (rmdir(dir) != 0)
		tp_die("rmdir");
	tp_ready(fresh);
	tp_wait_check();

	char t[4096] = {0};
	ssize_t n = readlink("/proc/self/cwd", t, sizeof t - 1);
	if (n < 10 || strcmp(t + n - 10, " (deleted)") != 0)
		FAIL("cwd is '%s', want a name ending in ' (deleted)'", t);
	struct stat dot, fd;
	if (stat(".", &dot) != 0 || fstat(d, &fd) != 0) {
		FAIL("stat . or fd %d: %s", d, strerror(errno));
		return tp_finish("");
	}
	if (!S_ISDIR(dot.st_mode) || dot.st_nlink != 0)
		FAIL("'.' is not a removed directory (mode %o, nlink %lu)", dot.st_mode, (unsigned long)dot.st_nlink);
	if ((dot.st_mode & 07777) != 0751)
		FAIL("mode %o, want 0751", dot.st_mode & 07777);
	if (dot.st_ino != fd.st_ino || dot.st_dev != fd.st_dev)
		FAIL("fd %d (inode %lu) is not the working directory (inode %lu)", d, (unsigned long)fd.st_ino,
		     (unsigned long)dot.st_ino);
	int f = open("x", O_WRONLY | O_CREAT, 0600);
	if (f >= 0 || errno != ENOENT) {
		FAIL("creating a file in the removed directory gave %d (%s), want ENOENT", f, strerror(errno));
		if (f >= 0)
			unlink("x");
	}
	return tp_finish("deleted working directory and an fd on it: one removed directory, mode 0751");
}
