/*
 * state_fd_opath: O_PATH descriptors (they only name a file) must come back
 * naming the same file, with the same flags, still usable as O_PATH fds.
 *
 * Set up: a file of its own made in a new directory under /tmp; fd A =
 * O_PATH | O_DIRECTORY of that directory, fd B = O_PATH | O_NOFOLLOW of the
 * file, fd C = O_PATH of /dev/null.
 *
 * Check: each fd's F_GETFL and /proc/self/fdinfo flags are as saved; each
 * names the same device and inode (fstat), and a read through it fails
 * with EBADF (still O_PATH); openat(A, "file") opens the file (the
 * directory fd works as one); its contents read back.
 *
 * Protocol: see tests/e2e/state.sh. --fresh opens the three fds without
 * O_PATH.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64] = "/tmp/ckpt-opath-XXXXXX", file[96];

static unsigned fdinfo_flags(int fd)
{
	char path[64], line[128];
	unsigned flags = ~0u;
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	if (!f)
		return flags;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "flags: %o", &flags) == 1)
			break;
	fclose(f);
	return flags;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!mkdtemp(dir))
		tp_die("mkdtemp");
	snprintf(file, sizeof file, "%s/file", dir);
	int w = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w < 0 || write(w, "named", 5) != 5 || close(w) != 0)
		tp_die("file");
	const char *paths[3] = {dir, file, "/dev/null"};
	int how[3] = {O_PATH | O_DIRECTORY, O_PATH | O_NOFOLLOW, O_PATH};
	int fd[3], getfl[3];
	unsigned info[3];
	struct stat st[3];
	for (int i = 0; i < 3; ++i) {
		fd[i] = open(paths[i], fresh ? (i == 0 ? O_RDONLY | O_DIRECTORY : O_RDONLY) : how[i]);
		if (fd[i] < 0 || fstat(fd[i], &st[i]) != 0)
			tp_die(paths[i]);
		getfl[i] = fcntl(fd[i], F_GETFL);
		info[i] = fdinfo_flags(fd[i]);
	}
	tp_ready(fresh);
	tp_wait_check();

	for (int i = 0; i < 3; ++i) {
		struct stat now;
		char c;
		if (fstat(fd[i], &now) != 0 || now.st_dev != st[i].st_dev || now.st_ino != st[i].st_ino)
			FAIL("fd %d no longer names %s", fd[i], paths[i]);
		if (fcntl(fd[i], F_GETFL) != getfl[i] || fdinfo_flags(fd[i]) != info[i])
			FAIL("fd %d (%s): flags %#o / fdinfo %o, saved %#o / %o", fd[i], paths[i], fcntl(fd[i], F_GETFL),
			     fdinfo_flags(fd[i]), getfl[i], info[i]);
		errno = 0;
		if (i == 1 && (read(fd[i], &c, 1) != -1 || errno != EBADF))
			FAIL("fd %d (%s) can be read: it is no longer O_PATH (%s)", fd[i], paths[i], strerror(errno));
		if (!(getfl[i] & O_PATH))
			FAIL("fd %d (%s) was not opened O_PATH", fd[i], paths[i]);
	}
	char buf[8] = "";
	int r = openat(fd[0], "file", O_RDONLY | O_CLOEXEC);
	if (r < 0 || read(r, buf, sizeof buf) != 5 || memcmp(buf, "named", 5) != 0)
		FAIL("openat through the directory fd: %s", r < 0 ? strerror(errno) : buf);
	if (r >= 0)
		close(r);
	unlink(file);
	rmdir(dir);
	return tp_finish("O_PATH fds of a directory, a file and a device (flags %o %o %o)", info[0], info[1], info[2]);
}
