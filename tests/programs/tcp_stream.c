/*
 * tcp_stream: both ends of a TCP connection that carries two checked byte
 * streams, for tests/e2e/check_tcp_*.sh (established connections carried
 * with `ckpt dump --tcp-established`).
 *
 *   tcp_stream peer ADDR PORT   listens on ADDR:PORT, accepts one connection
 *                               and sends 50000 bytes; prints "sent"
 *   tcp_stream app ADDR PORT    connects, reads 10000 of them (40000 stay
 *                               unread in its receive queue), then writes
 *                               without blocking until its send queue is
 *                               full (the peer reads nothing yet); "ready"
 *   tcp_stream pair ADDR PORT   both ends in one process (a loopback
 *                               connection inside the dumped process)
 *   TCP_STREAM_SHUT=wr     the app shuts its direction down after filling
 *                          its send queue (FIN-WAIT-1, the FIN not sent),
 *                          so its stream ends there
 *   TCP_STREAM_SHUT=wr-idle  the app sends nothing and shuts its direction
 *                          down (FIN-WAIT-2 once the peer acknowledged)
 *   TCP_STREAM_SHUT=rd     the app shuts down for reading with 40000 bytes
 *                          unread: after "go" it must read them, then EOF
 *   (the peer, given TCP_STREAM_SHUT too, takes the app's stream wherever
 *   it ends)
 *
 * Each then waits for a line on stdin ("go": after the app was dumped and
 * restored), and both streams run to their ends: the app's 4 MiB to the
 * peer, the peer's 250000 bytes to the app, every byte checked against the
 * stream it belongs to at its offset, each side then shutting down its
 * direction and expecting a clean end of file. A reset, a short stream or
 * a wrong byte prints FAIL. "PASS ..." at the end.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testprog.h"

#define APP_BYTES (4u << 20)
#define PEER_BYTES 250000u
#define PEER_FIRST 50000u
#define APP_READS_FIRST 10000u

static unsigned char stream_byte(unsigned seed, size_t i) { return (unsigned char)((i * 31 + seed + (i >> 9)) % 251); }

struct end {
	int fd;
	unsigned tx_seed, rx_seed;
	size_t tx_total, sent, rx_total, received;
	int tx_shut, rx_eof;
	const char *name;
};

static void die(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One step of sending, up to byte `upto`; returns 0 when the socket would block. */
static int send_some(struct end *e, size_t upto)
{
	unsigned char buf[65536];
	size_t n = upto - e->sent;
	if (n > sizeof buf)
		n = sizeof buf;
	for (size_t i = 0; i < n; i++)
		buf[i] = stream_byte(e->tx_seed, e->sent + i);
	ssize_t w = send(e->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (w < 0)
		die(e->name);
	e->sent += (size_t)w;
	return 1;
}

/* Reads what is there (at most `limit` more bytes), checking each byte. */
static void receive_some(struct end *e, size_t limit)
{
	unsigned char buf[65536];
	size_t n = sizeof buf < limit ? sizeof buf : limit;
	ssize_t r = recv(e->fd, buf, n, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r < 0)
		die(e->name);
	if (r == 0) {
		if (e->rx_total != (size_t)-1 && e->received != e->rx_total)
			FAIL("%s: end of file after %zu of %zu bytes", e->name, e->received, e->rx_total);
		e->rx_eof = 1;
		return;
	}
	for (ssize_t i = 0; i < r; i++)
		if (buf[i] != stream_byte(e->rx_seed, e->received + (size_t)i)) {
			FAIL("%s: byte %zu differs", e->name, e->received + (size_t)i);
			exit(1);
		}
	e->received += (size_t)r;
	if (e->received > e->rx_total) {
		FAIL("%s: more than %zu bytes", e->name, e->rx_total);
		exit(1);
	}
}

/* Runs every end's streams to their ends, with poll. */
static void pump(struct end *ends, int n)
{
	for (;;) {
		struct pollfd p[2];
		int open = 0;
		for (int i = 0; i < n; i++) {
			struct end *e = &ends[i];
			if (e->sent == e->tx_total && !e->tx_shut) {
				shutdown(e->fd, SHUT_WR);
				e->tx_shut = 1;
			}
			p[i].fd = e->fd;
			p[i].events = (e->rx_eof ? 0 : POLLIN) | (e->tx_shut ? 0 : POLLOUT);
			open += !e->rx_eof || !e->tx_shut;
		}
		if (!open)
			return;
		if (poll(p, (nfds_t)n, 60000) <= 0) {
			FAIL("no progress for 60 s");
			exit(1);
		}
		for (int i = 0; i < n; i++) {
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
				receive_some(&ends[i], ~(size_t)0);
			if ((p[i].revents & POLLOUT) && !ends[i].tx_shut)
				send_some(&ends[i], ends[i].tx_total);
		}
	}
}

static struct sockaddr_storage address(const char *addr, int port, socklen_t *len)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((unsigned short)port);
		inet_pton(AF_INET6, addr, &a->sin6_addr);
		*len = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((unsigned short)port);
		inet_pton(AF_INET, addr, &a->sin_addr);
		*len = sizeof *a;
	}
	return ss;
}

