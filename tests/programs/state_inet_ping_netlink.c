/*
 * ICMP "ping" sockets and netlink sockets (issue 14): an IPv4 ping socket
 * that has sent an echo (so the kernel bound it to an echo id), an IPv6
 * ping socket bound to ::1 with an id of its choosing, a NETLINK_ROUTE
 * socket bound to a port id of its own in groups 1 and 33 (above the 32
 * that bind can name) with NETLINK_NO_ENOBUFS, and a NETLINK_KOBJECT_UEVENT
 * socket in group 1. After restore: the same ids, port ids and groups, and
 * each socket works (an echo comes back to its id; the route socket
 * answers a request). Runs in a network namespace of its own whose
 * net.ipv4.ping_group_range allows ping sockets
 * (tests/e2e/state_inet_ping_netlink.sh).
 */
#include "testprog.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>
#include <unistd.h>

enum { PING4, PING6, ROUTE, UEVENT, COUNT };
static int fds[COUNT] = {-1, -1, -1, -1};
static struct sockaddr_storage names[COUNT];
static unsigned route_groups[4];

static void name_of(int i, struct sockaddr_storage *into)
{
	socklen_t len = sizeof *into;
	memset(into, 0, sizeof *into);
	getsockname(fds[i], (void *)into, &len);
}

static void list_groups(unsigned *into)
{
	socklen_t len = 4 * sizeof(unsigned);
	memset(into, 0, len);
	getsockopt(fds[ROUTE], SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, into, &len);
}

/* Sends an echo request on a ping socket and waits for its reply. */
static int echo(int i)
{
	unsigned char req[16] = {0}, rep[64];
	if (i == PING4) {
		struct sockaddr_in to = {.sin_family = AF_INET};
		to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		req[0] = ICMP_ECHO;
		memcpy(req + 8, "checking", 8);
		if (sendto(fds[i], req, sizeof req, 0, (void *)&to, sizeof to) != sizeof req)
			return -1;
	} else {
		struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
		req[0] = ICMP6_ECHO_REQUEST;
		memcpy(req + 8, "checking", 8);
		if (sendto(fds[i], req, sizeof req, 0, (void *)&to, sizeof to) != sizeof req)
			return -1;
	}
	for (int tries = 0; tries < 2000; tries++) {
		ssize_t n = recv(fds[i], rep, sizeof rep, MSG_DONTWAIT);
		if (n >= 16 && memcmp(rep + 8, "checking", 8) == 0)
			return 0;
		usleep(1000);
	}
	return -1;
}

static void setup(void)
{
	fds[PING4] = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	if (fds[PING4] < 0 || echo(PING4) != 0)
		tp_die("ping4 (net.ipv4.ping_group_range?)");
	fds[PING6] = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(4242), .sin6_addr = in6addr_loopback};
	if (fds[PING6] < 0 || bind(fds[PING6], (void *)&a6, sizeof a6) != 0)
		tp_die("ping6");
	fds[ROUTE] = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK, .nl_pid = 777777, .nl_groups = RTMGRP_LINK};
	int group = 33, one = 1;
	if (fds[ROUTE] < 0 || bind(fds[ROUTE], (void *)&nl, sizeof nl) != 0 ||
	    setsockopt(fds[ROUTE], SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0 ||
	    setsockopt(fds[ROUTE], SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one) != 0)
		tp_die("netlink route");
	fds[UEVENT] = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT);
	struct sockaddr_nl ue = {.nl_family = AF_NETLINK, .nl_groups = 1};
	if (fds[UEVENT] < 0 || bind(fds[UEVENT], (void *)&ue, sizeof ue) != 0)
		tp_die("netlink uevent");
	for (int i = 0; i < COUNT; i++)
		name_of(i, &names[i]);
	list_groups(route_groups);
}

/* An RTM_GETLINK dump request answered on the route socket. */
static int route_answers(void)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {.h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1},
		 .i = {.ifi_family = AF_UNSPEC}};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	if (sendto(fds[ROUTE], &req, sizeof req, 0, (void *)&kernel, sizeof kernel) != sizeof req)
		return -1;
	char buf[8192];
	for (;;) {
		ssize_t n = recv(fds[ROUTE], buf, sizeof buf, 0);
		if (n <= 0)
			return -1;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n))
			if (h->nlmsg_type == NLMSG_DONE && h->nlmsg_seq == 1)
				return 0;
	}
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh)
		setup();
	tp_ready(fresh);
	tp_wait_check();

	const char *label[COUNT] = {"ping", "ping6", "netlink route", "netlink uevent"};
	for (int i = 0; i < COUNT; i++) {
		struct sockaddr_storage now;
		name_of(i, &now);
		if (fds[i] < 0 || memcmp(&now, &names[i], sizeof now))
			FAIL("%s: another address after restore", label[i]);
	}
	struct sockaddr_nl *nl = (void *)&names[ROUTE];
	if (nl->nl_pid != 777777)
		FAIL("the route socket's port id is %u", nl->nl_pid);
	unsigned groups[4];
	list_groups(groups);
	if (memcmp(groups, route_groups, sizeof groups) || groups[0] != (1u | (1u << 0)) || groups[1] != 1u)
		FAIL("route groups are %x %x, expected 1 and 33 (%x %x)", groups[0], groups[1], route_groups[0], route_groups[1]);
	int v = 0;
	socklen_t len = sizeof v;
	getsockopt(fds[ROUTE], SOL_NETLINK, NETLINK_NO_ENOBUFS, &v, &len);
	if (v != 1)
		FAIL("NETLINK_NO_ENOBUFS is %d", v);
	struct sockaddr_in *p4 = (void *)&names[PING4];
	if (!p4->sin_port)
		FAIL("the ping socket has no echo id");
	if (echo(PING4) != 0)
		FAIL("no echo reply on the ping socket");
	if (echo(PING6) != 0)
		FAIL("no echo reply on the ping6 socket");
	if (route_answers() != 0)
		FAIL("the route socket does not answer RTM_GETLINK");
	return tp_finish("ping ids, netlink port ids and groups, each socket answers");
}
