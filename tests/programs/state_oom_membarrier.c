/*
 * state_oom_membarrier: oom_score_adj and the membarrier registrations of
 * the process's mm must survive a checkpoint.
 *
 *   oom_score_adj 345 (raised: no privilege needed)
 *   membarrier: REGISTER_PRIVATE_EXPEDITED, REGISTER_GLOBAL_EXPEDITED,
 *   REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
 *
 * Check: /proc/self/oom_score_adj reads 345; MEMBARRIER_CMD_GET_REGISTRATIONS
 * names those three (and what SYNC_CORE implies), and the registered
 * commands work (PRIVATE_EXPEDITED fails with EPERM unregistered).
 *
 * Protocol: see tests/e2e/state.sh. --fresh sets nothing.
 */
#include "testprog.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GET_REGISTRATIONS (1 << 9)
#define WANT (MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED | \
	      MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE)

static long membarrier(int cmd) { return syscall(SYS_membarrier, cmd, 0, 0); }

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh) {
		FILE *f = fopen("/proc/self/oom_score_adj", "w");
		if (!f || fprintf(f, "345\n") < 0 || fclose(f) != 0)
			tp_die("oom_score_adj");
		if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) || membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) ||
		    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE))
			tp_die("membarrier register");
	}
	long before = membarrier(GET_REGISTRATIONS);
	tp_ready(fresh);
	tp_wait_check();

	char line[32] = "";
	FILE *f = fopen("/proc/self/oom_score_adj", "r");
	if (!f || !fgets(line, sizeof line, f) || atoi(line) != 345)
		FAIL("oom_score_adj is %s, want 345", line);
	if (f)
		fclose(f);
	long now = membarrier(GET_REGISTRATIONS);
	if (now < 0 || (now & WANT) != WANT || now != before)
		FAIL("membarrier registrations %#lx, want %#lx (%#x at least)", now, before, WANT);
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
		FAIL("MEMBARRIER_CMD_PRIVATE_EXPEDITED: %s", strerror(errno));
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) != 0)
		FAIL("MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: %s", strerror(errno));
	return tp_finish("oom_score_adj 345, membarrier registrations %#lx", now);
}
