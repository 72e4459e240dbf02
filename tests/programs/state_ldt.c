/*
 * state_ldt: the LDT and the segment selectors that point into it must
 * survive a checkpoint (64-bit rt_sigreturn restores neither %gs nor %ds/%es,
 * so the restorer has to load them again).
 *
 * Setup installs with modify_ldt(0x11) (func 0x11 keeps the useable bit):
 *   entry 1  32-bit data, read/write, base 0x10000, limit 0xfff bytes, useable
 *   entry 2  32-bit data, read-only, base 0x12345000, limit 0xfffff pages
 *   entry 4  16-bit data, read/write, base 0x2000, limit 0xffff bytes
 *   entry 6  32-bit code, readable, not present, base 0x40000, limit 0x1ff
 * leaving holes at 0, 3 and 5, and loads %gs with entry 1 (not %fs: glibc's
 * TLS lives there). Loading %gs also sets the gs base to entry 1's base,
 * 0x10000. %ds/%es are left alone: loading them could not be tried on the
 * machine this was written on (see below).
 *
 * Check: modify_ldt(0) reads back the same table byte for byte as at setup
 * (16 slots, zero-filled past the last entry), every entry decodes to what
 * was installed, the holes are empty; %gs holds its selector and the gs
 * base is 0x10000.
 *
 * Protocol: see tests/e2e/state.sh. --fresh installs no LDT and loads no
 * selector.
 *
 * Some machines keep the LDT but never let the CPU use it: a PVM guest (the
 * machine this test was written on) accepts modify_ldt and reads the table
 * back, but LDTR stays 0 and loading any LDT selector faults. Setup asks the CPU
 * with lar whether it sees entry 1; if not, no selector is loaded or
 * checked, and the ready and PASS lines say so.
 */
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <asm/prctl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SLOTS 16
#define SEL(idx) ((unsigned)((idx) << 3 | 4 | 3)) /* LDT, RPL 3 */

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

static const struct user_desc spec[] = {
	{.entry_number = 1, .base_addr = 0x10000, .limit = 0xfff, .seg_32bit = 1,
	 .contents = MODIFY_LDT_CONTENTS_DATA, .useable = 1},
	{.entry_number = 2, .base_addr = 0x12345000, .limit = 0xfffff, .seg_32bit = 1,
	 .contents = MODIFY_LDT_CONTENTS_DATA, .read_exec_only = 1, .limit_in_pages = 1},
	{.entry_number = 4, .base_addr = 0x2000, .limit = 0xffff, .seg_32bit = 0,
	 .contents = MODIFY_LDT_CONTENTS_DATA},
	{.entry_number = 6, .base_addr = 0x40000, .limit = 0x1ff, .seg_32bit = 1,
	 .contents = MODIFY_LDT_CONTENTS_CODE, .seg_not_present = 1},
};
#define NSPEC (sizeof spec / sizeof spec[0])
#define GS_IDX 1

static uint64_t recorded[SLOTS];
static int selectors_loaded; /* the CPU sees the LDT here: selectors in use */

/* lar sets ZF when the CPU can use the descriptor a selector names. */
static int cpu_sees(unsigned sel)
{
	unsigned long ar;
	unsigned char ok;
	__asm__ volatile("lar %2, %0; setz %1" : "=r"(ar), "=q"(ok) : "r"((unsigned long)sel) : "cc");
	return ok;
}

/* modify_ldt's int result comes back in the low 32 bits of rax. */
static int modify_ldt(int func, void *p, unsigned long n)
{
	return (int)syscall(SYS_modify_ldt, func, p, n);
}

static unsigned read_gs(void) { unsigned v; __asm__ volatile("mov %%gs, %0" : "=r"(v)); return v & 0xffff; }

/* Compares one read-back descriptor with what was installed, field by
 * field (the accessed bit, which the kernel sets itself, aside). */
