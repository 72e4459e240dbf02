/*
 * A session leader whose controlling terminal is a pty it holds both ends
 * of (as `script` or a terminal emulator sets up for its shell, here in one
 * process): after restore the process leads its own session again, the
 * new pty is its controlling terminal (/dev/tty opens it, TIOCGSID names
 * the process), its group is the pty's foreground group, and ^C typed on
 * the master reaches it as SIGINT.
 */
#include "testprog.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int m = -1, s = -1;
static volatile sig_atomic_t got_int;

static void on_int(int sig) { (void)sig; got_int = 1; }

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh) {
		if (setsid() < 0)
			tp_die("setsid");
		if (openpty(&m, &s, NULL, NULL, NULL) != 0)
			tp_die("openpty");
		if (ioctl(s, TIOCSCTTY, 0) != 0)
			tp_die("TIOCSCTTY");
	}
	signal(SIGINT, on_int);
	tp_ready(fresh);
	tp_wait_check();
	if (m < 0) {
		FAIL("no pty");
		return tp_finish("");
	}
	if (getsid(0) != getpid())
		FAIL("session %d, not led by the process %d", getsid(0), getpid());
	pid_t sid = -1;
	if (ioctl(m, TIOCGSID, &sid) != 0 || sid != getpid())
		FAIL("the pty's session is %d", sid);
	if (tcgetpgrp(s) != getpgrp())
		FAIL("foreground group %d, not the process's %d", tcgetpgrp(s), getpgrp());
	/* /dev/tty opens the controlling terminal: a byte written there comes out of the master. */
	int tty = open("/dev/tty", O_RDWR | O_NOCTTY);
	char c = 0;
	struct pollfd mp = {m, POLLIN, 5000};
	if (tty < 0 || write(tty, "Z", 1) != 1 || poll(&mp, 1, 5000) != 1 || read(m, &c, 1) != 1 || c != 'Z')
		FAIL("/dev/tty is not the pty (open %d, read '%c')", tty, c ? c : '?');
	if (write(m, "\003", 1) != 1)
		FAIL("write ^C");
	for (int i = 0; i < 500 && !got_int; ++i) {
		struct pollfd p = {s, POLLIN, 10};
		poll(&p, 1, 10);
	}
	if (!got_int)
		FAIL("^C on the master did not reach the process");
	return tp_finish("session leader with its pty as controlling terminal and foreground group; ^C delivered");
}
