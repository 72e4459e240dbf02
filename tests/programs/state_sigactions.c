/*
 * state_sigactions: every signal disposition (1..64) must survive a
 * checkpoint: handler, flags (SA_RESTORER and the restorer address included)
 * and sa_mask, exactly as the kernel holds them.
 *
 * Setup installs a table of distinct dispositions: handlers with SA_SIGINFO,
 * SA_RESTART, SA_ONSTACK, SA_NODEFER, SA_RESETHAND, SA_NOCLDSTOP, masks with
 * standard and RT signals, SIG_IGN (SIGPIPE, SIGURG, an RT signal), SIG_DFL set
 * explicitly with flags and a mask, and two installed with the raw syscall:
 * one with our own restorer, one without SA_RESTORER at all (never raised).
 * It then records the raw kernel view (rt_sigaction with a NULL act) of all
 * 64 signals; signals not in the table keep whatever the shell gave us.
 *
 * Check: all 64 raw views equal the record; every table entry matches both
 * through glibc's sigaction() and the raw view; then the dispositions must
 * also work: raise(SIGUSR1) runs its SA_SIGINFO handler with its sa_mask
 * blocked, SIGSYS (SA_RESETHAND) falls back to SIG_DFL after one delivery,
 * and the signal with our own restorer returns through it.
 *
 * Protocol: see tests/e2e/state.sh. --fresh skips the table (the record is
 * still taken), so the table checks fail.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

/* The kernel's struct sigaction for x86-64 rt_sigaction (sigsetsize 8). */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static int failures;
#define FAIL(...) (printf("FAIL " __VA_ARGS__), putchar('\n'), failures++)

static const char *signame(int sig)
{
	static char buf[32];
	const char *abbrev = sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;
	if (abbrev)
		snprintf(buf, sizeof buf, "SIG%s", abbrev);
	else if (sig >= SIGRTMIN)
		snprintf(buf, sizeof buf, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, sizeof buf, "signal %d", sig);
	return buf;
}

static uint64_t bit(int sig) { return 1ULL << (sig - 1); }

static volatile sig_atomic_t info_count, info_signo, info_code;
static volatile uint64_t info_blocked;
static volatile sig_atomic_t plain1_count, plain2_count;

static void h_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	info_count++;
	info_signo = si->si_signo;
	info_code = si->si_code;
	/* What the kernel blocked for this handler: sa_mask plus sig itself. */
	uint64_t m = 0;
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, 8);
	info_blocked = m;
	(void)sig;
}
static void h_plain1(int sig) { (void)sig; plain1_count++; }
static void h_plain2(int sig) { (void)sig; plain2_count++; }

/* Our own rt_sigreturn trampoline: a restorer that is not glibc's. */
void ckpt_test_restorer(void);
__asm__(".text\n"
	".globl ckpt_test_restorer\n"
	".type ckpt_test_restorer, @function\n"
	"ckpt_test_restorer:\n"
	"	mov $15, %eax\n"
	"	syscall\n"
	"	hlt\n");

enum how { LIBC, RAW_OWN_RESTORER, RAW_NO_RESTORER };

struct entry {
	int sig;                /* SIGRTMIN-relative when rt is set */
	int rt;
	void *handler;
	unsigned long flags;    /* without the SA_RESTORER glibc adds */
	uint64_t mask;          /* standard signals; RT bits added below */
	int rt_mask[3];         /* SIGRTMIN-relative offsets, -1 = none */
	enum how how;
};

