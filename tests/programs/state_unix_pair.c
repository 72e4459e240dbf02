/*
 * state_unix_pair: Unix socket pairs (stream, datagram, seqpacket) with
 * unread data in both directions, shutdown state and the options a program
 * can observe must come back exactly.
 *
 * Setup:
 *   stream pair s[0], s[1]: "hello from 0" sent 0 -> 1 (12 bytes), then
 *     5000 bytes in two writes 1 -> 0; shutdown(s[0], SHUT_WR); s[0] gets
 *     SO_SNDBUF 40000 (the kernel makes it 80000), SO_RCVTIMEO 2.5 s,
 *     SO_PEEK_OFF 3; s[1] gets SO_PASSCRED before the data (so it carries
 *     credentials), SO_RCVBUF 50000, O_NONBLOCK,
 *     SO_RCVLOWAT 2, SO_SNDTIMEO 1 s, SO_PRIORITY 5.
 *   datagram pair d[0], d[1]: datagrams of 10, 1 and 3000 bytes 0 -> 1 and
 *     one of 7 bytes 1 -> 0; then d[1] gets SO_PASSCRED (they carry none).
 *   seqpacket pair q[0], q[1]: messages of 4 and 600 bytes 0 -> 1;
 *     shutdown(q[1], SHUT_RD); q[1] FD_CLOEXEC.
 * Every option of every socket is recorded with getsockopt before "ready".
 *
 * Check: the recorded options, F_GETFL and F_GETFD are the same; each
 * pair's ends are each other's peers (what one sends the other gets);
 * s[0] peeks at offset 3 first; s[1]'s data carries this process's
 * credentials (its pid now), d[1]'s first datagram none (pid 0); the unread data comes back in order with
 * its message boundaries; s[1] reads end of file after its 12 bytes (its
 * peer shut down writing) and s[0] cannot write (EPIPE); q[1] reads its two
 * messages, then end of file.
 *
 * Protocol: see tests/e2e/state.sh. --fresh makes no sockets.
 */
#include "testprog.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/time.h>
#include <unistd.h>

#define NSOCK 6
static int fds[NSOCK] = {-1, -1, -1, -1, -1, -1};
static const char *names[NSOCK] = {"stream 0", "stream 1", "dgram 0", "dgram 1", "seqpacket 0", "seqpacket 1"};

static const int int_opts[] = {SO_SNDBUF, SO_RCVBUF, SO_PASSCRED, SO_PEEK_OFF, SO_RCVLOWAT, SO_PRIORITY, SO_TYPE};
static const char *int_names[] = {"SO_SNDBUF", "SO_RCVBUF", "SO_PASSCRED", "SO_PEEK_OFF", "SO_RCVLOWAT", "SO_PRIORITY", "SO_TYPE"};
#define NOPT (sizeof int_opts / sizeof int_opts[0])
static int saved[NSOCK][NOPT];
static struct timeval saved_tv[NSOCK][2];
static int saved_fl[NSOCK], saved_fd[NSOCK];

static unsigned char big[5000];

static void must(int ok, const char *what)
{
	if (!ok)
		tp_die(what);
}

static void set_int(int fd, int opt, int v)
{
	must(setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v) == 0, "setsockopt");
}

static void record(void)
{
	for (int i = 0; i < NSOCK; i++) {
		for (size_t o = 0; o < NOPT; o++) {
			socklen_t l = sizeof(int);
			saved[i][o] = -12345;
			getsockopt(fds[i], SOL_SOCKET, int_opts[o], &saved[i][o], &l);
		}
		socklen_t l = sizeof(struct timeval);
		getsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &saved_tv[i][0], &l);
		l = sizeof(struct timeval);
		getsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &saved_tv[i][1], &l);
		saved_fl[i] = fcntl(fds[i], F_GETFL);
		saved_fd[i] = fcntl(fds[i], F_GETFD);
	}
}

