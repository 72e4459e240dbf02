/*
 * Internet sockets that are not connections (issue 14): TCP listeners on
 * 127.0.0.1 and ::1 with their backlog and options, a bound and a created
 * TCP socket, a UDP socket with four queued datagrams (two from a socket
 * of this process that is connected to it, one from a socket that has been
 * closed since, one from a socket of this process bound to 0.0.0.0), and a
 * UDP6 socket with one from ::1, a dual-stack UDP6 socket on [::] with one
 * from 127.0.0.1 (an IPv4-mapped sender); O_NONBLOCK. After restore: the same
 * addresses, options and backlog, the listeners accept, the datagrams come
 * in order from their senders, the connected UDP socket keeps its peer.
 * Runs in a network namespace of its own (tests/e2e/state_inet_sockets.sh).
 */
#include "testprog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum { LISTEN4, LISTEN6, BOUND, CREATED, UDP_RX, UDP_TX, UDP6, UDP_ANY, UDP_DUAL, COUNT };
static int fds[COUNT];
static struct sockaddr_storage names[COUNT];

struct opt { int level, name; const char *label; };
static const struct opt opts[] = {
	{SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"}, {SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT"},
	{SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"}, {SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF"},
	{SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"}, {SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY"},
	{SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"}, {SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE"},
	{IPPROTO_IP, IP_TOS, "IP_TOS"}, {IPPROTO_IP, IP_TTL, "IP_TTL"}, {IPPROTO_IP, IP_FREEBIND, "IP_FREEBIND"},
	{IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY"}, {IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY"},
	{IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"}, {IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"},
	{IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT"}, {IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT"},
	{IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"}, {IPPROTO_TCP, TCP_FASTOPEN, "TCP_FASTOPEN"},
	{IPPROTO_TCP, TCP_CORK, "TCP_CORK"},
};
#define NOPTS (sizeof opts / sizeof opts[0])
static int values[COUNT][NOPTS];
static char congestion[16], device[16];
static struct linger lingered;
static struct timeval timeout;

static void set(int fd, int level, int name, int v)
{
	if (setsockopt(fd, level, name, &v, sizeof v) != 0)
		tp_die("setsockopt");
}

static struct sockaddr_in in4(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static void snapshot(int (*into)[NOPTS])
{
	for (int i = 0; i < COUNT; i++)
		for (size_t o = 0; o < NOPTS; o++) {
			socklen_t len = sizeof(int);
			into[i][o] = -12345;
			getsockopt(fds[i], opts[o].level, opts[o].name, &into[i][o], &len);
		}
}

/* Waits (20 s at most) until `n` datagrams wait in fd: loopback delivers
 * them through a softirq, which a loaded machine may run later. Counted
 * with peeks from offset 0; the peek offset is then off again (-1). */
static void wait_queued(int fd, int n)
{
	char buf[64];
	for (int tries = 0; tries < 20000; tries++) {
		int zero = 0, off = -1, have = 0;
		setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero);
		while (recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT) > 0)
			have++;
		setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off);
		if (have >= n)
			return;
		usleep(1000);
	}
	tp_die("datagrams not delivered");
}

