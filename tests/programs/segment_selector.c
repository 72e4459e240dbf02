/*
 * segment_selector: a process in a state `ckpt dump` can read but `restore`
 * cannot put back, for e2e.check_dump_refuses_unrestorable. Its %es holds
 * 0x33, the 64-bit user code selector (readable code: the CPU accepts it in
 * a data segment register), which the restorer cannot load again (only the
 * null selector, 0x2b and LDT selectors are: format/Validate.cpp).
 *
 * Prints "ready", then for each line on stdin prints "alive es=0x.." and
 * goes on; exits 0 at EOF.
 */
#include "testprog.h"

#include <unistd.h>

static unsigned read_es(void)
{
	unsigned v;
	__asm__ volatile("mov %%es, %0" : "=r"(v));
	return v & 0xffff;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!fresh) {
		unsigned sel = 0x33;
		__asm__ volatile("mov %0, %%es" : : "r"(sel));
	}
	tp_ready(fresh);
	char line[64];
	while (fgets(line, sizeof line, stdin))
		printf("alive es=%#x\n", read_es());
	return 0;
}