#define H(f) ((void *)(f))
#define NONE {-1, -1, -1}
static struct entry table[] = {
	{SIGHUP, 0, H(h_plain1), SA_RESTART, 1ULL << (SIGINT - 1), {2, -1, -1}, LIBC},
	{SIGINT, 0, H(h_plain2), SA_NODEFER | SA_RESETHAND, 0, NONE, LIBC},
	{SIGQUIT, 0, H(SIG_DFL), 0, 0, NONE, LIBC},
	{SIGUSR1, 0, H(h_info), SA_SIGINFO | SA_RESTART | SA_ONSTACK,
	 (1ULL << (SIGUSR2 - 1)) | (1ULL << (SIGTERM - 1)), {0, 30, -1}, LIBC},
	{SIGUSR2, 0, H(h_plain1), SA_ONSTACK, 1ULL << (SIGHUP - 1), NONE, LIBC},
	{SIGPIPE, 0, H(SIG_IGN), 0, 0, NONE, LIBC},
	{SIGALRM, 0, H(h_info), SA_SIGINFO | SA_NODEFER, 0, {5, -1, -1}, LIBC},
	{SIGTERM, 0, H(SIG_DFL), SA_RESTART, 1ULL << (SIGUSR1 - 1), NONE, LIBC},
	{SIGCHLD, 0, H(h_plain2), SA_NOCLDSTOP | SA_RESTART, 0, NONE, LIBC},
	{SIGURG, 0, H(SIG_IGN), 0, 0, NONE, LIBC},
	{SIGWINCH, 0, H(SIG_DFL), 0, 0, NONE, LIBC},
	{SIGSYS, 0, H(h_info), SA_SIGINFO | SA_RESETHAND, 0, NONE, LIBC},
	{0, 1, H(h_info), SA_SIGINFO, 0, {1, 2, 3}, LIBC},
	{6, 1, H(h_plain1), SA_RESTART | SA_NODEFER, 1ULL << (SIGCHLD - 1), NONE, LIBC},
	{10, 1, H(h_plain2), SA_RESTORER | SA_RESTART, 0, {11, -1, -1}, RAW_OWN_RESTORER},
	{11, 1, H(SIG_DFL), 0, 0, NONE, LIBC},
	{12, 1, H(h_plain1), 0, 1ULL << (SIGUSR1 - 1), NONE, RAW_NO_RESTORER},
	{16, 1, H(SIG_IGN), SA_RESTART, 1ULL << (SIGHUP - 1), NONE, LIBC},
	{30, 1, H(h_info), SA_SIGINFO | SA_ONSTACK | SA_RESTART,
	 1ULL << (SIGHUP - 1), {0, -1, -1}, LIBC},
};
#define NTABLE (sizeof table / sizeof table[0])

static struct ksigaction recorded[65];

static int raw_get(int sig, struct ksigaction *k)
{
	memset(k, 0, sizeof *k);
	return (int)syscall(SYS_rt_sigaction, sig, NULL, k, 8);
}

static int entry_sig(const struct entry *e) { return e->rt ? SIGRTMIN + e->sig : e->sig; }

static uint64_t entry_mask(const struct entry *e)
{
	uint64_t m = e->mask;
	for (int i = 0; i < 3; i++)
		if (e->rt_mask[i] >= 0)
			m |= bit(SIGRTMIN + e->rt_mask[i]);
	return m;
}

/* The raw flags the kernel must hold for an entry. */
static unsigned long entry_kflags(const struct entry *e)
{
	return e->how == LIBC ? (e->flags | SA_RESTORER) : e->flags;
}

static int setup(void)
{
	for (size_t i = 0; i < NTABLE; i++) {
		const struct entry *e = &table[i];
		int sig = entry_sig(e);
		if (e->how == LIBC) {
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_sigaction = e->handler;
			sa.sa_flags = (int)e->flags;
			uint64_t m = entry_mask(e);
			memcpy(&sa.sa_mask, &m, sizeof m); /* first word = kernel mask */
			if (sigaction(sig, &sa, NULL) != 0) {
				perror("sigaction");
				return -1;
			}
		} else {
			struct ksigaction k = {e->handler, e->flags,
					       e->how == RAW_OWN_RESTORER ? (void *)ckpt_test_restorer : NULL,
					       entry_mask(e)};
			if (syscall(SYS_rt_sigaction, sig, &k, NULL, 8) != 0) {
				perror("rt_sigaction");
				return -1;
			}
		}
	}
	return 0;
}

static void check_table(void)
{
	for (size_t i = 0; i < NTABLE; i++) {
		const struct entry *e = &table[i];
		int sig = entry_sig(e);
		const char *n = signame(sig);
		struct ksigaction k;
		if (raw_get(sig, &k) != 0) {
			FAIL("rt_sigaction %s: read failed", n);
			continue;
		}
		if (k.handler != e->handler)
			FAIL("rt_sigaction %s handler: got %p want %p", n, k.handler, e->handler);
		if (k.flags != entry_kflags(e))
			FAIL("rt_sigaction %s flags: got 0x%lx want 0x%lx", n, k.flags, entry_kflags(e));
		if (k.mask != entry_mask(e))
			FAIL("rt_sigaction %s mask: got 0x%016llx want 0x%016llx", n,
			     (unsigned long long)k.mask, (unsigned long long)entry_mask(e));
		if (e->how == RAW_OWN_RESTORER && k.restorer != (void *)ckpt_test_restorer)
			FAIL("rt_sigaction %s restorer: got %p want %p (our own)", n, k.restorer,
			     (void *)ckpt_test_restorer);
		if (e->how == RAW_NO_RESTORER && k.restorer != NULL)
			FAIL("rt_sigaction %s restorer: got %p want NULL", n, k.restorer);

		/* glibc's view: the same, through the libc structure. */
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) != 0) {
			FAIL("sigaction %s: read failed", n);
			continue;
		}
		uint64_t m;
		memcpy(&m, &sa.sa_mask, sizeof m);
		if ((void *)sa.sa_sigaction != e->handler)
			FAIL("sigaction %s handler: got %p want %p", n, (void *)sa.sa_sigaction, e->handler);
		if ((unsigned long)(unsigned)sa.sa_flags != entry_kflags(e))
			FAIL("sigaction %s flags: got 0x%x want 0x%lx", n, sa.sa_flags, entry_kflags(e));
		if (m != entry_mask(e))
			FAIL("sigaction %s mask: got 0x%016llx want 0x%016llx", n,
			     (unsigned long long)m, (unsigned long long)entry_mask(e));
	}
}

