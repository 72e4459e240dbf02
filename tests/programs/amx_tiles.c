/*
 * amx_tiles: AMX tile data is granted to a process only when it asks
 * (arch_prctl ARCH_REQ_XCOMP_PERM); a restored process must hold that
 * permission again, or its next tile instruction dies of SIGILL.
 *
 * Setup: ask for AMX tile data (XFEATURE 18). Given "hold", also load a
 * pattern into tile 0 and keep it there (the tile data is in use, which a
 * dump must refuse) until a line arrives on stdin, then check the pattern
 * and release the tiles.
 *
 * Check: ARCH_GET_XCOMP_PERM still names tile data; configuring the tiles,
 * zeroing tile 1 and storing it works and gives zeros.
 *
 * Protocol: see tests/e2e/state.sh; run by tests/e2e/check_xsave_amx.sh.
 * --fresh asks for nothing, so its check must fail.
 */
#include "testprog.h"

#include <asm/prctl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define XFEATURE_XTILEDATA 18

struct tile_config {
	uint8_t palette, start_row;
	uint8_t reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
} __attribute__((aligned(64)));

static struct tile_config config;
static uint8_t tile[16 * 64] __attribute__((aligned(64)));

static void configure(void)
{
	memset(&config, 0, sizeof config);
	config.palette = 1;
	for (int t = 0; t < 2; t++) {
		config.colsb[t] = 64;
		config.rows[t] = 16;
	}
	asm volatile("ldtilecfg %0" ::"m"(config));
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	int hold = argc > 1 && strcmp(argv[1], "hold") == 0;
	if (!fresh && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
		tp_die("ARCH_REQ_XCOMP_PERM");
	if (hold) {
		for (size_t i = 0; i < sizeof tile; i++)
			tile[i] = (uint8_t)(i * 7 + 3);
		configure();
		asm volatile("tileloadd (%0,%1,1), %%tmm0" ::"r"(tile), "r"(64L) : "memory");
		memset(tile, 0, sizeof tile);
		printf("holding\n");
		tp_wait_check();
		asm volatile("tilestored %%tmm0, (%0,%1,1)" ::"r"(tile), "r"(64L) : "memory");
		for (size_t i = 0; i < sizeof tile; i++)
			if (tile[i] != (uint8_t)(i * 7 + 3)) {
				FAIL("tile 0 byte %zu changed while held", i);
				break;
			}
		asm volatile("tilerelease");
	}
	tp_ready(fresh);
	tp_wait_check();

	unsigned long perm = 0;
	if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm) != 0)
		FAIL("ARCH_GET_XCOMP_PERM: %s", strerror(errno));
	else if (!(perm >> XFEATURE_XTILEDATA & 1))
		FAIL("AMX tile data is no longer permitted (permission %#lx)", perm);
	else {
		memset(tile, 0xff, sizeof tile);
		configure();
		asm volatile("tilezero %%tmm1\n\ttilestored %%tmm1, (%0,%1,1)\n\ttilerelease" ::"r"(tile), "r"(64L)
			     : "memory");
		for (size_t i = 0; i < sizeof tile; i++)
			if (tile[i]) {
				FAIL("tile 1 is not zero at byte %zu after tilezero", i);
				break;
			}
	}
	return tp_finish("AMX tile data permitted (%#lx), tile instructions work", perm);
}
