/*
 * dump_target: a running process whose every piece of state a dump might
 * damage is checked from inside, again and again, while ckpt dumps it,
 * fails, or is killed (tests/e2e/check_dumper_killed.sh,
 * check_target_intact.sh).
 *
 * Set up once, then compared with that first view at every check:
 *   - main thread: SIGTRAP, SIGUSR1, SIGRTMIN+2 blocked, a SIGTRAP it raised
 *     while blocked pending (tgkill: SI_TKILL), an alternate signal stack;
 *     it waits in read() on stdin (a call that must restart);
 *   - process-wide pending: SIGUSR1 (kill: SI_USER), SIGRTMIN+2 (sigqueue,
 *     value 42);
 *   - handlers for SIGTRAP, SIGUSR1, SIGUSR2 and SIGRTMIN+2 that only
 *     count: none may ever run;
 *   - "regs" thread: SIGTRAP, SIGUSR1, SIGUSR2, SIGRTMIN+2 blocked, a
 *     SIGUSR2 pending for it;
 *     loops in assembly holding known values in rbx, rdx, r8-r10, r12-r15,
 *     xmm0-xmm14 and (with AVX2) the upper half of ymm14, checking them
 *     every turn and sleeping 2 ms every
 *     16384 turns (so it is caught in user code and in nanosleep alike);
 *   - "reader" thread: SIGTRAP, SIGUSR1, SIGRTMIN+2 blocked; in read() on a
 *     pipe until "final";
 *   - 4 MiB of patterned memory; the text of /proc/self/maps.
 *
 * Commands on stdin, one per line:
 *   check N   compare everything (signal masks, pending sets of every
 *             thread and of the process, all 64 actions, the alternate
 *             stack, memory, maps, the regs thread's registers and
 *             progress, the reader still blocked); prints "ok N", or FAIL
 *             lines then "bad N"
 *   sock      opens a NETLINK_GENERIC socket (a descriptor ckpt refuses,
 *             needing no privilege and no network); "sock FD"
 *   unsock    closes it; "unsock"
 *   seccomp   installs a seccomp filter (all threads) under which
 *             getitimer fails with EPERM; "seccomp"
 *   final     check, then take every pending signal back with its
 *             siginfo (rt_sigtimedwait) and end the threads; prints
 *             "PASS ..." and exits 0, or FAIL lines and exits 1
 * The first line is "ready".
 *
 * dump_target --under-seccomp NR CMD ARGS... installs such a filter for
 * system call NR and runs CMD (which inherits it), for a dumper and a
 * target that share it.
 */
#include "testprog.h"

#include <dirent.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MEM_BYTES (4u << 20)

static uint64_t bit(int sig) { return 1ULL << (sig - 1); }

struct kaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static pid_t setup_pid;
static int rtsig;
static volatile int handled[65];
static struct kaction actions[64];
static stack_t altstack;
static uint64_t main_mask, regs_mask, reader_mask;
static uint64_t *mem;
static uint64_t mem_sum;
static char maps[65536];
static pid_t regs_tid, reader_tid;
static volatile uint64_t reg_turns;
static volatile int reg_bad, reg_stop;
static volatile int reader_state; /* 0 blocked, 1 got the final byte, 2 read returned otherwise */
static int reader_pipe[2];
static int sock = -1;

static void on_signal(int sig) { handled[sig]++; }

static uint64_t get_mask(void)
{
	uint64_t m = 0;
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, 8);
	return m;
}

static void block(uint64_t m) { syscall(SYS_rt_sigprocmask, SIG_BLOCK, &m, NULL, 8); }

static uint64_t status_field(pid_t tid, const char *name)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
	return tp_status_hex(path, name);
}

