/*
 * state_altstack: the alternate signal stack must survive a checkpoint:
 * its address, size and flags, SS_AUTODISARM included, and it must work.
 *
 * Setup: sigaltstack on a static 64 KiB area with SS_AUTODISARM, and a
 * SIGUSR1 handler with SA_ONSTACK.
 *
 * Check: sigaltstack(NULL, &old) gives the same sp, size and flags; then
 * raise(SIGUSR1): the handler must run on the alternate stack (a local of
 * the handler lies inside the area), see the stack disarmed while it runs
 * (SS_AUTODISARM), and find it armed again once it has returned.
 *
 * Protocol: see tests/e2e/state.sh. --fresh sets up neither the stack nor
 * the handler (SIGUSR1 is then not raised: it would kill us).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

#define ALT_SIZE (64 * 1024)

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

static char alt_area[ALT_SIZE] __attribute__((aligned(64)));

static volatile sig_atomic_t ran;
static volatile uintptr_t local_addr;
static volatile int inside_flags;

static void handler(int sig)
{
	volatile char local = (char)sig;
	stack_t cur;
	ran++;
	local_addr = (uintptr_t)&local;
	inside_flags = sigaltstack(NULL, &cur) == 0 ? cur.ss_flags : -1;
}

static void compare_stack(const char *when)
{
	stack_t cur;
	if (sigaltstack(NULL, &cur) != 0) {
		FAIL("sigaltstack %s: read failed", when);
		return;
	}
	if (cur.ss_sp != alt_area)
		FAIL("sigaltstack %s ss_sp: got %p want %p", when, cur.ss_sp, (void *)alt_area);
	if (cur.ss_size != ALT_SIZE)
		FAIL("sigaltstack %s ss_size: got %zu want %d", when, cur.ss_size, ALT_SIZE);
	if ((unsigned)cur.ss_flags != SS_AUTODISARM)
		FAIL("sigaltstack %s ss_flags: got 0x%x want 0x%x (SS_AUTODISARM)", when,
		     (unsigned)cur.ss_flags, (unsigned)SS_AUTODISARM);
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!fresh) {
		stack_t ss = {.ss_sp = alt_area, .ss_size = ALT_SIZE, .ss_flags = SS_AUTODISARM};
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = handler;
		sa.sa_flags = SA_ONSTACK;
		if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGUSR1, &sa, NULL) != 0) {
			perror("setup");
			return 2;
		}
	}
	printf("ready%s\n", fresh ? " (fresh)" : "");

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	compare_stack("after restore");

	struct sigaction cur;
	sigaction(SIGUSR1, NULL, &cur);
	if (cur.sa_handler != handler || !(cur.sa_flags & SA_ONSTACK)) {
		FAIL("SIGUSR1 has no SA_ONSTACK handler (handler %p flags 0x%x), not raised",
		     (void *)cur.sa_handler, cur.sa_flags);
	} else if (!failures) {
		raise(SIGUSR1);
		uintptr_t lo = (uintptr_t)alt_area, hi = lo + ALT_SIZE;
		if (ran != 1)
			FAIL("SIGUSR1 handler ran %d times, want 1", (int)ran);
		else if (local_addr < lo || local_addr >= hi)
			FAIL("SIGUSR1 handler ran on the wrong stack: local at %#lx, alt stack %#lx-%#lx",
			     (unsigned long)local_addr, (unsigned long)lo, (unsigned long)hi);
		else if (!(inside_flags & SS_DISABLE))
			FAIL("sigaltstack inside the handler: flags 0x%x, want SS_DISABLE (SS_AUTODISARM)",
			     (unsigned)inside_flags);
		compare_stack("after the handler returned");
	}
	if (failures)
		return 1;
	printf("PASS altstack: %p size %d SS_AUTODISARM, handler ran on it\n", (void *)alt_area,
	       ALT_SIZE);
	return 0;
}
