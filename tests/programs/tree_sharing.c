/*
 * tree_sharing MODE: a parent and a child made with clone(2) sharing what
 * two processes of a dumped tree cannot (ckpt refuses them, naming the
 * child): MODE "files" shares the fd table (CLONE_FILES), "fs" the working
 * directory and umask (CLONE_FS). Prints "child PID" once both exist, then
 * both sleep until killed (the child also ends when the parent does).
 * Driven by tests/e2e/check_tree_rules.sh.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static char stack[64 * 1024];

static int child(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	int flags = argc > 1 && strcmp(argv[1], "files") == 0 ? CLONE_FILES : CLONE_FS;
	pid_t pid = clone(child, stack + sizeof stack, flags | SIGCHLD, NULL);
	if (pid < 0) {
		perror("clone");
		return 2;
	}
	printf("child %d\n", (int)pid);
	fflush(stdout);
	for (;;)
		pause();
}
