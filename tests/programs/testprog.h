/*
 * testprog.h: what every state_* and restart_* program does besides its own
 * check, so that each program reads as only the state it sets up and the
 * check it makes. The protocol is the one tests/e2e/state.sh drives:
 *
 *   int main(int argc, char **argv) {
 *           int fresh = tp_start(argc, argv);   // --fresh: set nothing up
 *           if (!fresh) { ...set the state up... }
 *           tp_ready(fresh);                    // prints "ready"
 *           tp_wait_check();                    // blocks in read(0)
 *           if (...differs...) FAIL("what differs: %d", x);
 *           return tp_finish("what was checked");  // "PASS ..." or exit 1
 *   }
 *
 * Header-only and static: each program stays one C file with no library.
 */
#ifndef CKPT_TESTPROG_H
#define CKPT_TESTPROG_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tp_failures;

/* One "FAIL ..." line per difference found; the program goes on checking. */
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), tp_failures++)

/* Line-buffered stdout (the harness reads it line by line); returns 1 when
 * the program was given --fresh. */
static inline int tp_start(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	return argc > 1 && strcmp(argv[1], "--fresh") == 0;
}

static inline void tp_ready(int fresh) { printf("ready%s\n", fresh ? " (fresh)" : ""); }

/* Waits for the harness's "check" line; EOF instead is itself a failure. */
static inline void tp_wait_check(void)
{
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");
}

/* Prints "PASS <what>" and returns 0 when nothing failed, else returns 1. */
static inline int tp_finish(const char *what, ...)
{
	if (tp_failures)
		return 1;
	va_list ap;
	va_start(ap, what);
	fputs("PASS ", stdout);
	vprintf(what, ap);
	putchar('\n');
	va_end(ap);
	return 0;
}

/* The hexadecimal value of the line "NAME:" of a /proc status FILE (a mask
 * such as SigPnd or ShdPnd); ~0 when the file or the line is missing. */
static inline unsigned long long tp_status_hex(const char *file, const char *name)
{
	FILE *f = fopen(file, "r");
	char line[256];
	unsigned long long v = ~0ULL;
	size_t n = strlen(name);
	if (!f)
		return v;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			sscanf(line + n + 1, "%llx", &v);
			break;
		}
	fclose(f);
	return v;
}

/* Setup that cannot go wrong in a working test: exit 2 (not a check failure). */
static inline void tp_die(const char *what)
{
	perror(what);
	exit(2);
}

#endif
