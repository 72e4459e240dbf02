/*
 * pidns_ids: a process that knows its ids, for restore --pid-ns
 * (tests/e2e/check_pid_ns*.sh).
 *
 * Setup: starts two threads (none with --no-threads: a process whose pid
 * is 1 has glibc's cached tid, 1, at two places the dumper cannot tell
 * apart), each recording its gettid() and then waiting to be asked again; records getpid(), gettid(), the raw getpid
 * and gettid system calls, the target of /proc/self and the "Pid:" line of /proc/self/status
 * and its own pid namespace (/proc/self/ns/pid); installs a handler for
 * SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGCONT,
 * SIGWINCH and SIGRTMIN+2 that writes "handled signal N from PID" (the
 * sender's si_pid); prints "ready pid=P tid=T ns=NS".
 *
 * Commands, one per line on stdin, answered on stdout:
 *   check      compares every recorded id with what it is now (each
 *              thread is asked its gettid() again, and must be listed in
 *              /proc/self/task), and /proc/self/stat's pid, and
 *              /proc/P/comm: "PASS ..." or one "FAIL ..." line per
 *              difference, then "checked";
 *   ids        "ids pid=P tid=T ppid=PP self=S ns=NS";
 *   exit N     exits with status N;
 *   die SIG    resets SIG to its default action and sends it to itself
 *              with kill(getpid()), as a program dying of a signal.
 * Exits 0 on EOF.
 */
#define _GNU_SOURCE
#include "testprog.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char self_link[64], ns_link[64], comm[64];
static int status_pid;

/* The two threads: each records its id, then answers every new request
 * (generation) with its id now. */
#define THREADS 2
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int generation, answered, started;
static pid_t thread_tid[THREADS], thread_now[THREADS];

static void *worker(void *arg)
{
	int i = (int)(long)arg, seen = 0;
	pthread_mutex_lock(&lock);
	thread_tid[i] = gettid();
	started++;
	pthread_cond_broadcast(&cond);
	for (;;) {
		while (generation == seen)
			pthread_cond_wait(&cond, &lock);
		seen = generation;
		thread_now[i] = gettid();
		answered++;
		pthread_cond_broadcast(&cond);
	}
	return NULL;
}

static void ask_threads(int threads)
{
	pthread_mutex_lock(&lock);
	generation++;
	answered = 0;
	pthread_cond_broadcast(&cond);
	while (answered < threads)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void readlink_into(const char *path, char *buf, size_t size)
{
	ssize_t n = readlink(path, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
}

static int status_line_pid(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int pid = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Pid: %d", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

static int stat_pid(void)
{
	FILE *f = fopen("/proc/self/stat", "r");
	int pid = -1;
	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	char msg[64];
	(void)uc;
	int n = snprintf(msg, sizeof msg, "handled signal %d from %d\n", sig, (int)si->si_pid);
	if (write(1, msg, (size_t)n) < 0)
		_exit(3);
}

int main(int argc, char **argv)
{
	tp_start(argc, argv);
	const int threads = argc > 1 && strcmp(argv[1], "--no-threads") == 0 ? 0 : THREADS;
	pthread_t th[THREADS];
	for (long i = 0; i < threads; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)i) != 0)
			tp_die("pthread_create");
	pthread_mutex_lock(&lock);
	while (started < threads)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	const pid_t pid = getpid(), tid = gettid();
	if (syscall(SYS_getpid) != pid || syscall(SYS_gettid) != tid)
		tp_die("getpid/gettid differ from the system calls");
	readlink_into("/proc/self", self_link, sizeof self_link);
	readlink_into("/proc/self/ns/pid", ns_link, sizeof ns_link);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	FILE *c = fopen(path, "r");
	if (!c || !fgets(comm, sizeof comm, c))
		tp_die(path);
	fclose(c);
	status_pid = status_line_pid();
	struct sigaction sa = {.sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigfillset(&sa.sa_mask);
	const int handled[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGCONT, SIGWINCH};
	for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
		if (sigaction(handled[i], &sa, NULL) != 0)
			tp_die("sigaction");
	if (sigaction(SIGRTMIN + 2, &sa, NULL) != 0)
		tp_die("sigaction");
	printf("ready pid=%d tid=%d ns=%s\n", (int)pid, (int)tid, ns_link);

	char line[128];
	while (fgets(line, sizeof line, stdin)) {
		int n;
		if (strncmp(line, "check", 5) == 0) {
			char now[64];
			tp_failures = 0;
			if (getpid() != pid)
				FAIL("getpid() %d, was %d", (int)getpid(), (int)pid);
			if (gettid() != tid)
				FAIL("gettid() %d, was %d", (int)gettid(), (int)tid);
			if (syscall(SYS_getpid) != pid || syscall(SYS_gettid) != tid)
				FAIL("the getpid/gettid system calls say %ld/%ld, were %d/%d", syscall(SYS_getpid),
				     syscall(SYS_gettid), (int)pid, (int)tid);
			readlink_into("/proc/self", now, sizeof now);
			if (strcmp(now, self_link) != 0)
				FAIL("/proc/self is '%s', was '%s'", now, self_link);
			if (status_line_pid() != status_pid)
				FAIL("/proc/self/status says Pid: %d, said %d", status_line_pid(), status_pid);
			if (stat_pid() != pid)
				FAIL("/proc/self/stat says pid %d, not %d", stat_pid(), (int)pid);
			ask_threads(threads);
			for (int i = 0; i < threads; i++) {
				struct stat st;
				char task[64];
				snprintf(task, sizeof task, "/proc/self/task/%d", (int)thread_tid[i]);
				if (thread_now[i] != thread_tid[i])
					FAIL("thread %d: gettid() %d, was %d", i, (int)thread_now[i], (int)thread_tid[i]);
				else if (stat(task, &st) != 0)
					FAIL("thread %d: %s is missing", i, task);
			}
			char again[64] = "";
			snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
			c = fopen(path, "r");
			if (!c || !fgets(again, sizeof again, c) || strcmp(again, comm) != 0)
				FAIL("%s does not name this process", path);
			if (c)
				fclose(c);
			tp_finish("getpid %d, gettid %d, threads %d %d, /proc/self, /proc/%d as before the dump", (int)pid, (int)tid,
				  (int)thread_tid[0], (int)thread_tid[1], (int)pid);
			printf("checked\n");
		} else if (strncmp(line, "ids", 3) == 0) {
			char now[64], ns[64];
			readlink_into("/proc/self", now, sizeof now);
			readlink_into("/proc/self/ns/pid", ns, sizeof ns);
			printf("ids pid=%d tid=%d ppid=%d self=%s ns=%s\n", (int)getpid(), (int)gettid(), (int)getppid(),
			       now, ns);
		} else if (sscanf(line, "exit %d", &n) == 1) {
			return n;
		} else if (sscanf(line, "die %d", &n) == 1) {
			signal(n, SIG_DFL);
			kill(getpid(), n);
			sigset_t one;
			sigemptyset(&one);
			sigaddset(&one, n);
			sigprocmask(SIG_UNBLOCK, &one, NULL);
			printf("still alive after signal %d\n", n);
			return 4;
		}
	}
	return 0;
}