/* Reads one message (MSG_DONTWAIT) and compares it. */
static void expect_msg(int i, const void *want, ssize_t len, int flags)
{
	static unsigned char got[8192];
	ssize_t n = recv(fds[i], got, sizeof got, flags | MSG_DONTWAIT);
	if (n != len)
		FAIL("%s: recv gave %zd (%s), want %zd bytes", names[i], n, n < 0 ? strerror(errno) : "ok", len);
	else if (len > 0 && memcmp(got, want, (size_t)len) != 0)
		FAIL("%s: a message of %zd bytes differs", names[i], len);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 7 + i / 251);
	static const char d10[] = "ten bytes!", d1[] = "x", d7[] = "seven!!", q4[] = "four";
	static unsigned char d3000[3000], q600[600];
	memset(d3000, 'D', sizeof d3000);
	memset(q600, 'Q', sizeof q600);

	if (!fresh) {
		must(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair stream");
		must(socketpair(AF_UNIX, SOCK_DGRAM, 0, fds + 2) == 0, "socketpair dgram");
		must(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds + 4) == 0, "socketpair seqpacket");
		set_int(fds[1], SO_PASSCRED, 1); /* before: the data carries credentials */
		must(send(fds[0], "hello from 0", 12, 0) == 12, "send");
		must(send(fds[1], big, 3000, 0) == 3000 && send(fds[1], big + 3000, 2000, 0) == 2000, "send big");
		must(shutdown(fds[0], SHUT_WR) == 0, "shutdown");
		set_int(fds[0], SO_SNDBUF, 40000);
		struct timeval tv = {2, 500000};
		must(setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO");
		set_int(fds[0], SO_PEEK_OFF, 3);
		set_int(fds[1], SO_RCVBUF, 50000);
		set_int(fds[1], SO_RCVLOWAT, 2);
		set_int(fds[1], SO_PRIORITY, 5);
		struct timeval tv2 = {1, 0};
		must(setsockopt(fds[1], SOL_SOCKET, SO_SNDTIMEO, &tv2, sizeof tv2) == 0, "SO_SNDTIMEO");
		must(fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
		must(send(fds[2], d10, 10, 0) == 10 && send(fds[2], d1, 1, 0) == 1 &&
			     send(fds[2], d3000, sizeof d3000, 0) == 3000 && send(fds[3], d7, 7, 0) == 7,
		     "send dgram");
		must(send(fds[4], q4, 4, 0) == 4 && send(fds[4], q600, 600, 0) == 600, "send seqpacket");
		must(shutdown(fds[5], SHUT_RD) == 0, "shutdown seqpacket");
		set_int(fds[3], SO_PASSCRED, 1); /* after: its datagrams carry none */
		must(fcntl(fds[5], F_SETFD, FD_CLOEXEC) == 0, "FD_CLOEXEC");
		record();
	}
	tp_ready(fresh);
	tp_wait_check();

	for (int i = 0; i < NSOCK; i++) {
		if (fds[i] < 0 || fcntl(fds[i], F_GETFD) < 0) {
			FAIL("%s: fd %d is not open", names[i], fds[i]);
			continue;
		}
		for (size_t o = 0; o < NOPT; o++) {
			int v = -12345;
			socklen_t l = sizeof v;
			getsockopt(fds[i], SOL_SOCKET, int_opts[o], &v, &l);
			if (v != saved[i][o])
				FAIL("%s: %s is %d, was %d", names[i], int_names[o], v, saved[i][o]);
		}
		for (int t = 0; t < 2; t++) {
			struct timeval tv = {0, 0};
			socklen_t l = sizeof tv;
			getsockopt(fds[i], SOL_SOCKET, t ? SO_SNDTIMEO : SO_RCVTIMEO, &tv, &l);
			if (tv.tv_sec != saved_tv[i][t].tv_sec || tv.tv_usec != saved_tv[i][t].tv_usec)
				FAIL("%s: %s is %ld.%06ld, was %ld.%06ld", names[i], t ? "SO_SNDTIMEO" : "SO_RCVTIMEO",
				     (long)tv.tv_sec, (long)tv.tv_usec, (long)saved_tv[i][t].tv_sec, (long)saved_tv[i][t].tv_usec);
		}
		if (fcntl(fds[i], F_GETFL) != saved_fl[i])
			FAIL("%s: F_GETFL %#x, was %#x", names[i], fcntl(fds[i], F_GETFL), saved_fl[i]);
		if (fcntl(fds[i], F_GETFD) != saved_fd[i])
			FAIL("%s: F_GETFD %d, was %d", names[i], fcntl(fds[i], F_GETFD), saved_fd[i]);
	}
	if (tp_failures)
		return 1;

	/* Stream: s[0] peeks from its offset 3 first, then reads all 5000 bytes. */
	static unsigned char peeked[100];
	if (recv(fds[0], peeked, sizeof peeked, MSG_PEEK | MSG_DONTWAIT) != 100 || memcmp(peeked, big + 3, 100) != 0)
		FAIL("stream 0: MSG_PEEK did not start at its peek offset 3");
	must(setsockopt(fds[0], SOL_SOCKET, SO_PEEK_OFF, &(int){-1}, sizeof(int)) == 0, "SO_PEEK_OFF off");
	static unsigned char got[6000];
	size_t have = 0;
	for (;;) {
		ssize_t n = recv(fds[0], got + have, sizeof got - have, MSG_DONTWAIT);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	if (have != sizeof big || memcmp(got, big, sizeof big) != 0)
		FAIL("stream 0: read back %zu bytes, want the 5000 sent by its peer", have);
	/* Sent with credentials: those of this process (its pid now). */
	char data[32];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct iovec iov = {data, sizeof data};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control};
	ssize_t got_n = recvmsg(fds[1], &mh, MSG_DONTWAIT);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct ucred cred = {0, 0, 0};
	if (c && c->cmsg_type == SCM_CREDENTIALS)
		memcpy(&cred, CMSG_DATA(c), sizeof cred);
	if (got_n != 12 || memcmp(data, "hello from 0", 12) != 0)
		FAIL("stream 1: did not read \"hello from 0\" (%zd)", got_n);
	if (cred.pid != getpid() || cred.uid != getuid() || cred.gid != getgid())
		FAIL("stream 1: credentials pid %d uid %u gid %u, want this process's (%d)", (int)cred.pid,
		     (unsigned)cred.uid, (unsigned)cred.gid, (int)getpid());
	expect_msg(1, NULL, 0, 0); /* its peer shut down writing: end of file */
	if (send(fds[0], "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE)
		FAIL("stream 0: send after SHUT_WR did not fail with EPIPE");
	must(send(fds[1], "back", 4, 0) == 4, "send back");
	expect_msg(0, "back", 4, 0);

	/* Sent without credentials: pid 0, even though d[1] has SO_PASSCRED now. */
	mh.msg_controllen = sizeof control;
	mh.msg_control = &control;
	iov.iov_len = 10;
	memset(&cred, 0xff, sizeof cred);
	got_n = recvmsg(fds[3], &mh, MSG_DONTWAIT);
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_type == SCM_CREDENTIALS)
		memcpy(&cred, CMSG_DATA(c), sizeof cred);
	if (got_n != 10 || memcmp(data, d10, 10) != 0)
		FAIL("dgram 1: the first datagram is not the 10 bytes sent");
	if (cred.pid != 0)
		FAIL("dgram 1: credentials of pid %d on a datagram sent without them", (int)cred.pid);
	expect_msg(3, d1, 1, 0);
	expect_msg(3, d3000, 3000, 0);
	expect_msg(2, d7, 7, 0);
	expect_msg(3, NULL, -1, 0); /* nothing more: EAGAIN */
	must(send(fds[2], "new", 3, 0) == 3, "send dgram");
	expect_msg(3, "new", 3, 0);

	expect_msg(5, q4, 4, 0);
	expect_msg(5, q600, 600, 0);
	expect_msg(5, NULL, 0, 0); /* shut down reading, queue empty: end of file */
	return tp_finish("socket pairs with data both ways, boundaries, shutdown and options");
}
