/*
 * state_dontfork: memory marked MADV_DONTFORK (as V8 marks node's heap)
 * keeps its contents and its flag, and a fork still does not get it; run
 * with and without restore --lazy (which fills such an area through the
 * page server, docs/architecture.md "Which areas are lazy"). Set up: an
 * 8 MiB private anonymous area with a pattern of each page's index,
 * MADV_DONTFORK. Checked: the child of a fork has no mapping at the area's
 * address (it reads its own /proc/self/maps) and exits; then every word
 * of the area holds its pattern and /proc/self/smaps shows "dc" for it.
 */
#include "testprog.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define PAGES 2048 /* 8 MiB */

static uint64_t word(size_t page, size_t i) { return (page * 0x9e3779b97f4a7c15ull) ^ (i * 0xd6e8feb86659fd93ull) ^ 0x77; }

/* Whether /proc/self/maps has a line starting at `start`. */
static int mapped_at(uintptr_t start)
{
	char want[32], line[512];
	snprintf(want, sizeof want, "%lx-", (unsigned long)start);
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;
	while (f && fgets(line, sizeof line, f))
		found |= strncmp(line, want, strlen(want)) == 0;
	if (f)
		fclose(f);
	return found;
}

/* Whether the smaps entry starting at `start` lists VmFlags "dc". */
static int dontfork_flag(uintptr_t start)
{
	char want[32], line[512];
	snprintf(want, sizeof want, "%lx-", (unsigned long)start);
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, dc = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (strchr(line, '-') && strchr(line, ' ') && line[0] != 'V' && strncmp(line, want, strlen(want)) == 0)
			in = 1;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			dc = strstr(line, " dc") != NULL;
			break;
		}
	}
	if (f)
		fclose(f);
	return dc;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	unsigned char *area = mmap(NULL, (size_t)PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	if (!fresh) {
		for (size_t pg = 0; pg < PAGES; pg++)
			for (size_t i = 0; i < PAGE / 8; i++)
				((uint64_t *)(area + pg * PAGE))[i] = word(pg, i);
		if (madvise(area, (size_t)PAGES * PAGE, MADV_DONTFORK) != 0) {
			perror("madvise");
			return 2;
		}
	}
	tp_ready(fresh);
	tp_wait_check();
	fflush(stdout);
	pid_t child = fork();
	if (child == 0)
		_exit(mapped_at((uintptr_t)area) ? 3 : 0);
	int status = 0;
	if (child < 0 || waitpid(child, &status, 0) != child)
		FAIL("fork: no child to wait for");
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("the forked child has the MADV_DONTFORK area (status %#x)", status);
	if (!dontfork_flag((uintptr_t)area))
		FAIL("the area's VmFlags lack dc (MADV_DONTFORK)");
	for (size_t pg = 0; pg < PAGES; pg++)
		for (size_t i = 0; i < PAGE / 8; i++)
			if (((const uint64_t *)(area + pg * PAGE))[i] != word(pg, i)) {
				FAIL("page %zu word %zu differs from the dump", pg, i);
				return tp_finish("");
			}
	return tp_finish("8 MiB MADV_DONTFORK area as saved, flag kept, not in a fork's memory");
}
