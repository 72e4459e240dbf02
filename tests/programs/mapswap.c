/*
 * mapswap DIR [map|fd|cwd]: creates DIR/code (64 KiB of zeros, so no
 * system call instruction in it) and
 *   map  (the default) maps it executable at 0x10000000, a low address, so
 *        that a dumper's search for resume code reaches it before any
 *        library;
 *   fd   keeps it open read-only on fd 3 instead;
 *   cwd  makes DIR its working directory instead;
 * then prints "ready" and waits in read(0); on EOF it exits 0. Run in a mount
 * namespace of its own over a DIR that holds something else outside, it
 * is a target whose mapped file's path names, for a dumper outside, a file
 * the target's owner chose (tests/e2e/check_root_dump_paths.sh).
 */
#include "testprog.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define CODE_ADDR ((void *)0x10000000)
#define CODE_SIZE (64 * 1024)

int main(int argc, char **argv)
{
	tp_start(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "map";
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: mapswap DIR [map|fd|cwd]\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/code", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, CODE_SIZE) != 0) {
		perror("mapswap: code");
		return 1;
	}
	if (strcmp(mode, "fd") == 0) {
		if (dup2(fd, 3) != 3) {
			perror("mapswap: dup2");
			return 1;
		}
	} else if (strcmp(mode, "cwd") == 0 && chdir(argv[1]) != 0) {
		perror("mapswap: chdir");
		return 1;
	}
	void *p = strcmp(mode, "map") != 0
	                  ? CODE_ADDR
	                  : mmap(CODE_ADDR, CODE_SIZE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
	if (strcmp(mode, "fd") != 0 || fd != 3)
		close(fd);
	if (p != CODE_ADDR) {
		perror("mapswap: mmap");
		return 1;
	}
	printf("ready\n");
	char buf[64];
	while (read(0, buf, sizeof buf) > 0) {
	}
	return 0;
}
