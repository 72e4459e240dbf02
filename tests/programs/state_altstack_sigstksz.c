/*
 * state_altstack_sigstksz: an alternate signal stack of the classic
 * SIGSTKSZ (8192 bytes) survives a checkpoint on a CPU whose signal frame
 * may need more (AT_MINSIGSTKSZ is 11952 with AMX). The kernel accepts such
 * a stack from a process that has not asked for AMX (it did, at setup), so
 * `restore` must too: it used to refuse it as "below this machine's
 * minimum", after `ckpt dump --kill` had already killed the process.
 *
 * Setup: sigaltstack on a static 8192-byte area, a SIGUSR1 handler with
 * SA_ONSTACK. The ready line says what AT_MINSIGSTKSZ is here (the test is
 * only sharp where it is above 8192).
 * Check: sigaltstack(NULL, &old) gives the same sp and size, not disabled;
 * raise(SIGUSR1) runs the handler on that area.
 *
 * Protocol: see tests/e2e/state.sh. --fresh sets up neither.
 */
#include "testprog.h"

#include <signal.h>
#include <stdint.h>
#include <sys/auxv.h>

#define ALT_SIZE 8192

static char alt_area[ALT_SIZE] __attribute__((aligned(64)));
static volatile uintptr_t local_addr;

static void handler(int sig)
{
	volatile char local = (char)sig;
	local_addr = (uintptr_t)&local;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh) {
		stack_t ss = {.ss_sp = alt_area, .ss_size = ALT_SIZE};
		if (sigaltstack(&ss, NULL) != 0)
			tp_die("sigaltstack");
		struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_ONSTACK};
		if (sigaction(SIGUSR1, &sa, NULL) != 0)
			tp_die("sigaction");
	}
	printf("ready%s: AT_MINSIGSTKSZ %lu, stack %d bytes\n", fresh ? " (fresh)" : "", getauxval(AT_MINSIGSTKSZ),
	       ALT_SIZE);
	tp_wait_check();
	stack_t cur;
	if (sigaltstack(NULL, &cur) != 0)
		tp_die("sigaltstack");
	if (cur.ss_flags & SS_DISABLE)
		FAIL("the alternate stack is disabled");
	if (cur.ss_sp != alt_area || cur.ss_size != ALT_SIZE)
		FAIL("the alternate stack is %p+%zu, expected %p+%d", cur.ss_sp, cur.ss_size, (void *)alt_area,
		     ALT_SIZE);
	if (!(cur.ss_flags & SS_DISABLE) && cur.ss_sp == alt_area) {
		raise(SIGUSR1);
		if (local_addr < (uintptr_t)alt_area || local_addr >= (uintptr_t)alt_area + ALT_SIZE)
			FAIL("the handler did not run on the alternate stack (local at %#lx)",
			     (unsigned long)local_addr);
	}
	return tp_finish("altstack of %d bytes (AT_MINSIGSTKSZ %lu): kept, handler ran on it", ALT_SIZE,
			 getauxval(AT_MINSIGSTKSZ));
}