static void check_entry(uint64_t d, const struct user_desc *u)
{
	unsigned n = u->entry_number;
	unsigned long base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	unsigned limit = (unsigned)((d & 0xffff) | ((d >> 32) & 0xf0000));
	unsigned type = (d >> 40) & 0xf;
	struct { const char *what; unsigned long got, want; } f[] = {
		{"base", base, u->base_addr},
		{"limit", limit, u->limit},
		{"writable/readable", (type >> 1) & 1, !u->read_exec_only},
		{"contents", (type >> 2) & 3, u->contents},
		{"S (code/data)", (d >> 44) & 1, 1},
		{"DPL", (d >> 45) & 3, 3},
		{"present", (d >> 47) & 1, !u->seg_not_present},
		{"AVL (useable)", (d >> 52) & 1, u->useable},
		{"L", (d >> 53) & 1, 0},
		{"D/B (32-bit)", (d >> 54) & 1, u->seg_32bit},
		{"G (limit in pages)", (d >> 55) & 1, u->limit_in_pages},
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (f[i].got != f[i].want)
			FAIL("ldt entry %u %s: got %#lx want %#lx (descriptor %016llx)", n, f[i].what,
			     f[i].got, f[i].want, (unsigned long long)d);
}

static void check_selector(const char *reg, unsigned got, unsigned idx)
{
	if (got != SEL(idx))
		FAIL("%s selector: got %#x want %#x (LDT entry %u, RPL 3)", reg, got, SEL(idx), idx);
}

static int read_table(uint64_t *t)
{
	memset(t, 0xa5, SLOTS * 8);
	return modify_ldt(0, t, SLOTS * 8);
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!fresh) {
		for (size_t i = 0; i < NSPEC; i++) {
			struct user_desc u = spec[i];
			int r = modify_ldt(0x11, &u, sizeof u);
			if (r != 0) {
				fprintf(stderr, "modify_ldt(0x11) entry %u: %d\n", u.entry_number, r);
				return 2;
			}
		}
		unsigned gs = SEL(GS_IDX);
		selectors_loaded = cpu_sees(gs);
		if (selectors_loaded)
			__asm__ volatile("mov %0, %%gs" : : "r"(gs));
		if (read_table(recorded) != SLOTS * 8) {
			fprintf(stderr, "modify_ldt(0) did not read the table back\n");
			return 2;
		}
	}
	printf("ready%s%s\n", fresh ? " (fresh)" : "",
	       fresh || selectors_loaded ? "" : " (the CPU does not use the LDT here: no selectors)");

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	/* The selector first: the checks below make system calls, which keep
	 * it, but read it as the restorer left it. */
	unsigned gs = read_gs();
	unsigned long gsbase = 0;
	if (selectors_loaded || fresh) {
		check_selector("%gs", gs, GS_IDX);
		if (syscall(SYS_arch_prctl, ARCH_GET_GS, &gsbase) != 0)
			FAIL("arch_prctl(ARCH_GET_GS) failed");
		else if (gsbase != spec[0].base_addr)
			FAIL("gs base: got %#lx want %#x (base of LDT entry %d)", gsbase,
			     spec[0].base_addr, GS_IDX);
	}

	uint64_t t[SLOTS];
	int r = read_table(t);
	if (r != SLOTS * 8) {
		FAIL("modify_ldt(0): returned %d, want %d (%s)", r, SLOTS * 8,
		     r == 0 ? "no LDT" : "error");
	} else {
		for (unsigned i = 0; i < SLOTS; i++) {
			const struct user_desc *u = NULL;
			for (size_t k = 0; k < NSPEC; k++)
				if (spec[k].entry_number == i)
					u = &spec[k];
			if (u)
				check_entry(t[i], u);
			else if (t[i] != 0)
				FAIL("ldt entry %u: got %016llx want empty", i, (unsigned long long)t[i]);
			if (!fresh && t[i] != recorded[i])
				FAIL("ldt entry %u bytes: got %016llx want %016llx (as at setup)", i,
				     (unsigned long long)t[i], (unsigned long long)recorded[i]);
		}
	}
	if (failures)
		return 1;
	if (selectors_loaded)
		printf("PASS ldt: entries 1 2 4 6 as installed, gs %#x, gs base %#lx\n", gs,
		       gsbase);
	else
		printf("PASS ldt: entries 1 2 4 6 as installed (selectors not tested: the CPU does not use the LDT here)\n");
	return 0;
}
