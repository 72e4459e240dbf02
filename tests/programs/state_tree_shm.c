/*
 * Shared memory between members of a tree: a MAP_SHARED|MAP_ANONYMOUS area
 * and a memfd mapped shared, made by the parent before it forked a child
 * (and a grandchild), stay one object each after restore: what one member
 * writes, the others read, and the contents from before the dump are there.
 * --fresh maps both privately, so the members' writes stay their own and
 * the check fails.
 */
#include "testprog.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE (1u << 20)

static uint8_t *anon, *mfd;

/* One round: member `who` writes its mark at its own offset of both areas
 * and says so on `done`; the others then read every mark. */
static void mark(int who)
{
	anon[4096 * (who + 1)] = (uint8_t)(0xa0 + who);
	mfd[4096 * (who + 1) + 1] = (uint8_t)(0xb0 + who);
}

static int marks_seen(int upto)
{
	int bad = 0;
	for (int w = 0; w <= upto; w++)
		bad += anon[4096 * (w + 1)] != (uint8_t)(0xa0 + w) || mfd[4096 * (w + 1) + 1] != (uint8_t)(0xb0 + w);
	return bad;
}

static int contents_bad(void)
{
	int bad = 0;
	for (unsigned i = 64 * 4096; i < SIZE; i += 4096)
		bad += anon[i] != (uint8_t)(i >> 12) || mfd[i] != (uint8_t)~(i >> 12);
	return bad;
}

/* A member below the parent: waits for its turn (a byte on `turn`), marks,
 * passes the turn down (`next`, or back up on `done`), then waits for the
 * verdict round and reports by exit status. */
static void member(int who, int turn, int done, int child_turn, pid_t child)
{
	char c;
	if (read(turn, &c, 1) != 1)
		_exit(3);
	mark(who);
	if (child > 0) {
		(void)!write(child_turn, &c, 1);
		int st;
		if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
			_exit(4);
	}
	_exit(contents_bad() || marks_seen(who) ? 1 : (write(done, &c, 1) == 1 ? 0 : 5));
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	int kind = fresh ? MAP_PRIVATE : MAP_SHARED;
	anon = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, kind | MAP_ANONYMOUS, -1, 0);
	int fd = memfd_create("tree-shm", 0);
	if (anon == MAP_FAILED || fd < 0 || ftruncate(fd, SIZE))
		tp_die("shared memory");
	mfd = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, kind, fd, 0);
	if (mfd == MAP_FAILED)
		tp_die("mmap memfd");
	close(fd);
	for (unsigned i = 64 * 4096; i < SIZE; i += 4096) {
		anon[i] = (uint8_t)(i >> 12);
		mfd[i] = (uint8_t)~(i >> 12);
	}
	int turn1[2], turn2[2], done[2];
	if (pipe(turn1) || pipe(turn2) || pipe(done))
		tp_die("pipe");
	pid_t child = fork();
	if (child < 0)
		tp_die("fork");
	if (child == 0) {
		pid_t grandchild = fork();
		if (grandchild < 0)
			_exit(2);
		if (grandchild == 0)
			member(2, turn2[0], done[1], -1, -1);
		member(1, turn1[0], done[1], turn2[1], grandchild);
	}
	tp_ready(fresh);
	tp_wait_check();
	/* The parent marks, the child reads it and marks, the grandchild reads
	 * both and marks; the parent then reads all three. */
	char c = 'g';
	mark(0);
	if (write(turn1[1], &c, 1) != 1)
		FAIL("cannot start the child's turn");
	int st;
	if (waitpid(child, &st, 0) != child)
		FAIL("the child is not this process's child");
	else if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("the child or grandchild did not see the shared memory as one object (status %#x)", st);
	if (marks_seen(2))
		FAIL("the parent does not see the child's and grandchild's writes to the shared areas");
	if (contents_bad())
		FAIL("the shared areas' contents from before the dump differ");
	return tp_finish("anonymous shared memory and a memfd stay one object for parent, child and grandchild");
}
