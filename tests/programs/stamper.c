/*
 * stamper: threads that keep writing into every page of a large buffer,
 * so that a dump taken while they run (ckpt dump --snapshot, or a short
 * freeze) must hold all of memory as it was at one instant, or the
 * restored program notices. Driven by tests/e2e/check_snapshot.sh and
 * check_short_freeze.sh.
 *
 *   stamper MIB THREADS [tear|slow]
 *
 * Each thread owns a slice of the buffer's pages and sweeps it again and
 * again: pass g reads the first word of each page, which must still hold
 * g - 1 (the stamp of the previous pass), writes g there, and advances its
 * position. Memory taken at one instant holds, for each thread, stamps g in
 * pages [0, pos) and g - 1 in [pos, n) together with the very gen and pos
 * that its registers and globals say; any page taken at another moment
 * breaks that, and the thread finds it when it reaches that page after a
 * restore (a stamp from the future or the past), so the check below lets
 * every thread sweep twice more after "check" before it answers.
 *
 * Prints "ready" once every thread has swept its slice once, then waits in
 * read(0). On the line "check": waits for two more passes of each thread,
 * stops them, prints "PASS ..." or "FAIL ..." per thread that found a wrong
 * stamp, and exits 0 or 1. `tear` plants a wrong stamp before the threads
 * start, which the check must report: it shows the check can fail.
 * `slow` sleeps 1 ms every 16 pages, so that a sweep takes longer than an
 * incremental dump's precopy takes to reach its freeze
 * (tests/e2e/check_incremental_busy.sh).
 * SIGUSR1 gives the buffer's last MiB back to the kernel (madvise
 * MADV_DONTNEED), from the signal handler: a snapshot that has not copied
 * it yet must fail rather than save zeros.
 */
#include "testprog.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#define MAX_THREADS 16

struct worker {
	volatile uint64_t gen, pos, passes, errors, bad_page, bad_stamp;
	pthread_t thread;
	size_t first, npages;
	char pad[64];
};

static struct worker workers[MAX_THREADS];
static volatile int stop;
static int slow;
static uint8_t *buf;
static size_t buf_pages;

static void give_back(int sig)
{
	(void)sig;
	madvise(buf + (buf_pages - 256) * PAGE, 256 * PAGE, MADV_DONTNEED);
}

static void *sweep(void *arg)
{
	struct worker *w = arg;
	while (!stop) {
		uint64_t g = w->gen + 1;
		w->gen = g;
		for (size_t i = 0; i < w->npages && !stop; i++) {
			volatile uint64_t *p = (volatile uint64_t *)(buf + (w->first + i) * PAGE);
			uint64_t old = *p;
			if (old != g - 1) {
				if (!w->errors)
					w->bad_page = w->first + i, w->bad_stamp = old;
				w->errors = w->errors + 1;
			}
			*p = g;
			w->pos = i + 1;
			if (slow && (i & 15) == 15)
				usleep(1000);
		}
		if (!stop)
			w->passes = w->passes + 1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	tp_start(argc, argv);
	if (argc < 3) {
		fprintf(stderr, "usage: stamper MIB THREADS [tear|slow]\n");
		return 2;
	}
	size_t mib = strtoul(argv[1], NULL, 10), n = strtoul(argv[2], NULL, 10);
	int tear = argc > 3 && strcmp(argv[3], "tear") == 0;
	slow = argc > 3 && strcmp(argv[3], "slow") == 0;
	if (n < 1 || n > MAX_THREADS || mib < 1)
		return 2;
	size_t pages = mib << 8;
	buf = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	buf_pages = pages;
	struct sigaction sa = {.sa_handler = give_back, .sa_flags = SA_RESTART};
	sigaction(SIGUSR1, &sa, NULL);
	for (size_t t = 0; t < n; t++) {
		workers[t].first = pages / n * t;
		workers[t].npages = t + 1 == n ? pages - workers[t].first : pages / n;
	}
	if (tear)
		*(uint64_t *)(buf + (workers[0].first + workers[0].npages / 2) * PAGE) = 7;
	for (size_t t = 0; t < n; t++)
		if (pthread_create(&workers[t].thread, NULL, sweep, &workers[t]))
			return 1;
	for (size_t t = 0; t < n; t++)
		while (workers[t].passes < 1)
			usleep(1000);
	tp_ready(0);
	tp_wait_check();
	uint64_t at[MAX_THREADS];
	for (size_t t = 0; t < n; t++)
		at[t] = workers[t].passes;
	for (size_t t = 0; t < n; t++)
		while (workers[t].passes < at[t] + 2)
			usleep(1000);
	stop = 1;
	for (size_t t = 0; t < n; t++)
		pthread_join(workers[t].thread, NULL);
	for (size_t t = 0; t < n; t++)
		if (workers[t].errors)
			FAIL("thread %zu found %llu wrong stamps, the first %llu in page %llu (pass %llu)", t,
			     (unsigned long long)workers[t].errors, (unsigned long long)workers[t].bad_stamp,
			     (unsigned long long)workers[t].bad_page, (unsigned long long)workers[t].gen);
	return tp_finish("%zu threads swept %zu MiB, every stamp as expected", n, mib);
}
