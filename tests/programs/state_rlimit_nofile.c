/*
 * state_rlimit_nofile: a process whose RLIMIT_NOFILE is below some of its
 * fd numbers (it lowered the limit after opening them, which the kernel
 * allows) must come back whole. The saved limit is set last, after the
 * trampoline has placed every fd (before, dup3 onto fd 900 failed with
 * EBADF after the point of no return: exit 120, process lost).
 *
 * Setup: /dev/null on fd 900, an eventfd with count 5 on fd 800, then
 * RLIMIT_NOFILE soft limit 64 (hard limit unchanged).
 *
 * Check: fds 800 and 900 are what they were; the soft limit is 64 and the
 * hard one as before; dup2 onto fd 100 fails with EBADF (the limit is in
 * force, not just reported).
 *
 * Protocol: see tests/e2e/state.sh. --fresh sets nothing up.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	struct rlimit before = {0, 0};
	getrlimit(RLIMIT_NOFILE, &before);
	if (!fresh) {
		int null = open("/dev/null", O_RDWR);
		int ev = eventfd(5, 0);
		if (null < 0 || ev < 0 || dup2(null, 900) != 900 || dup2(ev, 800) != 800) {
			perror("setup");
			return 2;
		}
		close(null);
		close(ev);
		struct rlimit low = {64, before.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &low) != 0) {
			perror("setrlimit");
			return 2;
		}
	}
	tp_ready(fresh);
	tp_wait_check();

	struct stat st, null_st;
	if (fstat(900, &st) != 0 || stat("/dev/null", &null_st) != 0 || st.st_rdev != null_st.st_rdev)
		FAIL("fd 900 is not /dev/null any more");
	uint64_t count = 0;
	if (read(800, &count, sizeof count) != sizeof count || count != 5)
		FAIL("fd 800 is not the eventfd with count 5 (read %llu)", (unsigned long long)count);
	struct rlimit now;
	getrlimit(RLIMIT_NOFILE, &now);
	if (now.rlim_cur != 64 || now.rlim_max != before.rlim_max)
		FAIL("RLIMIT_NOFILE is %llu/%llu, expected 64/%llu", (unsigned long long)now.rlim_cur,
		     (unsigned long long)now.rlim_max, (unsigned long long)before.rlim_max);
	errno = 0;
	if (dup2(0, 100) != -1 || errno != EBADF)
		FAIL("dup2 onto fd 100 did not fail with EBADF under the limit of 64");
	return tp_finish("fds 800 and 900 above RLIMIT_NOFILE 64, limit in force");
}
