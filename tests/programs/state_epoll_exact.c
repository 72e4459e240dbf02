/*
 * state_epoll_exact: an epoll set whose entries no longer match the fd
 * table must come back exactly. The kernel keys an entry by (file, fd
 * number it was added with), and that number may since have been closed or
 * reused.
 *
 * Setup, one epoll instance `ep` (all watched files are eventfds, count 0):
 *   entry A  eventfd added as fd x (30), data 0xA; then y = dup(x) and x closed:
 *            the entry's number holds nothing, its file only y
 *   entry B  eventfd added as fd n (31), data 0xB; then m = dup(n), n closed
 *   entry C  a new eventfd that takes number n again, added as n, data 0xC:
 *            two entries keyed n, two different files
 *   entry D  a second epoll `inner` (watching an eventfd `ready` of count 1,
 *            so inner is readable), added as its own fd, data 0xD
 * The "tfd:" lines of ep's fdinfo (number, events, data) are recorded, sorted.
 *
 * Check: the same "tfd:" lines; kcmp(KCMP_EPOLL_TFD) says entry x watches
 * y's file and the two entries keyed n watch m's and the new n's files;
 * epoll_wait gives only D; after writing to y, m and n, it gives A, B, C
 * and D; EPOLL_CTL_DEL of fd n removes C only (then n's writes go
 * unreported); EPOLL_CTL_ADD of y as x fails with EBADF (x is closed).
 *
 * Protocol: see tests/e2e/state.sh. --fresh sets nothing up.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static int ep = -1, x = -1, y = -1, n = -1, m = -1, inner = -1, ready = -1;
static char lines[4096];

static void add(int epfd, int fd, uint64_t data)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = data};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		tp_die("epoll_ctl");
}

static int by_text(const void *l, const void *r) { return strcmp(l, r); }

/* ep's "tfd:" lines without pos/ino/sdev, sorted (fdinfo lists them in the
 * order of the kernel's tree, which follows file addresses). */
static void tfd_lines(char *out, size_t size)
{
	static char sorted[16][256];
	int k = 0;
	char p[64], buf[256];
	snprintf(p, sizeof p, "/proc/self/fdinfo/%d", ep);
	out[0] = '\0';
	FILE *f = ep >= 0 ? fopen(p, "re") : NULL;
	if (!f)
		return;
	while (fgets(buf, sizeof buf, f)) {
		char *cut = strstr(buf, " pos:");
		if (strncmp(buf, "tfd:", 4) || !cut)
			continue;
		strcpy(cut, "\n");
		if (k < 16)
			snprintf(sorted[k++], sizeof sorted[0], "%s", buf);
	}
	fclose(f);
	qsort(sorted, (size_t)k, sizeof sorted[0], by_text);
	for (int i = 0; i < k; i++)
		if (strlen(out) + strlen(sorted[i]) < size)
			strcat(out, sorted[i]);
}

static int watches(int fd, int key, int toff)
{
	struct kcmp_epoll_slot slot = {.efd = (uint32_t)ep, .tfd = (uint32_t)key, .toff = (uint32_t)toff};
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_EPOLL_TFD, fd, &slot) == 0;
}

/* The data values epoll_wait reports now, as a bit set (A=1, B=2, C=4, D=8). */
static unsigned ready_set(void)
{
	struct epoll_event evs[8];
	int k = epoll_wait(ep, evs, 8, 0);
	unsigned set = 0;
	for (int i = 0; i < k; i++)
		set |= evs[i].data.u64 >= 0xA && evs[i].data.u64 <= 0xD ? 1u << (evs[i].data.u64 - 0xA) : 0x100;
	return k < 0 ? 0x200 : set;
}

/* A new eventfd at number `at`. */
static int eventfd_at(int at)
{
	int fd = eventfd(0, EFD_NONBLOCK);
	if (fd < 0 || dup2(fd, at) != at)
		tp_die("eventfd");
	close(fd);
	return at;
}

static void setup(void)
{
	ep = epoll_create1(EPOLL_CLOEXEC);
	x = eventfd_at(30);
	add(ep, x, 0xA);
	y = dup(x);
	close(x);
	n = eventfd_at(31);
	add(ep, n, 0xB);
	m = dup(n);
	close(n);
	eventfd_at(n); /* the number again, another file */
	add(ep, n, 0xC);
	inner = epoll_create1(0);
	ready = eventfd(1, EFD_NONBLOCK);
	add(inner, ready, 0xE);
	add(ep, inner, 0xD);
	tfd_lines(lines, sizeof lines);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh)
		setup();
	tp_ready(fresh);
	tp_wait_check();

	char now[4096];
	tfd_lines(now, sizeof now);
	if (!lines[0] || strcmp(now, lines) != 0)
		FAIL("ep's entries differ; were:\n%snow:\n%s", lines, now);
	if (!watches(y, x, 0))
		FAIL("the entry keyed %d (closed) does not watch fd %d's file", x, y);
	if (!((watches(m, n, 0) && watches(n, n, 1)) || (watches(m, n, 1) && watches(n, n, 0))))
		FAIL("the two entries keyed %d do not watch fd %d's and fd %d's files", n, m, n);
	unsigned set = ready_set();
	if (set != 8)
		FAIL("before any write epoll_wait gives set %#x, want 0x8 (D)", set);
	uint64_t one = 1;
	if (write(y, &one, 8) != 8 || write(m, &one, 8) != 8 || write(n, &one, 8) != 8)
		FAIL("cannot write to the eventfds");
	set = ready_set();
	if (set != 0xf)
		FAIL("after writing to all, epoll_wait gives set %#x, want 0xf (A B C D)", set);
	if (n < 0 || epoll_ctl(ep, EPOLL_CTL_DEL, n, NULL) != 0)
		FAIL("EPOLL_CTL_DEL of fd %d: %s", n, strerror(errno));
	set = ready_set();
	if (set != 0xb)
		FAIL("after deleting fd %d's entry, epoll_wait gives set %#x, want 0xb (A B D)", n, set);
	struct epoll_event ev = {.events = EPOLLIN};
	errno = 0;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, x, &ev) != -1 || errno != EBADF)
		FAIL("fd %d is open again (EPOLL_CTL_ADD gave %s, want EBADF)", x, strerror(errno));
	return tp_finish("epoll entries on a closed number, a reused number and a nested epoll watch the same files");
}
