/*
 * state_deleted_file: a file deleted while open on several fds comes back
 * as ONE unlinked inode with its mode, owner and times.
 *
 * Setup: /tmp/ckpt-delf.XXXXXX/data (6000 bytes of a pattern) gets mode
 * 0641, owner 4321:8765 (when run as root), atime 1000000000.5 and mtime
 * 1200000000.25 (futimens); it is opened O_RDONLY (fd a), separately O_RDWR
 * (fd b), b is dup'ed (fd c), and the name is unlinked.
 *
 * Check: a, b and c are one inode (same st_dev and st_ino); a and b are
 * still separate opens (b's offset moves, a's not) sharing contents (a
 * pwrite through b is read through a), while b and c share one (a read
 * through b moves c's offset); st_nlink 0; mode 0641; owner as
 * set; atime and mtime to the nanosecond (the dump reads the contents
 * with O_NOATIME, so the original's atime is not moved either); contents
 * intact.
 *
 * Protocol: see tests/e2e/state.sh. --fresh makes the file but does not
 * chmod, chown or set its times, so the checks fail.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIZE 6000
static char dir[64] = "/tmp/ckpt-delf.XXXXXX";
static int a = -1, b = -1, c = -1;
static unsigned char data[SIZE];

static void cleanup(void) { rmdir(dir); }

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!mkdtemp(dir))
		tp_die("mkdtemp");
	atexit(cleanup);
	char path[128];
	snprintf(path, sizeof path, "%s/data", dir);
	for (size_t i = 0; i < SIZE; i++)
		data[i] = (unsigned char)(i * 7 + 3);
	int w = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (w < 0 || write(w, data, SIZE) != SIZE)
		tp_die(path);
	int root = geteuid() == 0;
	if (!fresh) {
		if (fchmod(w, 0641) != 0 || (root && fchown(w, 4321, 8765) != 0))
			tp_die("fchmod/fchown");
		struct timespec t[2] = {{1000000000, 500000000}, {1200000000, 250000000}};
		if (futimens(w, t) != 0)
			tp_die("futimens");
	}
	close(w);
	a = open(path, O_RDONLY);
	b = open(path, O_RDWR);
	c = dup(b);
	if (a < 0 || b < 0 || c < 0)
		tp_die("open");
	unlink(path);
	tp_ready(fresh);
	tp_wait_check();

	struct stat sa, sb, sc;
	if (fstat(a, &sa) || fstat(b, &sb) || fstat(c, &sc)) {
		FAIL("fstat of fds %d %d %d: %s", a, b, c, strerror(errno));
		return tp_finish("");
	}
	if (sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev || sb.st_ino != sc.st_ino)
		FAIL("fds %d, %d, %d are not one file: inodes %lu %lu %lu", a, b, c, (unsigned long)sa.st_ino,
		     (unsigned long)sb.st_ino, (unsigned long)sc.st_ino);
	if (sa.st_nlink != 0)
		FAIL("st_nlink %lu, want 0", (unsigned long)sa.st_nlink);
	if ((sa.st_mode & 07777) != 0641)
		FAIL("mode %o, want 0641", sa.st_mode & 07777);
	if (!root)
		printf("note: not root: the owner (4321:8765) cannot be set up, so it is not checked\n");
	if (root && (sa.st_uid != 4321 || sa.st_gid != 8765))
		FAIL("owner %u:%u, want 4321:8765", sa.st_uid, sa.st_gid);
	if (sa.st_mtim.tv_sec != 1200000000 || sa.st_mtim.tv_nsec != 250000000)
		FAIL("mtime %ld.%09ld, want 1200000000.250000000", (long)sa.st_mtim.tv_sec, sa.st_mtim.tv_nsec);
	if (sa.st_atim.tv_sec != 1000000000 || sa.st_atim.tv_nsec != 500000000)
		FAIL("atime %ld.%09ld, want 1000000000.500000000", (long)sa.st_atim.tv_sec, sa.st_atim.tv_nsec);
	unsigned char buf[SIZE];
	if (pread(a, buf, SIZE, 0) != SIZE || memcmp(buf, data, SIZE) != 0)
		FAIL("contents differ");
	if (read(b, buf, 10) != 10 || lseek(a, 0, SEEK_CUR) != 0 || lseek(c, 0, SEEK_CUR) != 10)
		FAIL("fd %d and its dup %d do not share an offset apart from fd %d", b, c, a);
	if (pwrite(b, "XYZ", 3, 50) != 3 || pread(a, buf, 3, 50) != 3 || memcmp(buf, "XYZ", 3) != 0)
		FAIL("a write through fd %d is not seen through fd %d (two copies, not one file)", b, a);
	return tp_finish("deleted file: one inode on 3 fds, mode 0641, owner, atime and mtime kept");
}
