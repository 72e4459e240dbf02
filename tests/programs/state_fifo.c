/*
 * state_fifo: unread data in FIFOs comes back in every arrangement of ends,
 * and a FIFO unlinked while open comes back as an unlinked FIFO.
 *
 * Setup, in /tmp/ckpt-fifo.XXXXXX:
 *   rdwr     mkfifo, opened O_RDWR (fd r), "data-in-rdwr" written, unread
 *   reader   mkfifo, opened O_RDONLY|O_NONBLOCK (fd o, the only end left):
 *            a writer opened for a moment wrote "data-for-reader" and closed
 *   gone     mkfifo, opened O_RDONLY|O_NONBLOCK (fd gr) and O_WRONLY (fd gw),
 *            "data-in-unlinked" written through gw, then the name unlinked
 *
 * Check: each reader reads its data (o then sees EOF: no writer); gr and
 * gw are one FIFO (st_ino) with no link, their /proc target ends in
 * " (deleted)", and bytes written to gw are read from gr; the status flags
 * are as before.
 *
 * Protocol: see tests/e2e/state.sh. --fresh writes no data, so the reads
 * find nothing.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64] = "/tmp/ckpt-fifo.XXXXXX";
static char p_rdwr[128], p_reader[128], p_gone[128];

static void cleanup(void)
{
	unlink(p_rdwr);
	unlink(p_reader);
	rmdir(dir);
}

static void expect(int fd, const char *want, const char *what)
{
	char buf[64] = {0};
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);  /* a missing byte must not hang the test */
	ssize_t n = read(fd, buf, sizeof buf - 1);
	fcntl(fd, F_SETFL, fl);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, strlen(want)) != 0)
		FAIL("%s (fd %d): read %zd bytes '%s', want '%s' (%s)", what, fd, n, n > 0 ? buf : "",
		     want, n < 0 ? strerror(errno) : "");
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!mkdtemp(dir))
		tp_die("mkdtemp");
	atexit(cleanup);
	snprintf(p_rdwr, sizeof p_rdwr, "%s/rdwr", dir);
	snprintf(p_reader, sizeof p_reader, "%s/reader", dir);
	snprintf(p_gone, sizeof p_gone, "%s/gone", dir);
	if (mkfifo(p_rdwr, 0600) || mkfifo(p_reader, 0600) || mkfifo(p_gone, 0600))
		tp_die("mkfifo");
	int r = open(p_rdwr, O_RDWR);
	int o = open(p_reader, O_RDONLY | O_NONBLOCK);
	int w = open(p_reader, O_WRONLY | O_NONBLOCK);
	int gr = open(p_gone, O_RDONLY | O_NONBLOCK);
	int gw = open(p_gone, O_WRONLY);
	if (r < 0 || o < 0 || w < 0 || gr < 0 || gw < 0)
		tp_die("open");
	if (!fresh && (write(r, "data-in-rdwr", 12) != 12 || write(w, "data-for-reader", 15) != 15 ||
		       write(gw, "data-in-unlinked", 16) != 16))
		tp_die("write");
	close(w);
	unlink(p_gone);
	int fl_r = fcntl(r, F_GETFL), fl_o = fcntl(o, F_GETFL), fl_gr = fcntl(gr, F_GETFL), fl_gw = fcntl(gw, F_GETFL);
	tp_ready(fresh);
	tp_wait_check();

	if (fcntl(r, F_GETFL) != fl_r || fcntl(o, F_GETFL) != fl_o || fcntl(gr, F_GETFL) != fl_gr ||
	    fcntl(gw, F_GETFL) != fl_gw)
		FAIL("status flags differ");
	expect(r, "data-in-rdwr", "FIFO open O_RDWR");
	expect(o, "data-for-reader", "FIFO with only its read end open");
	char c;
	if (read(o, &c, 1) != 0)
		FAIL("the lone reader (fd %d) does not see end-of-file after its data", o);
	expect(gr, "data-in-unlinked", "unlinked FIFO");
	struct stat a, b;
	if (fstat(gr, &a) || fstat(gw, &b) || !S_ISFIFO(a.st_mode) || a.st_ino != b.st_ino || a.st_nlink != 0)
		FAIL("fds %d and %d are not one unlinked FIFO (inodes %lu %lu, nlink %lu)", gr, gw, (unsigned long)a.st_ino,
		     (unsigned long)b.st_ino, (unsigned long)a.st_nlink);
	char link[64], t[256] = {0};
	snprintf(link, sizeof link, "/proc/self/fd/%d", gr);
	ssize_t n = readlink(link, t, sizeof t - 1);
	if (n < 10 || strcmp(t + n - 10, " (deleted)") != 0)
		FAIL("fd %d points to '%s', want a name ending in ' (deleted)'", gr, t);
	if (write(gw, "more", 4) != 4)
		FAIL("cannot write to the unlinked FIFO");
	else
		expect(gr, "more", "unlinked FIFO after a write");
	return tp_finish("FIFOs: data kept with O_RDWR, a lone reader and an unlinked FIFO");
}
