/*
 * wait_status: runs a command and writes how it ended to a file, the way a
 * shell sees it: "exit N" or "signal N" (and " core" when it dumped core).
 *
 *   usage: wait_status RESULT_FILE COMMAND [ARGS...]
 *
 * The command inherits stdin, stdout and stderr. Exits 0 once RESULT_FILE
 * is written, 2 on a setup failure. A shell's $? cannot tell exit(138) from
 * death by SIGUSR1 (10); the tests of restore's exit status need to.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: wait_status RESULT_FILE COMMAND [ARGS...]\n");
		return 2;
	}
	pid_t child = fork();
	if (child < 0) {
		perror("fork");
		return 2;
	}
	if (child == 0) {
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	int status;
	while (waitpid(child, &status, 0) < 0)
		;
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	if (WIFSIGNALED(status))
		fprintf(f, "signal %d%s\n", WTERMSIG(status), WCOREDUMP(status) ? " core" : "");
	else
		fprintf(f, "exit %d\n", WEXITSTATUS(status));
	return fclose(f) == 0 ? 0 : 2;
}
