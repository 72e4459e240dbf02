/*
 * IP multicast memberships (issue 14): a UDP socket in group 239.1.2.3 on
 * lo (a plain join: exclude mode, no sources) and in 239.1.2.4 with only
 * the source 127.0.0.1 (include mode), and a UDP6 socket in ff15::1234 on
 * lo blocking the source ::1 (exclude mode with one source). After
 * restore: the same groups, modes and sources (MCAST_MSFILTER), and no
 * other group (239.1.2.5). Runs in a network namespace of its own
 * (tests/e2e/state_inet_multicast.sh).
 */
#include "testprog.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int v4 = -1, v6 = -1;

static struct sockaddr_storage addr(int family, const char *text)
{
	struct sockaddr_storage s = {0};
	if (family == AF_INET) {
		struct sockaddr_in *a = (void *)&s;
		a->sin_family = AF_INET;
		inet_pton(AF_INET, text, &a->sin_addr);
	} else {
		struct sockaddr_in6 *a = (void *)&s;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, text, &a->sin6_addr);
	}
	return s;
}

/* The filter of `group` on fd: mode and number of sources, or -1 when the
 * socket is not in the group. */
static int filter(int fd, int level, int family, const char *group, unsigned *mode, const char *source)
{
	char buf[GROUP_FILTER_SIZE(4)];
	struct group_filter *gf = (void *)buf;
	memset(buf, 0, sizeof buf);
	gf->gf_interface = if_nametoindex("lo");
	gf->gf_group = addr(family, group);
	gf->gf_numsrc = 4;
	socklen_t len = sizeof buf;
	if (getsockopt(fd, level, MCAST_MSFILTER, gf, &len) != 0)
		return -1;
	*mode = gf->gf_fmode;
	if (source && gf->gf_numsrc == 1) {
		struct sockaddr_storage want = addr(family, source);
		if (memcmp(&gf->gf_slist[0], &want, family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)))
			return -2;
	}
	return (int)gf->gf_numsrc;
}

static void join(int fd, int level, int family, const char *group)
{
	struct group_req r = {.gr_interface = if_nametoindex("lo"), .gr_group = addr(family, group)};
	if (setsockopt(fd, level, MCAST_JOIN_GROUP, &r, sizeof r) != 0)
		tp_die("MCAST_JOIN_GROUP");
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	v4 = socket(AF_INET, SOCK_DGRAM, 0);
	v6 = socket(AF_INET6, SOCK_DGRAM, 0);
	if (v4 < 0 || v6 < 0)
		tp_die("socket");
	if (!fresh) {
		join(v4, IPPROTO_IP, AF_INET, "239.1.2.3");
		struct group_source_req r = {.gsr_interface = if_nametoindex("lo"),
					     .gsr_group = addr(AF_INET, "239.1.2.4"),
					     .gsr_source = addr(AF_INET, "127.0.0.1")};
		if (setsockopt(v4, IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, &r, sizeof r) != 0)
			tp_die("MCAST_JOIN_SOURCE_GROUP");
		join(v6, IPPROTO_IPV6, AF_INET6, "ff15::1234");
		struct group_source_req b = {.gsr_interface = if_nametoindex("lo"),
					     .gsr_group = addr(AF_INET6, "ff15::1234"),
					     .gsr_source = addr(AF_INET6, "::1")};
		if (setsockopt(v6, IPPROTO_IPV6, MCAST_BLOCK_SOURCE, &b, sizeof b) != 0)
			tp_die("MCAST_BLOCK_SOURCE");
	}
	tp_ready(fresh);
	tp_wait_check();

	unsigned mode = 99;
	int n = filter(v4, IPPROTO_IP, AF_INET, "239.1.2.3", &mode, NULL);
	if (n != 0 || mode != MCAST_EXCLUDE)
		FAIL("239.1.2.3: %d sources, mode %u; expected a plain join", n, mode);
	n = filter(v4, IPPROTO_IP, AF_INET, "239.1.2.4", &mode, "127.0.0.1");
	if (n != 1 || mode != MCAST_INCLUDE)
		FAIL("239.1.2.4: %d sources, mode %u; expected include 127.0.0.1", n, mode);
	n = filter(v6, IPPROTO_IPV6, AF_INET6, "ff15::1234", &mode, "::1");
	if (n != 1 || mode != MCAST_EXCLUDE)
		FAIL("ff15::1234: %d sources, mode %u; expected exclude ::1", n, mode);
	if (filter(v4, IPPROTO_IP, AF_INET, "239.1.2.5", &mode, NULL) != -1)
		FAIL("239.1.2.5: a member of a group never joined");
	return tp_finish("3 multicast memberships with their source filters");
}