/* A thread's tid by its name (a restore may give threads new tids). */
static pid_t tid_named(const char *name)
{
	char path[300], comm[32];
	for (int i = 0; i < 3; i++) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
			FILE *f = fopen(path, "r");
			if (f && fgets(comm, sizeof comm, f) && strncmp(comm, name, strlen(name)) == 0 &&
			    comm[strlen(name)] == '\n') {
				fclose(f);
				pid_t tid = atoi(e->d_name);
				closedir(d);
				return tid;
			}
			if (f)
				fclose(f);
		}
		if (d)
			closedir(d);
	}
	FAIL("no thread named %s", name);
	return 0;
}

static void expect(const char *what, uint64_t got, uint64_t want)
{
	if (got != want)
		FAIL("%s: got 0x%016llx want 0x%016llx", what, (unsigned long long)got, (unsigned long long)want);
}

static uint64_t checksum(void)
{
	uint64_t s = 0;
	for (size_t i = 0; i < MEM_BYTES / 8; i++)
		s = s * 31 + mem[i];
	return s;
}

static void read_maps(char *out, size_t size)
{
	FILE *f = fopen("/proc/self/maps", "r");
	size_t n = f ? fread(out, 1, size - 1, f) : 0;
	out[n] = 0;
	if (f)
		fclose(f);
}

/* The register loop: values set once, checked every turn; a mismatch
 * leaves the register's number (1-based) in reg_bad. */