static void check_recorded(void)
{
	for (int sig = 1; sig <= 64; sig++) {
		struct ksigaction k;
		const struct ksigaction *r = &recorded[sig];
		const char *n = signame(sig);
		if (raw_get(sig, &k) != 0) {
			FAIL("rt_sigaction %s: read failed", n);
			continue;
		}
		if (k.handler != r->handler)
			FAIL("rt_sigaction %s handler: got %p want %p (as at setup)", n, k.handler, r->handler);
		if (k.flags != r->flags)
			FAIL("rt_sigaction %s flags: got 0x%lx want 0x%lx (as at setup)", n, k.flags, r->flags);
		if (k.restorer != r->restorer)
			FAIL("rt_sigaction %s restorer: got %p want %p (as at setup)", n, k.restorer, r->restorer);
		if (k.mask != r->mask)
			FAIL("rt_sigaction %s mask: got 0x%016llx want 0x%016llx (as at setup)", n,
			     (unsigned long long)k.mask, (unsigned long long)r->mask);
	}
}

/* Delivers the signals whose dispositions are installed right; a wrong
 * disposition could kill us, so each raise is guarded by the raw view. */
static int installed(int sig, void *handler, unsigned long flags)
{
	struct ksigaction k;
	return raw_get(sig, &k) == 0 && k.handler == handler && (k.flags & flags) == flags;
}

static void check_delivery(void)
{
	if (!installed(SIGUSR1, H(h_info), SA_SIGINFO | SA_RESTORER)) {
		FAIL("delivery SIGUSR1: handler not installed, not raised");
	} else {
		raise(SIGUSR1);
		uint64_t want = bit(SIGUSR1);
		for (size_t i = 0; i < NTABLE; i++)
			if (!table[i].rt && table[i].sig == SIGUSR1)
				want |= entry_mask(&table[i]);
		if (info_count != 1)
			FAIL("delivery SIGUSR1: handler ran %d times, want 1", (int)info_count);
		else if (info_signo != SIGUSR1 || info_code != SI_TKILL)
			FAIL("delivery SIGUSR1: si_signo %d si_code %d, want %d %d",
			     (int)info_signo, (int)info_code, SIGUSR1, SI_TKILL);
		else if ((info_blocked & want) != want)
			FAIL("delivery SIGUSR1: blocked in handler 0x%016llx, want all of 0x%016llx",
			     (unsigned long long)info_blocked, (unsigned long long)want);
	}

	info_count = 0;
	if (!installed(SIGSYS, H(h_info), SA_SIGINFO | SA_RESETHAND)) {
		FAIL("delivery SIGSYS: SA_RESETHAND handler not installed, not raised");
	} else {
		raise(SIGSYS);
		struct ksigaction k;
		raw_get(SIGSYS, &k);
		if (info_count != 1 || info_signo != SIGSYS)
			FAIL("delivery SIGSYS: handler ran %d times (signo %d), want once",
			     (int)info_count, (int)info_signo);
		if (k.handler != H(SIG_DFL))
			FAIL("delivery SIGSYS: handler after one delivery %p, want SIG_DFL (SA_RESETHAND)",
			     k.handler);
	}

	int rt10 = SIGRTMIN + 10;
	if (!installed(rt10, H(h_plain2), SA_RESTORER)) {
		FAIL("delivery %s: handler with own restorer not installed, not raised", signame(rt10));
	} else {
		raise(rt10); /* returns through ckpt_test_restorer */
		if (plain2_count != 1)
			FAIL("delivery %s: handler ran %d times, want 1", signame(rt10), (int)plain2_count);
	}
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!fresh) {
		if (setup() != 0)
			return 2;
		check_table(); /* the table must hold before we go on */
		if (failures) {
			fprintf(stderr, "state_sigactions: setup did not take\n");
			return 2;
		}
	}
	for (int sig = 1; sig <= 64; sig++)
		if (raw_get(sig, &recorded[sig]) != 0) {
			perror("rt_sigaction read");
			return 2;
		}
	printf("ready%s\n", fresh ? " (fresh)" : "");

	char line[64];
	if (!fgets(line, sizeof line, stdin))
		FAIL("no check line on stdin");

	check_recorded();
	check_table();
	if (!failures)
		check_delivery();
	if (failures)
		return 1;
	printf("PASS sigactions: 64 dispositions as at setup, %zu set ones exact, delivery works\n",
	       NTABLE);
	return 0;
}
