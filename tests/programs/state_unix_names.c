/*
 * state_unix_names: bound Unix sockets come back with their names, a
 * listener with its backlog, its accepted connection and its connection
 * still queued, and a datagram socket with queued datagrams and their
 * senders.
 *
 * Setup (P: a path in /tmp named after the pid; @: abstract names):
 *   L: stream listener bound to P-l.sock, listen(L, 7), the file made
 *      mode 0640 and (as root) owned by 4321:8765. Client c1 connects
 *      and is accepted as a1; c1 sends "abc" that a1 has not read. Client
 *      c3, with SO_PASSCRED, is autobound as it connects, and accepted as
 *      a3 (whose peer name is c3's). Client
 *      c2 connects and is left in L's queue (not accepted).
 *   B: datagram socket bound to @ckpt-b-PID; S: datagram socket bound to
 *      P-s.sock (a path sender); U: unnamed datagram socket. Queued in B:
 *      "one" from S, "two" from U, "three" from S.
 *   A: datagram socket autobound (bind with only the family): the kernel
 *      picks an abstract name of 5 hex digits.
 *   D: unnamed datagram socket connected to B (one way).
 *   X: stream socket bound to P-x.sock, whose file is then unlinked.
 * getsockname/getpeername of all of them are recorded.
 *
 * Check: every getsockname and getpeername is the same; P-x.sock does not
 * exist and P-l.sock is a socket file with its mode and owner; a1 reads "abc"; accept(L) gives the
 * queued connection, with L's name, and what c2 sends after the restore
 * arrives there (and back); a new client can connect to L and is
 * accepted; B receives "one" from S's name, "two" from an unnamed sender,
 * "three" from S's name, then nothing; what D sends arrives at B from an
 * unnamed sender.
 *
 * Protocol: see tests/e2e/state.sh. --fresh makes no sockets.
 */
#include "testprog.h"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum { L, C1, A1, C2, B, S, U, A, D, X, C3, A3, N };
static const char *names[N] = {"L", "c1", "a1", "c2", "B", "S", "U", "A", "D", "X", "c3", "a3"};
static int fds[N] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
static struct sockaddr_un self_addr[N], peer_addr[N];
static socklen_t self_len[N], peer_len[N];
static char lpath[108], spath[108], xpath[108];

static void must(int ok, const char *what)
{
	if (!ok)
		tp_die(what);
}

static socklen_t addr(struct sockaddr_un *a, const char *name, int abstract)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (abstract) {
		memcpy(a->sun_path + 1, name, strlen(name));
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	}
	strcpy(a->sun_path, name);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1);
}

static int sock(int type) { int s = socket(AF_UNIX, type, 0); must(s >= 0, "socket"); return s; }

static void bind_to(int s, const char *name, int abstract)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, abstract);
	must(bind(s, (struct sockaddr *)&a, l) == 0, "bind");
}

static void connect_to(int s, const char *name, int abstract)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, abstract);
	must(connect(s, (struct sockaddr *)&a, l) == 0, "connect");
}

static void names_of(int i, struct sockaddr_un *self, socklen_t *sl, struct sockaddr_un *peer, socklen_t *pl)
{
	memset(self, 0, sizeof *self);
	memset(peer, 0, sizeof *peer);
	*sl = *pl = sizeof(struct sockaddr_un);
	if (getsockname(fds[i], (struct sockaddr *)self, sl) != 0)
		*sl = 9999;
	if (getpeername(fds[i], (struct sockaddr *)peer, pl) != 0)
		*pl = 9999;
}

static int same(const struct sockaddr_un *a, socklen_t al, const struct sockaddr_un *b, socklen_t bl)
{
	return al == bl && (al > sizeof *a || memcmp(a, b, al) == 0);
}

