/*
 * state_mdwe: memory-deny-write-execute (prctl PR_SET_MDWE, Linux 6.3)
 * must survive a checkpoint: the restored process may not map memory
 * writable and executable, nor make a writable mapping executable.
 *
 * Check: PR_GET_MDWE says PR_MDWE_REFUSE_EXEC_GAIN; mmap(PROT_WRITE |
 * PROT_EXEC) and mprotect of a read-write page to read-execute fail with
 * EACCES.
 *
 * Protocol: see tests/e2e/state.sh. --fresh sets nothing.
 */
#include "testprog.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh && prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0)
		tp_die("prctl(PR_SET_MDWE)");
	tp_ready(fresh);
	tp_wait_check();

	int flags = prctl(PR_GET_MDWE, 0, 0, 0, 0);
	if (flags != PR_MDWE_REFUSE_EXEC_GAIN)
		FAIL("PR_GET_MDWE says %d, want %d", flags, PR_MDWE_REFUSE_EXEC_GAIN);
	void *wx = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (wx != MAP_FAILED || errno != EACCES)
		FAIL("a writable and executable mapping was allowed (or failed otherwise: %s)", strerror(errno));
	void *rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rw == MAP_FAILED)
		tp_die("mmap");
	if (mprotect(rw, 4096, PROT_READ | PROT_EXEC) == 0 || errno != EACCES)
		FAIL("a writable mapping was made executable (or failed otherwise: %s)", strerror(errno));
	return tp_finish("memory-deny-write-execute %d", flags);
}
