/*
 * Two pseudo-terminals whose both ends the process holds (a terminal
 * emulator or expect in one process): after restore each is one new pty
 * with the same settings (a changed VERASE, IXANY, 38400 baud, no ECHOCTL),
 * window size with pixels, packet mode, lock state, exclusive mode, two
 * separate slave descriptions plus a dup, and the data that was queued
 * each way: canonical input (a line, a line ended by VEOF, and a line still
 * being typed with an escaped newline in it), output waiting for the master
 * (read with its packet header), and raw input holding ^C ^S bytes on a
 * raw pty whose flow control was turned on afterwards. The pty number may
 * change; the slave fds must name the master's new slave.
 */
#include "testprog.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static int m = -1, s1 = -1, s2 = -1, sd = -1, rm = -1, rs = -1;
static struct termios want;
static const struct winsize kWin = {33, 101, 808, 606};

static void flush_both(int a, int b)
{
	struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
	poll(&p[0], 1, 0);
	poll(&p[1], 1, 0);
	poll(&p[0], 1, 0);
}

static void drain(int fd)
{
	char buf[4096];
	while (read(fd, buf, sizeof buf) > 0)
		;
}

static void setup(void)
{
	char name[64];
	if (openpty(&m, &s1, name, NULL, &kWin) != 0)
		tp_die("openpty");
	s2 = open(name, O_RDONLY | O_NOCTTY | O_NONBLOCK); /* a second description of the slave */
	if (s2 < 0)
		tp_die("open slave");
	sd = dup(s1);
	tcgetattr(s1, &want);
	want.c_cc[VERASE] = 'X' & 0x1f; /* ^X */
	want.c_iflag |= IXANY;
	want.c_lflag &= ~ECHOCTL;
	cfsetspeed(&want, B38400);
	tcsetattr(s1, TCSANOW, &want);
	tcgetattr(s1, &want);
	fcntl(m, F_SETFL, O_NONBLOCK);
	/* Input: a line, a line ended by VEOF, a line being typed (escaped newline). */
	const char in[] = "first\nsecond\004par\026\ntial";
	if (write(m, in, sizeof in - 1) != (ssize_t)(sizeof in - 1))
		tp_die("write input");
	flush_both(s1, m); /* the echo is made as the input is taken: drop it */
	drain(m);
	if (write(s1, "out\n", 4) != 4) /* ONLCR: "out\r\n" waits for the master */
		tp_die("write output");
	flush_both(m, s1);
	int on = 1;
	if (ioctl(m, TIOCPKT, &on) != 0)
		tp_die("TIOCPKT");
	if (ioctl(s1, TIOCEXCL) != 0)
		tp_die("TIOCEXCL");
	if (ioctl(m, TIOCSPTLCK, &on) != 0)
		tp_die("lock");

	/* A raw pty with ^C ^S queued, flow control turned on after they came. */
	if (openpty(&rm, &rs, NULL, NULL, NULL) != 0)
		tp_die("openpty raw");
	struct termios raw;
	tcgetattr(rs, &raw);
	cfmakeraw(&raw);
	tcsetattr(rs, TCSANOW, &raw);
	if (write(rm, "\003\023raw", 5) != 5)
		tp_die("write raw");
	flush_both(rs, rm);
	raw.c_iflag |= IXON;
	tcsetattr(rs, TCSANOW, &raw);
}

static void expect_read(int fd, const char *want_bytes, size_t n, const char *what)
{
	char buf[256];
	ssize_t got = read(fd, buf, sizeof buf);
	if (got != (ssize_t)n || memcmp(buf, want_bytes, n) != 0)
		FAIL("%s: read %zd bytes, wanted %zu", what, got, n);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh)
		setup();
	tp_ready(fresh);
	tp_wait_check();
	if (m < 0) {
		FAIL("no pty");
		return tp_finish("");
	}
	struct termios t;
	if (tcgetattr(s1, &t) != 0 || t.c_iflag != want.c_iflag || t.c_oflag != want.c_oflag ||
	    t.c_cflag != want.c_cflag || t.c_lflag != want.c_lflag || memcmp(t.c_cc, want.c_cc, NCCS) != 0 ||
	    cfgetispeed(&t) != B38400)
		FAIL("terminal settings differ");
	struct winsize w;
	if (ioctl(s2, TIOCGWINSZ, &w) != 0 || memcmp(&w, &kWin, sizeof w) != 0)
		FAIL("window size %ux%u (%ux%u px)", w.ws_row, w.ws_col, w.ws_xpixel, w.ws_ypixel);
	int v = -1;
	if (ioctl(m, TIOCGPKT, &v) != 0 || v != 1)
		FAIL("packet mode %d", v);
	v = -1;
	if (ioctl(m, TIOCGPTLCK, &v) != 0 || v != 1)
		FAIL("lock %d", v);
	v = -1;
	if (ioctl(s1, TIOCGEXCL, &v) != 0 || v != 1)
		FAIL("exclusive %d", v);
	/* The same pty behind all three slave fds, named by the master's index. */
	char *name = ptsname(m), link[64] = "";
	for (int fd = 0; fd < 3; ++fd) {
		int f = fd == 0 ? s1 : fd == 1 ? s2 : sd;
		char p[64];
		snprintf(p, sizeof p, "/proc/self/fd/%d", f);
		ssize_t n = readlink(p, link, sizeof link - 1);
		link[n > 0 ? n : 0] = 0;
		if (!name || strcmp(link, name) != 0)
			FAIL("fd %d is %s, the master's slave is %s", f, link, name ? name : "?");
	}
	if ((fcntl(s2, F_GETFL) & (O_NONBLOCK | O_ACCMODE)) != (O_NONBLOCK | O_RDONLY) ||
	    (fcntl(s1, F_GETFL) & O_NONBLOCK) != 0)
		FAIL("slave descriptions' flags differ");
	fcntl(s1, F_SETFL, O_NONBLOCK);
	if (!(fcntl(sd, F_GETFL) & O_NONBLOCK))
		FAIL("the dup does not share its slave description");
	/* Output waiting for the master, in packet mode. */
	expect_read(m, "\0out\r\n", 6, "master output");
	/* Input waiting for the slave's reader. */
	expect_read(s1, "first\n", 6, "input line 1");
	expect_read(s1, "second", 6, "input line 2 (ended by VEOF)");
	char b[16];
	if (read(s1, b, sizeof b) >= 0 || errno != EAGAIN)
		FAIL("the unfinished line is readable already");
	if (write(m, "X\n", 2) != 2)
		FAIL("write to master");
	struct pollfd p = {s1, POLLIN, 5000};
	poll(&p, 1, 5000);
	expect_read(s1, "par\ntialX\n", 10, "input line 3 (finished now)");
	/* The raw pty. */
	fcntl(rs, F_SETFL, O_NONBLOCK);
	expect_read(rs, "\003\023raw", 5, "raw input");
	struct termios r;
	if (tcgetattr(rs, &r) != 0 || !(r.c_iflag & IXON) || (r.c_lflag & ICANON))
		FAIL("raw pty settings");
	return tp_finish("two ptys: settings, window, packet mode, lock, exclusive, 3 slave fds, queued data both ways");
}
