/*
 * libckpt_caller THREADS IMAGE [EXPECTED_ERROR]: checkpoints itself with
 * ckpt_checkpoint (libckpt, linked statically) while THREADS other threads
 * count, and checks what each return says (tests/e2e/check_libckpt.sh):
 * the original (generation 0, no copy id, hooks not run), a restored copy
 * (generation 1, a copy id of its own, the hook run and the pid it caches
 * refreshed, the other threads counting again), or the expected error code
 * with a message, the caller not stopped or traced and its threads going
 * on. In every case only fds 0-2 are open afterwards: the library's pipe
 * is closed in the original and absent from the copy.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "testprog.h"

#define MAX_THREADS 16
static volatile unsigned long counters[MAX_THREADS];
static int nthreads;
static pid_t cached_pid;
static int hook_runs;

static void *count(void *arg)
{
	volatile unsigned long *c = arg;
	struct timespec ms = {0, 1000000};
	for (;;) {
		++*c;
		nanosleep(&ms, NULL);
	}
	return NULL;
}

static void refresh_pid(void *arg)
{
	*(pid_t *)arg = getpid();
	++hook_runs;
}

/* Every other thread counts on (waits up to 30 s: the machine may be busy). */
static void check_threads_run(const char *who)
{
	unsigned long before[MAX_THREADS];
	for (int i = 0; i < nthreads; ++i)
		before[i] = counters[i];
	struct timespec ms = {0, 1000000};
	for (int tries = 0; tries < 30000; ++tries) {
		int all = 1;
		for (int i = 0; i < nthreads; ++i)
			all &= counters[i] > before[i];
		if (all)
			return;
		nanosleep(&ms, NULL);
	}
	FAIL("%s: a counting thread stopped", who);
}

static void check_only_stdio(const char *who)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self = dirfd(d);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd > 2 && fd != self)
			FAIL("%s: fd %d is open", who, fd);
	}
	closedir(d);
}

static void check_not_traced(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "TracerPid:", 10) && atoi(line + 10) != 0)
			FAIL("traced after the failure: %s", line);
	fclose(f);
}

int main(int argc, char **argv)
{
	tp_start(argc, argv);
	syscall(SYS_close_range, 3u, ~0u, 0u); /* whatever the test runner left open */
	if (argc < 3) {
		fprintf(stderr, "usage: libckpt_caller THREADS IMAGE [EXPECTED_ERROR]\n");
		return 2;
	}
	nthreads = atoi(argv[1]);
	int expected_error = argc > 3 ? atoi(argv[3]) : 0;
	for (int i = 0; i < nthreads && i < MAX_THREADS; ++i) {
		pthread_t t;
		pthread_create(&t, NULL, count, (void *)&counters[i]);
	}
	cached_pid = getpid();
	if (ckpt_on_restore(refresh_pid, &cached_pid) != 0)
		FAIL("ckpt_on_restore: %s", ckpt_error_message());

	int r = ckpt_checkpoint(argv[2], 0);

	if (r < 0) {
		printf("error %d (%s): %s\n", ckpt_error(), ckpt_strerror(ckpt_error()), ckpt_error_message());
		if (ckpt_error() != expected_error)
			FAIL("error code %d, expected %d", ckpt_error(), expected_error);
		if (!ckpt_error_message()[0])
			FAIL("no error message");
		check_not_traced();
		check_threads_run("after the error");
		check_only_stdio("after the error");
		return tp_finish("error %d reported, caller running", ckpt_error());
	}
	if (expected_error)
		FAIL("returned %d, expected error %d", r, expected_error);
	if (r == CKPT_ORIGINAL) {
		if (ckpt_generation() != 0 || ckpt_copy_id() != 0 || hook_runs != 0)
			FAIL("original: generation %u, copy id %llx, hooks run %d", ckpt_generation(),
			     (unsigned long long)ckpt_copy_id(), hook_runs);
		check_threads_run("original");
		check_only_stdio("original");
		return tp_finish("original threads=%d", nthreads);
	}
	if (r != CKPT_RESTORED)
		FAIL("returned %d", r);
	if (ckpt_generation() != 1 || ckpt_copy_id() == 0)
		FAIL("copy: generation %u, copy id %llx", ckpt_generation(), (unsigned long long)ckpt_copy_id());
	if (hook_runs != 1 || cached_pid != getpid())
		FAIL("copy: hook ran %d times, cached pid %d, pid %d", hook_runs, cached_pid, getpid());
	check_threads_run("copy");
	check_only_stdio("copy");
	return tp_finish("copy id=%016llx pid=%d generation=%u threads=%d", (unsigned long long)ckpt_copy_id(), getpid(),
			 ckpt_generation(), nthreads);
}