static int listen_on(const char *addr, int port)
{
	socklen_t len;
	struct sockaddr_storage ss = address(addr, port, &len);
	int l = socket(ss.ss_family, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (l < 0 || bind(l, (struct sockaddr *)&ss, len) != 0 || listen(l, 1) != 0)
		die("listen");
	return l;
}

static int connect_to(const char *addr, int port)
{
	socklen_t len;
	struct sockaddr_storage ss = address(addr, port, &len);
	int s = socket(ss.ss_family, SOCK_STREAM, 0), one = 1;
	/* Options the restore must carry over. */
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	if (s < 0 || connect(s, (struct sockaddr *)&ss, len) != 0)
		die("connect");
	return s;
}

static void write_all(struct end *e, size_t upto)
{
	while (e->sent < upto) {
		if (!send_some(e, upto)) {
			struct pollfd p = {e->fd, POLLOUT, 0};
			poll(&p, 1, 1000);
		}
	}
}

static void read_exactly(struct end *e, size_t upto)
{
	while (e->received < upto) {
		struct pollfd p = {e->fd, POLLIN, 0};
		poll(&p, 1, 1000);
		receive_some(e, upto - e->received);
	}
}

/* The app's first steps: some of the peer's bytes read, then its send queue filled. */
static void app_first(struct end *a)
{
	read_exactly(a, APP_READS_FIRST);
	while (a->sent < a->tx_total && send_some(a, a->tx_total))
		;
}

/* Waits for "go", then says "resumed": a harness that restored this
 * process knows from that line that it runs again (its connections out of
 * repair mode) before it lets the other side go on. */
static void wait_go(void)
{
	char line[64];
	if (!fgets(line, sizeof line, stdin)) {
		FAIL("no go line on stdin");
		exit(1);
	}
	printf("resumed\n");
}

int main(int argc, char **argv)
{
	tp_start(argc, argv);
	if (argc != 4) {
		fprintf(stderr, "usage: tcp_stream peer|app|pair ADDR PORT\n");
		return 2;
	}
	const char *mode = argv[1], *addr = argv[2];
	int port = atoi(argv[3]);
	struct end app = {-1, 1, 2, APP_BYTES, 0, PEER_BYTES, 0, 0, 0, "app"};
	struct end peer = {-1, 2, 1, PEER_BYTES, 0, APP_BYTES, 0, 0, 0, "peer"};
	if (strcmp(mode, "peer") == 0) {
		int l = listen_on(addr, port);
		printf("listening\n");
		peer.fd = accept(l, NULL, NULL);
		if (peer.fd < 0)
			die("accept");
		close(l);
		write_all(&peer, PEER_FIRST);
		printf("sent\n");
		wait_go();
		if (getenv("TCP_STREAM_SHUT")) /* the app ends its stream early: wherever it ends */
			peer.rx_total = (size_t)-1;
		pump(&peer, 1);
		return tp_finish("peer: %zu bytes received and %zu sent, in order, no reset", peer.received, peer.sent);
	}
	if (strcmp(mode, "app") == 0) {
		app.fd = connect_to(addr, port);
		const char *shut = getenv("TCP_STREAM_SHUT");
		if (shut && strcmp(shut, "wr-idle") == 0) {
			/* FIN-WAIT-2: our FIN sent and acknowledged, nothing queued */
			read_exactly(&app, APP_READS_FIRST);
			app.tx_total = 0;
			shutdown(app.fd, SHUT_WR);
			app.tx_shut = 1;
		} else {
			app_first(&app);
		}
		if (shut && strcmp(shut, "wr") == 0) {
			/* FIN-WAIT-1: our FIN queued behind data the peer had no room for */
			app.tx_total = app.sent;
			shutdown(app.fd, SHUT_WR);
			app.tx_shut = 1;
		}
		if (shut && strcmp(shut, "rd") == 0) {
			/* shut down for reading with 40000 bytes unread: those, then end of file */
			shutdown(app.fd, SHUT_RD);
			printf("ready %zu bytes queued\n", app.sent);
			wait_go();
			read_exactly(&app, PEER_FIRST);
			struct pollfd p = {app.fd, POLLIN, 0};
			char c;
			if (poll(&p, 1, 10000) != 1 || recv(app.fd, &c, 1, MSG_DONTWAIT) != 0)
				FAIL("app: no end of file after the unread data of a socket shut down for reading");
			return tp_finish("app: shut down for reading: %zu bytes, then end of file", app.received);
		}
		printf("ready %zu bytes queued\n", app.sent);
		wait_go();
		pump(&app, 1);
		return tp_finish("app: %zu bytes received and %zu sent, in order, no reset", app.received, app.sent);
	}
	if (strcmp(mode, "pair") == 0) {
		int l = listen_on(addr, port);
		app.fd = connect_to(addr, port);
		peer.fd = accept(l, NULL, NULL);
		if (peer.fd < 0)
			die("accept");
		close(l);
		write_all(&peer, PEER_FIRST);
		app_first(&app);
		printf("ready %zu bytes queued\n", app.sent);
		wait_go();
		struct end both[2] = {app, peer};
		pump(both, 2);
		return tp_finish("pair: %zu and %zu bytes received, in order, no reset", both[0].received, both[1].received);
	}
	fprintf(stderr, "unknown mode %s\n", mode);
	return 2;
}
