/*
 * state_kernel_ptrs: the addresses the kernel writes to on its own are the
 * process's again after restore, not the launcher's: the clear-child-tid
 * address (set_tid_address; the kernel zeroes it and wakes a futex there
 * when the thread exits) and the robust futex list head (walked at exit).
 * Left pointing into the launcher's old memory, the kernel would write into
 * whatever the restored process keeps there.
 *
 * Checked: PR_GET_TID_ADDRESS and get_robust_list(0) return what they
 * returned before the dump. --fresh: after recording them, the program
 * points both elsewhere itself, so the check must fail.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int decoy_tid;
static struct robust_list_head decoy_list = {{&decoy_list.list}, 0, NULL};

static void read_ptrs(uint64_t *tid_addr, uint64_t *robust, size_t *robust_len)
{
	void *head = NULL;
	*tid_addr = 0;
	prctl(PR_GET_TID_ADDRESS, tid_addr, 0, 0, 0);
	syscall(SYS_get_robust_list, 0, &head, robust_len);
	*robust = (uint64_t)(uintptr_t)head;
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	uint64_t tid_before, robust_before, tid_after, robust_after;
	size_t len_before, len_after;

	read_ptrs(&tid_before, &robust_before, &len_before);
	if (fresh) {
		syscall(SYS_set_tid_address, &decoy_tid);
		syscall(SYS_set_robust_list, &decoy_list, sizeof decoy_list);
	}
	dprintf(1, "ready tid address %#llx robust list %#llx\n", (unsigned long long)tid_before,
		(unsigned long long)robust_before);

	char line[64];
	if (read(0, line, sizeof line) <= 0)
		return 1;
	read_ptrs(&tid_after, &robust_after, &len_after);
	int bad = 0;
	if (tid_after != tid_before) {
		dprintf(1, "FAIL clear-child-tid address %#llx, was %#llx\n", (unsigned long long)tid_after,
			(unsigned long long)tid_before);
		bad = 1;
	}
	if (robust_after != robust_before || len_after != len_before) {
		dprintf(1, "FAIL robust list %#llx (%zu bytes), was %#llx (%zu bytes)\n", (unsigned long long)robust_after,
			len_after, (unsigned long long)robust_before, len_before);
		bad = 1;
	}
	if (bad)
		return 1;
	dprintf(1, "PASS clear-child-tid %#llx and robust list %#llx kept\n", (unsigned long long)tid_after,
		(unsigned long long)robust_after);
	return 0;
}
