/*
 * libckpt_errors SLOW_DUMPER: every refusal of libckpt's own, each with its
 * code and a message, the caller going on (tests/e2e/check_libckpt.sh):
 * no path, unknown flags, more hooks than the limit, a NULL hook, a second
 * checkpoint while one is in progress (SLOW_DUMPER stands in for ckpt: it
 * creates ./started, waits for ./release, then fails), a dumper that fails without a word, and a caller
 * that is a child subreaper.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "testprog.h"

static void nothing(void *arg) { (void)arg; }

static void expect(int r, int code, const char *what)
{
	if (r != -1 || ckpt_error() != code || !ckpt_error_message()[0])
		FAIL("%s: returned %d, code %d (expected %d), message '%s'", what, r, ckpt_error(), code,
		     ckpt_error_message());
	else
		printf("%s: %d %s\n", what, ckpt_error(), ckpt_error_message());
}

static void *slow_checkpoint(void *arg)
{
	(void)arg;
	int r = ckpt_checkpoint("/nonexistent/slow.ckpt", 0);
	return (void *)(long)r;
}

int main(int argc, char **argv)
{
	tp_start(argc, argv);
	if (argc < 2) {
		fprintf(stderr, "usage: libckpt_errors SLOW_DUMPER\n");
		return 2;
	}
	expect(ckpt_checkpoint(NULL, 0), CKPT_E_INVAL, "no path");
	expect(ckpt_checkpoint("", 0), CKPT_E_INVAL, "empty path");
	expect(ckpt_checkpoint("x.ckpt", 0x100), CKPT_E_INVAL, "unknown flags");
	expect(ckpt_on_restore(NULL, NULL), CKPT_E_INVAL, "no hook function");
	for (int i = 0; i < 64; ++i)
		if (ckpt_on_restore(nothing, NULL) != 0)
			FAIL("hook %d refused: %s", i, ckpt_error_message());
	expect(ckpt_on_restore(nothing, NULL), CKPT_E_HOOKS, "hook 65");

	setenv("CKPT_BIN", argv[1], 1);
	pthread_t t;
	pthread_create(&t, NULL, slow_checkpoint, NULL);
	/* The slow dumper creates "started" in the current folder, then waits
	 * for "release": in between, the first checkpoint is in progress. */
	for (int i = 0; i < 6000 && access("started", F_OK) != 0; ++i)
		usleep(10000);
	if (access("started", F_OK) != 0)
		FAIL("the slow dumper never started");
	expect(ckpt_checkpoint("other.ckpt", 0), CKPT_E_BUSY, "second checkpoint at once");
	close(open("release", O_WRONLY | O_CREAT, 0600));
	void *first;
	pthread_join(t, &first);
	if ((long)first != -1)
		FAIL("the slow checkpoint returned %ld", (long)first);

	setenv("CKPT_BIN", "/bin/false", 1);
	expect(ckpt_checkpoint("x.ckpt", 0), CKPT_E_DUMP, "a dumper failing silently");
	if (strstr(ckpt_error_message(), "exit status 1") == NULL)
		FAIL("silent failure message: %s", ckpt_error_message());

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	expect(ckpt_checkpoint("x.ckpt", 0), CKPT_E_INVAL, "a child subreaper");
	return tp_finish("libckpt's refusals");
}