static void setup(void)
{
	fds[LISTEN4] = socket(AF_INET, SOCK_STREAM, 0);
	set(fds[LISTEN4], SOL_SOCKET, SO_REUSEADDR, 1);
	set(fds[LISTEN4], SOL_SOCKET, SO_KEEPALIVE, 1);
	set(fds[LISTEN4], SOL_SOCKET, SO_RCVBUF, 40000);
	set(fds[LISTEN4], IPPROTO_TCP, TCP_NODELAY, 1);
	set(fds[LISTEN4], IPPROTO_TCP, TCP_KEEPIDLE, 33);
	set(fds[LISTEN4], IPPROTO_TCP, TCP_KEEPINTVL, 7);
	set(fds[LISTEN4], IPPROTO_TCP, TCP_KEEPCNT, 4);
	set(fds[LISTEN4], IPPROTO_TCP, TCP_DEFER_ACCEPT, 3);
	set(fds[LISTEN4], IPPROTO_TCP, TCP_USER_TIMEOUT, 4321);
	set(fds[LISTEN4], IPPROTO_TCP, TCP_FASTOPEN, 5);
	set(fds[LISTEN4], IPPROTO_IP, IP_TOS, 0x10);
	set(fds[LISTEN4], IPPROTO_IP, IP_TTL, 9);
	if (setsockopt(fds[LISTEN4], IPPROTO_TCP, TCP_CONGESTION, "reno", 4) != 0)
		tp_die("TCP_CONGESTION");
	lingered = (struct linger){1, 5};
	if (setsockopt(fds[LISTEN4], SOL_SOCKET, SO_LINGER, &lingered, sizeof lingered) != 0)
		tp_die("SO_LINGER");
	struct sockaddr_in a = in4(40001);
	if (bind(fds[LISTEN4], (void *)&a, sizeof a) || listen(fds[LISTEN4], 7))
		tp_die("listen 4");
	fcntl(fds[LISTEN4], F_SETFL, O_NONBLOCK);
	/* Its SIGIO and SIGURG go to the process itself. */
	if (fcntl(fds[LISTEN4], F_SETOWN, getpid()) != 0)
		tp_die("F_SETOWN");

	fds[LISTEN6] = socket(AF_INET6, SOCK_STREAM, 0);
	set(fds[LISTEN6], IPPROTO_IPV6, IPV6_V6ONLY, 1);
	set(fds[LISTEN6], SOL_SOCKET, SO_REUSEPORT, 1);
	set(fds[LISTEN6], SOL_SOCKET, SO_PRIORITY, 3);
	timeout = (struct timeval){2, 500000};
	if (setsockopt(fds[LISTEN6], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0)
		tp_die("SO_RCVTIMEO");
	if (setsockopt(fds[LISTEN6], SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) != 0)
		tp_die("SO_BINDTODEVICE");
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(40002), .sin6_addr = in6addr_loopback};
	if (bind(fds[LISTEN6], (void *)&a6, sizeof a6) || listen(fds[LISTEN6], 100))
		tp_die("listen 6");

	fds[BOUND] = socket(AF_INET, SOCK_STREAM, 0);
	set(fds[BOUND], IPPROTO_IP, IP_FREEBIND, 1);
	set(fds[BOUND], IPPROTO_TCP, TCP_CORK, 1);
	a = in4(40003);
	if (bind(fds[BOUND], (void *)&a, sizeof a))
		tp_die("bind");
	fds[CREATED] = socket(AF_INET, SOCK_STREAM, 0);
	set(fds[CREATED], SOL_SOCKET, SO_OOBINLINE, 1);

	fds[UDP_RX] = socket(AF_INET, SOCK_DGRAM, 0);
	set(fds[UDP_RX], SOL_SOCKET, SO_BROADCAST, 1);
	set(fds[UDP_RX], SOL_SOCKET, SO_SNDBUF, 30000);
	a = in4(40004);
	if (bind(fds[UDP_RX], (void *)&a, sizeof a))
		tp_die("bind udp");
	fds[UDP_TX] = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in b = in4(40005);
	if (bind(fds[UDP_TX], (void *)&b, sizeof b) || connect(fds[UDP_TX], (void *)&a, sizeof a))
		tp_die("connect udp");
	if (send(fds[UDP_TX], "first", 5, 0) != 5)
		tp_die("send");
	int gone = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in c = in4(40006);
	if (bind(gone, (void *)&c, sizeof c) || sendto(gone, "second!", 7, 0, (void *)&a, sizeof a) != 7)
		tp_die("sendto");
	close(gone);
	if (send(fds[UDP_TX], "third", 5, 0) != 5)
		tp_die("send");
	fds[UDP_ANY] = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(40008)};
	if (bind(fds[UDP_ANY], (void *)&any, sizeof any) || sendto(fds[UDP_ANY], "fourth", 6, 0, (void *)&a, sizeof a) != 6)
		tp_die("sendto from 0.0.0.0");

	fds[UDP6] = socket(AF_INET6, SOCK_DGRAM, 0);
	set(fds[UDP6], SOL_SOCKET, SO_RCVBUF, 123456);
	set(fds[UDP6], IPPROTO_IPV6, IPV6_TCLASS, 0x28);
	a6.sin6_port = htons(40007);
	if (bind(fds[UDP6], (void *)&a6, sizeof a6))
		tp_die("bind udp6");
	int gone6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 from6 = {.sin6_family = AF_INET6, .sin6_port = htons(40009), .sin6_addr = in6addr_loopback};
	if (bind(gone6, (void *)&from6, sizeof from6) || sendto(gone6, "six", 3, 0, (void *)&a6, sizeof a6) != 3)
		tp_die("sendto udp6");
	close(gone6);
	fds[UDP_DUAL] = socket(AF_INET6, SOCK_DGRAM, 0);
	set(fds[UDP_DUAL], IPPROTO_IPV6, IPV6_V6ONLY, 0);
	struct sockaddr_in6 dual = {.sin6_family = AF_INET6, .sin6_port = htons(40010), .sin6_addr = in6addr_any};
	struct sockaddr_in to_dual = in4(40010), from4 = in4(40011);
	int gone4 = socket(AF_INET, SOCK_DGRAM, 0);
	if (bind(fds[UDP_DUAL], (void *)&dual, sizeof dual) || bind(gone4, (void *)&from4, sizeof from4) ||
	    sendto(gone4, "mapped", 6, 0, (void *)&to_dual, sizeof to_dual) != 6)
		tp_die("dual-stack udp6");
	close(gone4);
	wait_queued(fds[UDP_RX], 4);
	wait_queued(fds[UDP6], 1);
	wait_queued(fds[UDP_DUAL], 1);
	for (int i = 0; i < COUNT; i++) {
		socklen_t len = sizeof names[i];
		getsockname(fds[i], (void *)&names[i], &len);
	}
	snapshot(values);
	socklen_t len = sizeof congestion;
	getsockopt(fds[LISTEN4], IPPROTO_TCP, TCP_CONGESTION, congestion, &len);
	len = sizeof device;
	getsockopt(fds[LISTEN6], SOL_SOCKET, SO_BINDTODEVICE, device, &len);
}