static void expect_from(int s, const char *what, const char *data, const struct sockaddr_un *from, socklen_t from_len)
{
	char buf[64];
	struct sockaddr_un got;
	socklen_t gl = sizeof got;
	memset(&got, 0, sizeof got);
	ssize_t n = recvfrom(s, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&got, &gl);
	if (n != (ssize_t)strlen(data) || memcmp(buf, data, (size_t)n) != 0) {
		FAIL("%s: recvfrom gave %zd (%s), want \"%s\"", what, n, n < 0 ? strerror(errno) : "other bytes", data);
		return;
	}
	if (from && !same(&got, gl, from, from_len))
		FAIL("%s: \"%s\" came from an address of length %u, not the sender's (%u)", what, data, gl, from_len);
	if (!from && gl > sizeof(sa_family_t))
		FAIL("%s: \"%s\" came from a named sender (length %u), want an unnamed one", what, data, gl);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	char bname[64];
	snprintf(lpath, sizeof lpath, "/tmp/ckpt-unix-%d-l.sock", (int)getpid());
	snprintf(spath, sizeof spath, "/tmp/ckpt-unix-%d-s.sock", (int)getpid());
	snprintf(xpath, sizeof xpath, "/tmp/ckpt-unix-%d-x.sock", (int)getpid());
	snprintf(bname, sizeof bname, "ckpt-b-%d", (int)getpid());

	if (!fresh) {
		fds[L] = sock(SOCK_STREAM);
		bind_to(fds[L], lpath, 0);
		must(listen(fds[L], 7) == 0, "listen");
		must(chmod(lpath, 0640) == 0, "chmod");
		if (geteuid() == 0)
			must(chown(lpath, 4321, 8765) == 0, "chown");
		fds[C1] = sock(SOCK_STREAM);
		connect_to(fds[C1], lpath, 0);
		fds[A1] = accept(fds[L], NULL, NULL);
		must(fds[A1] >= 0, "accept");
		must(send(fds[C1], "abc", 3, 0) == 3, "send abc");
		fds[C3] = sock(SOCK_STREAM); /* autobound when it connects, by SO_PASSCRED */
		must(setsockopt(fds[C3], SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int)) == 0, "SO_PASSCRED");
		connect_to(fds[C3], lpath, 0);
		fds[A3] = accept(fds[L], NULL, NULL);
		must(fds[A3] >= 0, "accept c3");
		fds[C2] = sock(SOCK_STREAM);
		connect_to(fds[C2], lpath, 0);

		fds[B] = sock(SOCK_DGRAM);
		bind_to(fds[B], bname, 1);
		fds[S] = sock(SOCK_DGRAM);
		bind_to(fds[S], spath, 0);
		fds[U] = sock(SOCK_DGRAM);
		struct sockaddr_un b;
		socklen_t bl = addr(&b, bname, 1);
		must(sendto(fds[S], "one", 3, 0, (struct sockaddr *)&b, bl) == 3, "send one");
		must(sendto(fds[U], "two", 3, 0, (struct sockaddr *)&b, bl) == 3, "send two");
		must(sendto(fds[S], "three", 5, 0, (struct sockaddr *)&b, bl) == 5, "send three");

		fds[A] = sock(SOCK_DGRAM);
		struct sockaddr_un fam = {.sun_family = AF_UNIX};
		must(bind(fds[A], (struct sockaddr *)&fam, sizeof(sa_family_t)) == 0, "autobind");
		fds[D] = sock(SOCK_DGRAM);
		connect_to(fds[D], bname, 1);
		fds[X] = sock(SOCK_STREAM);
		bind_to(fds[X], xpath, 0);
		must(unlink(xpath) == 0, "unlink");
		for (int i = 0; i < N; i++)
			names_of(i, &self_addr[i], &self_len[i], &peer_addr[i], &peer_len[i]);
	}
	tp_ready(fresh);
	tp_wait_check();

	for (int i = 0; i < N; i++) {
		if (fds[i] < 0 || fcntl(fds[i], F_GETFD) < 0) {
			FAIL("%s: fd %d is not open", names[i], fds[i]);
			continue;
		}
		struct sockaddr_un self, peer;
		socklen_t sl, pl;
		names_of(i, &self, &sl, &peer, &pl);
		if (!same(&self, sl, &self_addr[i], self_len[i]))
			FAIL("%s: getsockname gives another name (length %u, was %u: \"%s\")", names[i], sl, self_len[i],
			     self_addr[i].sun_path[0] ? self_addr[i].sun_path : self_addr[i].sun_path + 1);
		if (!same(&peer, pl, &peer_addr[i], peer_len[i]))
			FAIL("%s: getpeername gives another name (length %u, was %u)", names[i], pl, peer_len[i]);
	}
	if (tp_failures)
		return 1;
	struct stat st;
	if (lstat(xpath, &st) == 0 || errno != ENOENT)
		FAIL("%s exists, but it was unlinked while X was bound", xpath);
	if (lstat(lpath, &st) != 0 || !S_ISSOCK(st.st_mode))
		FAIL("%s is not a socket file", lpath);
	else if ((st.st_mode & 07777) != 0640 || (geteuid() == 0 && (st.st_uid != 4321 || st.st_gid != 8765)))
		FAIL("%s has mode %o owner %u:%u, want 0640 (4321:8765 as root)", lpath, st.st_mode & 07777,
		     (unsigned)st.st_uid, (unsigned)st.st_gid);

	char buf[16];
	if (recv(fds[A1], buf, sizeof buf, MSG_DONTWAIT) != 3 || memcmp(buf, "abc", 3) != 0)
		FAIL("a1: the unread \"abc\" is not there");
	struct pollfd pl = {fds[L], POLLIN, 0};
	int a2 = poll(&pl, 1, 0) == 1 ? accept(fds[L], NULL, NULL) : -1;
	if (a2 < 0) {
		FAIL("L: no queued connection to accept");
	} else {
		struct sockaddr_un n;
		socklen_t nl = sizeof n;
		if (getsockname(a2, (struct sockaddr *)&n, &nl) != 0 || !same(&n, nl, &self_addr[L], self_len[L]))
			FAIL("the accepted queued connection does not have L's name");
		must(send(fds[C2], "late", 4, 0) == 4, "send late");
		if (recv(a2, buf, sizeof buf, MSG_DONTWAIT) != 4 || memcmp(buf, "late", 4) != 0)
			FAIL("what c2 sent after the restore did not reach the accepted connection");
		must(send(a2, "ok", 2, 0) == 2, "send ok");
		if (recv(fds[C2], buf, sizeof buf, MSG_DONTWAIT) != 2)
			FAIL("c2 does not get what its accepted peer sends");
		if (poll(&pl, 1, 0) != 0)
			FAIL("L had more than one queued connection");
	}
	int c3 = sock(SOCK_STREAM);
	if (connect(c3, (struct sockaddr *)&self_addr[L], self_len[L]) != 0 || accept(fds[L], NULL, NULL) < 0)
		FAIL("a new client cannot connect to L and be accepted");

	expect_from(fds[B], "B", "one", &self_addr[S], self_len[S]);
	expect_from(fds[B], "B", "two", NULL, 0);
	expect_from(fds[B], "B", "three", &self_addr[S], self_len[S]);
	if (recv(fds[B], buf, sizeof buf, MSG_DONTWAIT) >= 0 || errno != EAGAIN)
		FAIL("B: more datagrams than the three queued");
	must(send(fds[D], "via D", 5, 0) == 5, "send via D");
	expect_from(fds[B], "B", "via D", NULL, 0);
	unlink(lpath);
	unlink(spath);
	return tp_finish("bound, autobound and unlinked names, listener with accepted and queued connections, "
			 "datagrams with their senders");
}
