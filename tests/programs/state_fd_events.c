/*
 * state_fd_events: eventfd, signalfd, timerfd and epoll descriptors must
 * come back with their settings and state.
 *
 * Setup:
 *   efd_sem    eventfd(5, EFD_SEMAPHORE)
 *   efd_nb     eventfd(0, EFD_NONBLOCK)
 *   sfd        signalfd on {SIGUSR1, SIGUSR2}, SFD_NONBLOCK|SFD_CLOEXEC;
 *              SIGUSR1 and SIGUSR2 blocked, SIGUSR1 pending (raise)
 *   tfd_armed  timerfd CLOCK_MONOTONIC, TFD_NONBLOCK, 30 s then every 7 s
 *   tfd_off    timerfd CLOCK_BOOTTIME, never armed
 *   pipe       "x" written into it, so its read end is readable
 *   ep         epoll (EPOLL_CLOEXEC) watching, in this order:
 *                efd_sem   EPOLLIN          data 0x1111000000000001
 *                efd_nb    EPOLLIN          data 0x2222000000000002
 *                sfd       EPOLLIN          data 0x3333000000000003
 *                pipe read EPOLLIN|EPOLLET  data 0x4444000000000004
 *                tfd_armed EPOLLIN          data 0x5555000000000005
 *              (nobody calls epoll_wait before the dump, so the
 *              edge-triggered pipe event is still due)
 * F_GETFD/F_GETFL of every fd and the fdinfo lines that describe each
 * object (eventfd-count, sigmask, clockid, and epoll's "tfd:" lines
 * without their pos/ino/sdev fields, which name the file, not the watch)
 * are recorded.
 *
 * Check: all of the above equal after restore; epoll_wait (zero timeout)
 * returns exactly the data values 1, 3 and 4 (efd_nb is 0, the timer has
 * not fired); reading efd_sem gives 1 (semaphore) and leaves 4; efd_nb
 * gives EAGAIN; sfd gives SIGUSR1 and then EAGAIN; timerfd_gettime on
 * tfd_armed gives the interval exactly, 7 s, and a value in (20 s, 30 s];
 * tfd_off stays disarmed (0/0).
 *
 * Protocol: see tests/e2e/state.sh. --fresh creates nothing (and blocks
 * nothing), so every check must fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

enum { EFD_SEM, EFD_NB, SFD, TFD_ARMED, TFD_OFF, PIPE_R, PIPE_W, EP, NFDS };
static const char *names[NFDS] = {"efd_sem", "efd_nb", "sfd", "tfd_armed", "tfd_off", "pipe read", "pipe write", "epoll"};
static int fds[NFDS] = {-1, -1, -1, -1, -1, -1, -1, -1};
static int fd_flags[NFDS], fl[NFDS];
static char info[NFDS][2048];

#define D(n) (0x1111000000000000ULL * (n) + (n))

static int by_text(const void *a, const void *b) { return strcmp(a, b); }

/* The fdinfo lines of FD that describe its object, sorted (epoll lists its
 * watches in the order of its red-black tree, which follows the addresses
 * of the watched files, not the order they were added in; the set is what
 * must match). Left out: pos, flags (compared through F_GETFL), mnt_id,
 * ino and eventfd-id (they name the new file, not its state), a timer's
 * it_value and ticks (time moves on; checked with timerfd_gettime), and
 * from epoll's "tfd:" lines everything from " pos:" on. */
static void fdinfo(int fd, char *out, size_t size)
{
	static const char *skip[] = {"pos:", "flags:", "mnt_id:", "ino:", "eventfd-id:", "it_value:", "ticks:"};
	static char lines[64][256];
	char path[64], buf[256];
	int n = 0;
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	out[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (n < 64 && fgets(buf, sizeof buf, f)) {
		int keep = 1;
		for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
			if (!strncmp(buf, skip[i], strlen(skip[i])))
				keep = 0;
		char *cut = strstr(buf, " pos:");
		if (!strncmp(buf, "tfd:", 4) && cut)
			strcpy(cut, "\n");
		if (keep)
			strcpy(lines[n++], buf);
	}
	fclose(f);
	qsort(lines, (size_t)n, sizeof lines[0], by_text);
	size_t used = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(lines[i]);
		if (used + l < size) {
			memcpy(out + used, lines[i], l + 1);
			used += l;
		}
	}
}

static void record(void)
{
	for (int i = 0; i < NFDS; i++) {
		fd_flags[i] = fcntl(fds[i], F_GETFD);
		fl[i] = fcntl(fds[i], F_GETFL);
		fdinfo(fds[i], info[i], sizeof info[i]);
	}
}

