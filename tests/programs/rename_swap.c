/*
 * rename_swap.so: an LD_PRELOAD library for e2e.check_executable_race that
 * plays the other user who wins a race against `ckpt dump --executable`.
 * Right after a successful rename() onto a path ending in
 * $CKPT_TEST_SWAP_PATH, it moves the new file to PATH.moved and puts a
 * symlink to $CKPT_TEST_SWAP_VICTIM at PATH: whatever ckpt then does through
 * the path lands on the victim. (Before the fix, ckpt chmodded the path
 * after the rename.)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rename(const char *from, const char *to)
{
	int (*real)(const char *, const char *) = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	int r = real(from, to);
	const char *path = getenv("CKPT_TEST_SWAP_PATH"), *victim = getenv("CKPT_TEST_SWAP_VICTIM");
	if (r != 0 || !path || !victim || strcmp(to, path) != 0)
		return r;
	char moved[4096];
	snprintf(moved, sizeof moved, "%s.moved", to);
	if (real(to, moved) != 0 || symlink(victim, to) != 0)
		abort();
	return r;
}
