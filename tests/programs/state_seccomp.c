/*
 * state_seccomp: a process's own seccomp filters must survive a checkpoint,
 * in every thread, each filter still itself (flags included), and no more
 * filters than it had.
 *
 * Set up: no_new_privs, then two filters before a second thread starts:
 * filter 0 (SECCOMP_FILTER_FLAG_LOG) makes getpriority fail with EACCES,
 * filter 1 makes uname fail with EPERM; everything else is allowed.
 *
 * Check, in the leader and in the second thread: uname fails with EPERM,
 * getpriority with EACCES, getpid works; /proc/thread-self/status says
 * Seccomp 2 with 2 filters, NoNewPrivs 1.
 *
 * Protocol: see tests/e2e/state.sh. --fresh sets nothing.
 *
 * For tests/e2e/check_seccomp.sh, one more filter after those two (the
 * process then waits in read(0) like the others):
 *   --notify        hands uname to a supervisor (SECCOMP_RET_USER_NOTIF,
 *                   with its listener fd): a dump must refuse it;
 *   --deny-munmap   makes munmap fail with EPERM: restore must refuse it
 *                   (its last munmap would fail) before going on (the
 *                   check then wants 3 filters);
 *   --split         attached by the second thread alone: the threads'
 *                   chains differ, which a dump must refuse.
 * --no-nnp: the two filters attached without no_new_privs (root's
 * CAP_SYS_ADMIN allows that), which the process then drops from all its
 * sets: restore, run alike, cannot attach them and must refuse.
 */
#include "testprog.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Filter: system call nr answered with `action` (an errno if only that),
 * everything else allowed. */
static int attach(int nr, unsigned action, unsigned flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action < 4096 ? SECCOMP_RET_ERRNO | action : action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof f / sizeof f[0], f};
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static unsigned long long want_filters = 2, want_nnp = 1;

/* CAP_SYS_ADMIN out of the bounding, permitted and effective sets. */
static void drop_sys_admin(void)
{
	struct {
		unsigned version;
		int pid;
	} head = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
	struct {
		unsigned effective, permitted, inheritable;
	} data[2];
	if (prctl(PR_CAPBSET_DROP, 21 /* CAP_SYS_ADMIN */, 0, 0, 0) != 0 || syscall(SYS_capget, &head, data) != 0)
		tp_die("capget");
	data[0].effective &= ~(1u << 21);
	data[0].permitted &= ~(1u << 21);
	if (syscall(SYS_capset, &head, data) != 0)
		tp_die("capset");
}

static void check(const char *who)
{
	struct utsname u;
	errno = 0;
	if (uname(&u) == 0 || errno != EPERM)
		FAIL("%s: uname was not refused with EPERM (%s)", who, strerror(errno));
	errno = 0;
	if (syscall(SYS_getpriority, PRIO_PROCESS, 0) != -1 || errno != EACCES)
		FAIL("%s: getpriority was not refused with EACCES (%s)", who, strerror(errno));
	if (getpid() <= 0)
		FAIL("%s: getpid failed", who);
	unsigned long long mode = tp_status_hex("/proc/thread-self/status", "Seccomp");
	unsigned long long filters = tp_status_hex("/proc/thread-self/status", "Seccomp_filters");
	unsigned long long nnp = tp_status_hex("/proc/thread-self/status", "NoNewPrivs");
	if (mode != 2 || filters != want_filters || nnp != want_nnp)
		FAIL("%s: seccomp mode %llu with %llu filters, no_new_privs %llu (want 2, %llu, %llu)", who, mode, filters,
		     nnp, want_filters, want_nnp);
}

static int go[2], up[2];
static const char *mode = "";

static void *second(void *arg)
{
	(void)arg;
	char c;
	if (strcmp(mode, "--split") == 0 && attach(SYS_getpgid, EPERM, 0) != 0)
		tp_die("seccomp (second thread)");
	if (write(up[1], "u", 1) != 1)
		tp_die("write");
	while (read(go[0], &c, 1) < 0 && errno == EINTR)
		;
	check("second thread");
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--fresh") != 0) {
		mode = argv[1];
		argv[1] = argv[0], argv++, argc--;
	}
	int fresh = tp_start(argc, argv);
	if (!fresh) {
		if (strcmp(mode, "--no-nnp") == 0)
			want_nnp = 0;
		else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			tp_die("prctl(PR_SET_NO_NEW_PRIVS)");
		if (attach(SYS_getpriority, EACCES, SECCOMP_FILTER_FLAG_LOG) != 0 || attach(SYS_uname, EPERM, 0) != 0)
			tp_die("seccomp");
		if (!want_nnp)
			drop_sys_admin();
		if (strcmp(mode, "--notify") == 0 &&
		    attach(SYS_uname, SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER) < 0)
			tp_die("seccomp (listener)");
		if (strcmp(mode, "--deny-munmap") == 0) {
			if (attach(SYS_munmap, EPERM, 0) != 0)
				tp_die("seccomp (munmap)");
			want_filters = 3;
		}
	}
	if (pipe(go) != 0 || pipe(up) != 0)
		tp_die("pipe");
	pthread_t t;
	if (pthread_create(&t, NULL, second, NULL) != 0)
		tp_die("pthread_create");
	char c;
	if (read(up[0], &c, 1) != 1)
		tp_die("read");
	tp_ready(fresh);
	tp_wait_check();
	check("leader");
	if (write(go[1], "g", 1) != 1)
		tp_die("write");
	pthread_join(t, NULL);
	return tp_finish("seccomp filters in both threads");
}