static void *regs_thread(void *arg)
{
	(void)arg;
	block(bit(SIGTRAP) | bit(SIGUSR1) | bit(SIGUSR2) | bit(rtsig));
	regs_mask = get_mask();
	prctl(PR_SET_NAME, "regs");
	__atomic_store_n(&regs_tid, gettid(), __ATOMIC_RELEASE);
	struct timespec nap = {0, 2000000}, *napp = &nap;
	int avx2 = __builtin_cpu_supports("avx2");
#define SET(r, v) "movabs $" #v ", %%rax\n\tmov %%rax, %%" #r "\n\t"
#define SETX(x, v) "movabs $" #v ", %%rax\n\tmovq %%rax, %%" #x "\n\t"
#define CHK(n, r, v) "movabs $" #v ", %%rax\n\tcmp %%rax, %%" #r "\n\tmov $" #n ", %%ecx\n\tjne 9f\n\t"
#define CHKX(n, x, v) "movq %%" #x ", %%rcx\n\tmovabs $" #v ", %%rax\n\tcmp %%rax, %%rcx\n\tmov $" #n ", %%ecx\n\tjne 9f\n\t"
	__asm__ volatile(
		SET(rbx, 0x1111111111111111) SET(rdx, 0x2222222222222222) SET(r8, 0x3333333333333333)
		SET(r9, 0x4444444444444444) SET(r10, 0x5555555555555555) SET(r12, 0x6666666666666666)
		SET(r13, 0x7777777777777777) SET(r14, 0x8888888888888888) SET(r15, 0x9999999999999999)
		SETX(xmm0, 0x0101010101010101) SETX(xmm1, 0x0202020202020202) SETX(xmm2, 0x0303030303030303)
		SETX(xmm3, 0x0404040404040404) SETX(xmm4, 0x0505050505050505) SETX(xmm5, 0x0606060606060606)
		SETX(xmm6, 0x0707070707070707) SETX(xmm7, 0x0808080808080808) SETX(xmm8, 0x0909090909090909)
		SETX(xmm9, 0x0a0a0a0a0a0a0a0a) SETX(xmm10, 0x0b0b0b0b0b0b0b0b) SETX(xmm11, 0x0c0c0c0c0c0c0c0c)
		SETX(xmm12, 0x0d0d0d0d0d0d0d0d) SETX(xmm13, 0x0e0e0e0e0e0e0e0e) SETX(xmm14, 0x0f0f0f0f0f0f0f0f)
		/* With AVX2, ymm14's upper half too (xmm15 is then the scratch to check it). */
		"cmpl $0, %[avx]\n\t"
		"je 4f\n\t"
		"vpbroadcastq %%xmm14, %%ymm14\n"
		"4:\n\t"
		"1:\n\t"
		CHK(1, rbx, 0x1111111111111111) CHK(2, rdx, 0x2222222222222222) CHK(3, r8, 0x3333333333333333)
		CHK(4, r9, 0x4444444444444444) CHK(5, r10, 0x5555555555555555) CHK(6, r12, 0x6666666666666666)
		CHK(7, r13, 0x7777777777777777) CHK(8, r14, 0x8888888888888888) CHK(9, r15, 0x9999999999999999)
		CHKX(10, xmm0, 0x0101010101010101) CHKX(11, xmm1, 0x0202020202020202)
		CHKX(12, xmm2, 0x0303030303030303) CHKX(13, xmm3, 0x0404040404040404)
		CHKX(14, xmm4, 0x0505050505050505) CHKX(15, xmm5, 0x0606060606060606)
		CHKX(16, xmm6, 0x0707070707070707) CHKX(17, xmm7, 0x0808080808080808)
		CHKX(18, xmm8, 0x0909090909090909) CHKX(19, xmm9, 0x0a0a0a0a0a0a0a0a)
		CHKX(20, xmm10, 0x0b0b0b0b0b0b0b0b) CHKX(21, xmm11, 0x0c0c0c0c0c0c0c0c)
		CHKX(22, xmm12, 0x0d0d0d0d0d0d0d0d) CHKX(23, xmm13, 0x0e0e0e0e0e0e0e0e)
		CHKX(24, xmm14, 0x0f0f0f0f0f0f0f0f)
		"cmpl $0, %[avx]\n\t"
		"je 5f\n\t"
		"vextracti128 $1, %%ymm14, %%xmm15\n\t"
		CHKX(25, xmm15, 0x0f0f0f0f0f0f0f0f)
		"5:\n\t"
		"incq %[turns]\n\t"
		"testl $16383, %[turns]\n\t"
		"jnz 2f\n\t"
		"mov $35, %%eax\n\t" /* nanosleep(&nap, NULL): clobbers rax, rcx, r11 only */
		"mov %[nap], %%rdi\n\t"
		"xor %%esi, %%esi\n\t"
		"syscall\n"
		"2:\n\t"
		"cmpl $0, %[stop]\n\t"
		"je 1b\n\t"
		"jmp 8f\n"
		"9:\n\t"
		"mov %%ecx, %[bad]\n"
		"8:\n"
		: [turns] "+m"(reg_turns), [bad] "+m"(reg_bad)
		: [stop] "m"(reg_stop), [nap] "m"(napp), [avx] "m"(avx2)
		: "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
		  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
		  "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
	return NULL;
}

static void *reader_thread(void *arg)
{
	char c;
	(void)arg;
	block(bit(SIGTRAP) | bit(SIGUSR1) | bit(rtsig));
	reader_mask = get_mask();
	prctl(PR_SET_NAME, "reader");
	__atomic_store_n(&reader_tid, gettid(), __ATOMIC_RELEASE);
	ssize_t n = read(reader_pipe[0], &c, 1);
	reader_state = n == 1 && c == 'F' ? 1 : 2;
	return NULL;
}

static void check(void)
{
	expect("main thread SigBlk", status_field(gettid(), "SigBlk"), main_mask);
	expect("main thread mask", get_mask(), main_mask);
	expect("main thread SigPnd", status_field(gettid(), "SigPnd"), bit(SIGTRAP));
	pid_t regs = tid_named("regs"), reader = tid_named("reader");
	/* Just after a restore, a thread may not have left the restorer yet
	 * (it still has every signal blocked there): wait for that to end. */
	for (int i = 0; i < 400; i++) {
		uint64_t a = status_field(regs, "SigBlk"), b = status_field(reader, "SigBlk");
		if ((~a & 0xfffffffffffbfeffULL) && (~b & 0xfffffffffffbfeffULL))
			break;
		usleep(5000);
	}
	expect("regs thread SigBlk", status_field(regs, "SigBlk"), regs_mask);
	expect("regs thread SigPnd", status_field(regs, "SigPnd"), bit(SIGUSR2));
	expect("reader thread SigBlk", status_field(reader, "SigBlk"), reader_mask);
	expect("reader thread SigPnd", status_field(reader, "SigPnd"), 0);
	expect("ShdPnd", status_field(gettid(), "ShdPnd"), bit(SIGUSR1) | bit(rtsig));
	for (int sig = 1; sig <= 64; sig++) {
		struct kaction now;
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		memset(&now, 0, sizeof now);
		syscall(SYS_rt_sigaction, sig, NULL, &now, 8);
		if (memcmp(&now, &actions[sig - 1], sizeof now) != 0)
			FAIL("signal %d action changed: handler %p flags %#lx mask %#llx, was %p %#lx %#llx", sig,
			     now.handler, now.flags, (unsigned long long)now.mask, actions[sig - 1].handler,
			     actions[sig - 1].flags, (unsigned long long)actions[sig - 1].mask);
	}
	for (int sig = 1; sig <= 64; sig++)
		if (handled[sig])
			FAIL("signal %d was handled %d times", sig, handled[sig]);
	stack_t ss;
	sigaltstack(NULL, &ss);
	if (ss.ss_sp != altstack.ss_sp || ss.ss_size != altstack.ss_size || ss.ss_flags != altstack.ss_flags)
		FAIL("alternate stack changed: %p %zu %d, was %p %zu %d", ss.ss_sp, ss.ss_size, ss.ss_flags,
		     altstack.ss_sp, altstack.ss_size, altstack.ss_flags);
	if (checksum() != mem_sum)
		FAIL("memory changed");
	static char now_maps[sizeof maps];
	read_maps(now_maps, sizeof now_maps);
	if (strcmp(now_maps, maps) != 0)
		FAIL("/proc/self/maps changed:\n%s\nwas:\n%s", now_maps, maps);
	if (reg_bad)
		FAIL("regs thread: register %d lost its value", reg_bad);
	uint64_t before = reg_turns;
	for (int i = 0; i < 2000 && reg_turns - before < 1000 && !reg_bad; i++)
		usleep(5000);
	if (reg_turns - before < 1000)
		FAIL("regs thread: no progress in 10 s (%llu turns)", (unsigned long long)(reg_turns - before));
	if (reader_state)
		FAIL("reader thread: its read() returned (state %d)", reader_state);
}

/* Takes `sig` back for this thread; value < 0: not SI_QUEUE. */
static void take(int sig, int code, int value)
{
	uint64_t set = bit(sig);
	siginfo_t si;
	struct timespec zero = {0, 0};
	memset(&si, 0, sizeof si);
	long r = syscall(SYS_rt_sigtimedwait, &set, &si, &zero, 8);
	if (r != sig) {
		FAIL("signal %d not pending (rt_sigtimedwait %ld)", sig, r);
		return;
	}
	if (si.si_code != code)
		FAIL("signal %d si_code %d, want %d", sig, si.si_code, code);
	if (si.si_pid != setup_pid)
		FAIL("signal %d si_pid %d, want %d", sig, (int)si.si_pid, (int)setup_pid);
	if (value >= 0 && si.si_value.sival_int != value)
		FAIL("signal %d si_value %d, want %d", sig, si.si_value.sival_int, value);
}

static int install_seccomp(int nr)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof f / sizeof f[0], f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

int main(int argc, char **argv)
{
	if (argc > 3 && strcmp(argv[1], "--under-seccomp") == 0) {
		if (install_seccomp(atoi(argv[2])) != 0)
			tp_die("seccomp");
		execvp(argv[3], argv + 3);
		tp_die("execvp");
	}
	tp_start(argc, argv);
	setup_pid = getpid();
	rtsig = SIGRTMIN + 2;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | SA_ONSTACK;
	sigaddset(&sa.sa_mask, SIGWINCH);
	int handled_sigs[] = {SIGTRAP, SIGUSR1, SIGUSR2, rtsig};
	for (size_t i = 0; i < sizeof handled_sigs / sizeof handled_sigs[0]; i++)
		if (sigaction(handled_sigs[i], &sa, NULL) != 0)
			tp_die("sigaction");
	altstack.ss_sp = malloc(1 << 16);
	altstack.ss_size = 1 << 16;
	if (!altstack.ss_sp || sigaltstack(&altstack, NULL) != 0)
		tp_die("sigaltstack");
	mem = malloc(MEM_BYTES);
	if (!mem)
		tp_die("malloc");
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < MEM_BYTES / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		mem[i] = x;
	}
	mem_sum = checksum();
	if (pipe(reader_pipe) != 0)
		tp_die("pipe");
	pthread_t regs, reader;
	if (pthread_create(&regs, NULL, regs_thread, NULL) != 0 ||
	    pthread_create(&reader, NULL, reader_thread, NULL) != 0)
		tp_die("pthread_create");
	while (!__atomic_load_n(&regs_tid, __ATOMIC_ACQUIRE) || !__atomic_load_n(&reader_tid, __ATOMIC_ACQUIRE))
		usleep(1000);
	/* After pthread_create, which puts back the creator's mask. */
	block(bit(SIGTRAP) | bit(SIGUSR1) | bit(rtsig));
	main_mask = get_mask();
	if (syscall(SYS_tgkill, getpid(), gettid(), SIGTRAP) != 0 || kill(getpid(), SIGUSR1) != 0 ||
	    sigqueue(getpid(), rtsig, (union sigval){.sival_int = 42}) != 0 ||
	    syscall(SYS_tgkill, getpid(), regs_tid, SIGUSR2) != 0)
		tp_die("sending signals");
	for (int sig = 1; sig <= 64; sig++)
		syscall(SYS_rt_sigaction, sig, NULL, &actions[sig - 1], 8);
	/* Everything above is done; nothing below changes the maps any more
	 * (stdio's buffers exist once the first line is printed). */
	tp_ready(0);
	read_maps(maps, sizeof maps);

	char line[128];
	while (fgets(line, sizeof line, stdin)) {
		int n = 0;
		if (sscanf(line, "check %d", &n) == 1) {
			int before = tp_failures;
			check();
			printf("%s %d\n", tp_failures == before ? "ok" : "bad", n);
		} else if (strcmp(line, "sock\n") == 0) {
			sock = socket(AF_NETLINK, SOCK_RAW, 16 /* NETLINK_GENERIC */);
			printf("sock %d\n", sock);
		} else if (strcmp(line, "unsock\n") == 0) {
			close(sock);
			sock = -1;
			printf("unsock\n");
		} else if (strcmp(line, "seccomp\n") == 0) {
			if (install_seccomp(SYS_getitimer) != 0)
				tp_die("seccomp");
			printf("seccomp\n");
		} else if (strcmp(line, "final\n") == 0) {
			check();
			take(SIGTRAP, SI_TKILL, -1);
			take(SIGUSR1, SI_USER, -1);
			take(rtsig, SI_QUEUE, 42);
			reg_stop = 1;
			if (write(reader_pipe[1], "F", 1) != 1)
				tp_die("write");
			pthread_join(regs, NULL);
			pthread_join(reader, NULL);
			if (reader_state != 1)
				FAIL("reader thread: read() ended with state %d", reader_state);
			if (reg_bad)
				FAIL("regs thread: register %d lost its value", reg_bad);
			expect("SigPnd at the end", status_field(gettid(), "SigPnd"), 0);
			expect("ShdPnd at the end", status_field(gettid(), "ShdPnd"), 0);
			return tp_finish("dump_target: masks, pending signals with siginfo, actions, altstack, memory, "
					 "maps, registers of a busy thread, a blocked read");
		} else {
			FAIL("unknown command: %s", line);
		}
	}
	FAIL("stdin ended before \"final\"");
	return 1;
}
