/*
 * state_deleted_hardlink: a file deleted while open but still linked
 * under another name is not copied: the restored fd opens the very file
 * that the other name reaches.
 *
 * Setup: /tmp/ckpt-dell.XXXXXX/a (3000 bytes) is hard-linked as .../b,
 * opened O_RDWR at offset 100, and the name a is unlinked.
 *
 * Check: the fd's inode is b's (same st_dev and st_ino); a write through
 * the fd is read through b; the offset is 100.
 *
 * Protocol: see tests/e2e/state.sh. --fresh makes b a copy instead of a
 * link, so the inodes differ. The restored program removes b and the
 * directory when it exits.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64] = "/tmp/ckpt-dell.XXXXXX";
static char a_path[128], b_path[128];
static int checking;

static void cleanup(void)
{
	if (checking) {
		unlink(b_path);
		rmdir(dir);
	}
}

static void fill(const char *path)
{
	char buf[3000];
	memset(buf, 'h', sizeof buf);
	int w = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (w < 0 || write(w, buf, sizeof buf) != (ssize_t)sizeof buf)
		tp_die(path);
	close(w);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!mkdtemp(dir))
		tp_die("mkdtemp");
	atexit(cleanup);
	snprintf(a_path, sizeof a_path, "%s/a", dir);
	snprintf(b_path, sizeof b_path, "%s/b", dir);
	fill(a_path);
	if (fresh)
		fill(b_path);
	else if (link(a_path, b_path) != 0)
		tp_die("link");
	int fd = open(a_path, O_RDWR);
	if (fd < 0 || lseek(fd, 100, SEEK_SET) != 100)
		tp_die(a_path);
	unlink(a_path);
	tp_ready(fresh);
	tp_wait_check();
	checking = 1;

	struct stat sf, sb;
	if (fstat(fd, &sf) != 0 || stat(b_path, &sb) != 0) {
		FAIL("fstat fd %d or stat %s: %s", fd, b_path, strerror(errno));
		return tp_finish("");
	}
	if (sf.st_ino != sb.st_ino || sf.st_dev != sb.st_dev)
		FAIL("fd %d is inode %lu, but %s (its other link) is inode %lu: copied, not reopened", fd,
		     (unsigned long)sf.st_ino, b_path, (unsigned long)sb.st_ino);
	if (lseek(fd, 0, SEEK_CUR) != 100)
		FAIL("offset %lld, want 100", (long long)lseek(fd, 0, SEEK_CUR));
	char c = 0;
	int b = open(b_path, O_RDONLY);
	if (pwrite(fd, "Z", 1, 7) != 1 || b < 0 || pread(b, &c, 1, 7) != 1 || c != 'Z')
		FAIL("a write through fd %d is not read through %s", fd, b_path);
	return tp_finish("deleted file with another hard link: reopened, inode %lu", (unsigned long)sf.st_ino);
}