static int setup(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
		return -1;
	fds[EFD_SEM] = eventfd(5, EFD_SEMAPHORE);
	fds[EFD_NB] = eventfd(0, EFD_NONBLOCK);
	fds[SFD] = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	fds[TFD_ARMED] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	fds[TFD_OFF] = timerfd_create(CLOCK_BOOTTIME, 0);
	int p[2];
	if (pipe(p) != 0)
		return -1;
	fds[PIPE_R] = p[0];
	fds[PIPE_W] = p[1];
	fds[EP] = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < NFDS; i++)
		if (fds[i] < 0)
			return -1;
	struct itimerspec its = {.it_interval = {7, 0}, .it_value = {30, 0}};
	if (timerfd_settime(fds[TFD_ARMED], 0, &its, NULL) != 0 || write(fds[PIPE_W], "x", 1) != 1 ||
	    raise(SIGUSR1) != 0)
		return -1;
	static const struct {
		int slot;
		uint32_t events;
		uint64_t data;
	} watch[] = {
		{EFD_SEM, EPOLLIN, D(1)}, {EFD_NB, EPOLLIN, D(2)}, {SFD, EPOLLIN, D(3)},
		{PIPE_R, EPOLLIN | EPOLLET, D(4)}, {TFD_ARMED, EPOLLIN, D(5)},
	};
	for (size_t i = 0; i < sizeof watch / sizeof *watch; i++) {
		struct epoll_event ev = {.events = watch[i].events, .data.u64 = watch[i].data};
		if (epoll_ctl(fds[EP], EPOLL_CTL_ADD, fds[watch[i].slot], &ev) != 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!fresh && setup() != 0) {
		perror("setup");
		return 2;
	}
	record();
	printf("ready%s\n", fresh ? " (fresh)" : "");

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	for (int i = 0; i < NFDS; i++) {
		if (fds[i] < 0 || fcntl(fds[i], F_GETFD) < 0) {
			FAIL("%s fd %d is not open", names[i], fds[i]);
			continue;
		}
		if (fcntl(fds[i], F_GETFD) != fd_flags[i])
			FAIL("%s fd %d: F_GETFD %#x, was %#x", names[i], fds[i], fcntl(fds[i], F_GETFD), fd_flags[i]);
		if (fcntl(fds[i], F_GETFL) != fl[i])
			FAIL("%s fd %d: F_GETFL %#o, was %#o", names[i], fds[i], fcntl(fds[i], F_GETFL), fl[i]);
		static char now[2048];
		fdinfo(fds[i], now, sizeof now);
		if (strcmp(now, info[i]) != 0)
			FAIL("%s fd %d: fdinfo differs; was:\n%snow:\n%s", names[i], fds[i], info[i], now);
	}
	if (failures)
		return 1;

	/* The ready set, by data value. */
	struct epoll_event evs[8];
	int n = epoll_wait(fds[EP], evs, 8, 0);
	unsigned seen = 0;
	for (int i = 0; i < n; i++) {
		int k = 1;
		while (k <= 5 && evs[i].data.u64 != D(k))
			k++;
		if (k > 5)
			FAIL("epoll_wait returned unknown data %#llx", (unsigned long long)evs[i].data.u64);
		else
			seen |= 1u << k;
		if (!(evs[i].events & EPOLLIN))
			FAIL("epoll event for data %d has events %#x, no EPOLLIN", k, evs[i].events);
	}
	if (n < 0 || seen != ((1u << 1) | (1u << 3) | (1u << 4)))
		FAIL("epoll_wait gave %d events, data set %#x; want data 1, 3 and 4 (mask 0x1a)", n, seen);

	uint64_t v = 0;
	if (read(fds[EFD_SEM], &v, 8) != 8 || v != 1)
		FAIL("efd_sem read gave %llu, want 1 (EFD_SEMAPHORE)", (unsigned long long)v);
	char after[2048];
	fdinfo(fds[EFD_SEM], after, sizeof after);
	char *c = strstr(after, "eventfd-count:");  /* printed in hex */
	if (!c || strtoull(c + 14, NULL, 16) != 4)
		FAIL("efd_sem count after one read: '%s', want 4", c ? c : "(none)");
	errno = 0;
	if (read(fds[EFD_NB], &v, 8) != -1 || errno != EAGAIN)
		FAIL("efd_nb read did not give EAGAIN (count not 0, or not nonblocking)");

	struct signalfd_siginfo si;
	if (read(fds[SFD], &si, sizeof si) != sizeof si || si.ssi_signo != SIGUSR1)
		FAIL("signalfd did not give the pending SIGUSR1");
	errno = 0;
	if (read(fds[SFD], &si, sizeof si) != -1 || errno != EAGAIN)
		FAIL("signalfd gave a second signal (or blocks)");

	struct itimerspec its;
	if (timerfd_gettime(fds[TFD_ARMED], &its) != 0)
		FAIL("timerfd_gettime(tfd_armed): %s", strerror(errno));
	else {
		long long ns = its.it_value.tv_sec * 1000000000LL + its.it_value.tv_nsec;
		if (its.it_interval.tv_sec != 7 || its.it_interval.tv_nsec != 0)
			FAIL("tfd_armed interval %ld.%09ld s, want 7 s", (long)its.it_interval.tv_sec,
			     its.it_interval.tv_nsec);
		if (ns <= 20000000000LL || ns > 30000000000LL)
			FAIL("tfd_armed remaining %ld.%09ld s, want in (20, 30] s", (long)its.it_value.tv_sec,
			     its.it_value.tv_nsec);
	}
	if (timerfd_gettime(fds[TFD_OFF], &its) != 0 || its.it_value.tv_sec || its.it_value.tv_nsec ||
	    its.it_interval.tv_sec || its.it_interval.tv_nsec)
		FAIL("tfd_off is armed (or timerfd_gettime failed), want it disarmed");

	if (failures)
		return 1;
	printf("PASS eventfd x2, signalfd, timerfd x2, epoll of 5: settings as before, "
	       "ready set {1,3,4}, SIGUSR1 through signalfd, timer 7 s interval\n");
	return 0;
}