static void expect_datagram(const char *what, int port)
{
	char buf[64] = {0};
	struct sockaddr_in from;
	socklen_t len = sizeof from;
	ssize_t n = recvfrom(fds[UDP_RX], buf, sizeof buf - 1, MSG_DONTWAIT, (void *)&from, &len);
	if (n != (ssize_t)strlen(what) || strcmp(buf, what) || ntohs(from.sin_port) != port ||
	    from.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
		FAIL("datagram: got %zd bytes '%s' from port %d, expected '%s' from 127.0.0.1:%d", n, buf,
		     n >= 0 ? ntohs(from.sin_port) : -1, what, port);
}

static void expect_accepts(int i, struct sockaddr *to, socklen_t len)
{
	int c = socket(to->sa_family, SOCK_STREAM, 0);
	if (connect(c, to, len) != 0) {
		FAIL("socket %d: connect: %s", i, strerror(errno));
		return;
	}
	if (i == LISTEN4) { /* TCP_DEFER_ACCEPT: the connection is accepted once data comes */
		if (write(c, "x", 1) != 1)
			FAIL("write: %s", strerror(errno));
	}
	for (int tries = 0; tries < 2000; tries++) {
		int a = accept(fds[i], NULL, NULL);
		if (a >= 0) {
			close(a);
			close(c);
			return;
		}
		usleep(1000);
	}
	FAIL("socket %d accepts nothing: %s", i, strerror(errno));
	close(c);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh)
		setup();
	tp_ready(fresh);
	tp_wait_check();

	static int now[COUNT][NOPTS];
	snapshot(now);
	for (int i = 0; i < COUNT; i++) {
		struct sockaddr_storage name;
		socklen_t len = sizeof name;
		if (getsockname(fds[i], (void *)&name, &len) != 0 || memcmp(&name, &names[i], len) || !names[i].ss_family)
			FAIL("socket %d: another local address after restore", i);
		for (size_t o = 0; o < NOPTS; o++)
			if (now[i][o] != values[i][o])
				FAIL("socket %d: %s is %d, was %d", i, opts[o].label, now[i][o], values[i][o]);
	}
	char cc[16] = {0}, dev[16] = {0};
	socklen_t len = sizeof cc;
	getsockopt(fds[LISTEN4], IPPROTO_TCP, TCP_CONGESTION, cc, &len);
	if (strcmp(cc, congestion) || strcmp(congestion, "reno"))
		FAIL("TCP_CONGESTION is '%s'", cc);
	len = sizeof dev;
	getsockopt(fds[LISTEN6], SOL_SOCKET, SO_BINDTODEVICE, dev, &len);
	if (strcmp(dev, device) || strcmp(device, "lo"))
		FAIL("SO_BINDTODEVICE is '%s'", dev);
	struct linger l = {0};
	len = sizeof l;
	getsockopt(fds[LISTEN4], SOL_SOCKET, SO_LINGER, &l, &len);
	if (l.l_onoff != 1 || l.l_linger != 5)
		FAIL("SO_LINGER is %d/%d", l.l_onoff, l.l_linger);
	struct timeval tv = {0};
	len = sizeof tv;
	getsockopt(fds[LISTEN6], SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
	if (tv.tv_sec != 2 || tv.tv_usec != 500000)
		FAIL("SO_RCVTIMEO is %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
	struct tcp_info info = {0};
	len = sizeof info;
	getsockopt(fds[LISTEN4], IPPROTO_TCP, TCP_INFO, &info, &len);
	if (info.tcpi_state != 10 || info.tcpi_sacked != 7)
		FAIL("listener state %d backlog %u, expected LISTEN with 7", info.tcpi_state, info.tcpi_sacked);
	if (!(fcntl(fds[LISTEN4], F_GETFL) & O_NONBLOCK) || (fcntl(fds[LISTEN6], F_GETFL) & O_NONBLOCK))
		FAIL("O_NONBLOCK differs");
	if (fcntl(fds[LISTEN4], F_GETOWN) != getpid())
		FAIL("the listener's SIGIO owner is %d, not the process (%d)", fcntl(fds[LISTEN4], F_GETOWN), getpid());
	info = (struct tcp_info){0};
	len = sizeof info;
	getsockopt(fds[BOUND], IPPROTO_TCP, TCP_INFO, &info, &len);
	if (info.tcpi_state != 7)
		FAIL("the bound TCP socket is in state %d", info.tcpi_state);
	if (!fresh) {
		expect_datagram("first", 40005);
		expect_datagram("second!", 40006);
		expect_datagram("third", 40005);
		expect_datagram("fourth", 40008);
		char six[8] = {0};
		struct sockaddr_in6 from6;
		len = sizeof from6;
		if (recvfrom(fds[UDP6], six, sizeof six, MSG_DONTWAIT, (void *)&from6, &len) != 3 || strcmp(six, "six") ||
		    ntohs(from6.sin6_port) != 40009 || !IN6_IS_ADDR_LOOPBACK(&from6.sin6_addr))
			FAIL("the UDP6 datagram did not come back from [::1]:40009");
		char extra[8];
		if (recv(fds[UDP_RX], extra, sizeof extra, MSG_DONTWAIT) >= 0)
			FAIL("a fourth datagram was queued");
		char mapped[8] = {0};
		len = sizeof from6;
		if (recvfrom(fds[UDP_DUAL], mapped, sizeof mapped, MSG_DONTWAIT, (void *)&from6, &len) != 6 ||
		    strcmp(mapped, "mapped") || ntohs(from6.sin6_port) != 40011 || !IN6_IS_ADDR_V4MAPPED(&from6.sin6_addr))
			FAIL("the dual-stack datagram did not come back from [::ffff:127.0.0.1]:40011");
		struct sockaddr_in peer;
		len = sizeof peer;
		if (getpeername(fds[UDP_TX], (void *)&peer, &len) || ntohs(peer.sin_port) != 40004)
			FAIL("the connected UDP socket lost its peer");
		if (send(fds[UDP_TX], "again", 5, 0) != 5)
			FAIL("send after restore: %s", strerror(errno));
		expect_datagram("again", 40005);
		struct sockaddr_in a = in4(40001);
		expect_accepts(LISTEN4, (void *)&a, sizeof a);
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(40002), .sin6_addr = in6addr_loopback};
		expect_accepts(LISTEN6, (void *)&a6, sizeof a6);
	}
	return tp_finish("9 inet sockets: addresses, %zu options each, backlog, queued datagrams, listeners accept", NOPTS);
}
