/*
 * state_rseq_cs: a thread dumped inside an rseq critical section resumes
 * at the section's abort handler after the restore, never inside the
 * section.
 *
 * The section (ra_section below, in assembly) arms glibc's rseq area with
 * its descriptor and spins. It has three ways out:
 *   - abort: the kernel (preemption, signal delivery) or the restorer sends
 *     the thread to abort_ip. The handler records r12, r13 and rsp, which the
 *     section set, and rseq_cs, which whoever aborted must have cleared;
 *   - "lost": rseq_cs no longer points at the section while the thread runs
 *     inside it. The kernel clears rseq_cs whenever it looks at the area while
 *     the thread is outside the section, as it does right after the restorer
 *     registers rseq again from its own code. A restorer that then resumes
 *     the thread at its saved rip, inside the section, lands here;
 *   - a deadline (about 1 s of TSC), the section's normal end, so that a
 *     thread nothing aborts still looks at stdin now and then.
 * After every exit the program looks for the check line without blocking and
 * re-enters the section if there is none: preemptions abort the original
 * before the dump too, which is normal and must be tolerated.
 *
 * Checked once the line arrives: no "lost" exit ever happened, at least one
 * abort did, and every abort found the section's registers and a cleared
 * rseq_cs. A restored thread that resumes inside the section is caught by
 * the first condition on this kernel; one that resumes at abort_ip with
 * broken registers by the last.
 *
 * Protocol: tests/e2e/state.sh. --fresh never enters the section (it waits
 * in read(2)), so no abort happens and the check fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define USED __attribute__((used))

enum exit_kind { EXIT_ABORT = 1, EXIT_DEADLINE = 2, EXIT_LOST = 3 };

#define R12_MAGIC 0x5eca11ab1e0c0de1ULL
#define R13_MAGIC 0xab07ab07ab07ab07ULL

/* Everything the assembly reads or writes is a global addressed rip-relative,
 * so the section needs no register from the caller. */
USED uint64_t ra_area;      /* glibc's struct rseq of this thread */
USED uint64_t ra_deadline;  /* TSC value at which the section ends normally */
USED uint64_t ra_rsp_in;    /* rsp inside the section */
USED uint64_t ra_r12, ra_r13, ra_rsp_out, ra_cs_at_abort; /* seen at abort_ip */

int ra_section(void);

/*
 * The descriptor goes to .data, not .rodata: its three addresses need
 * relocating in a PIE. The 4 bytes before abort_ip are the signature the
 * kernel checks before it jumps there; they are encoded as the operand of a
 * ud1, as glibc and librseq do, so disassembly stays in step.
 */
__asm__(
	"	.text\n"
	"	.p2align 4\n"
	"	.type ra_section, @function\n"
	"ra_section:\n"
	"	push %rbx\n"
	"	push %r12\n"
	"	push %r13\n"
	"	mov ra_area(%rip), %rbx\n"
	"	movabs $0x5eca11ab1e0c0de1, %r12\n"
	"	movabs $0xab07ab07ab07ab07, %r13\n"
	"	mov %rsp, ra_rsp_in(%rip)\n"
	"	lea ra_cs(%rip), %rcx\n"
	"	mov %rcx, 8(%rbx)\n" /* rseq->rseq_cs = &ra_cs: the section is armed */
	".Lra_start:\n"
	"	cmp %rcx, 8(%rbx)\n"
	"	jne .Lra_lost\n"
	"	rdtsc\n"
	"	shl $32, %rdx\n"
	"	or %rdx, %rax\n"
	"	cmp ra_deadline(%rip), %rax\n"
	"	jae .Lra_post_commit\n"
	"	pause\n"
	"	jmp .Lra_start\n"
	".Lra_post_commit:\n"
	"	mov $2, %eax\n"
	"	jmp .Lra_disarm\n"
	".Lra_lost:\n"
	"	mov $3, %eax\n"
	"	jmp .Lra_disarm\n"
	"	.byte 0x0f, 0xb9, 0x3d\n"
	"	.long 0x53053053\n"
	".Lra_abort:\n"
	"	mov %r12, ra_r12(%rip)\n"
	"	mov %r13, ra_r13(%rip)\n"
	"	mov %rsp, ra_rsp_out(%rip)\n"
	"	mov 8(%rbx), %rax\n"
	"	mov %rax, ra_cs_at_abort(%rip)\n"
	"	mov $1, %eax\n"
	"	jmp .Lra_out\n"
	".Lra_disarm:\n"
	"	movq $0, 8(%rbx)\n"
	".Lra_out:\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbx\n"
	"	ret\n"
	"	.size ra_section, .-ra_section\n"
	"	.pushsection .data, \"aw\"\n"
	"	.balign 32\n"
	"ra_cs:\n"
	"	.long 0, 0\n" /* version, flags */
	"	.quad .Lra_start\n"
	"	.quad .Lra_post_commit - .Lra_start\n"
	"	.quad .Lra_abort\n"
	"	.popsection\n");

static uint64_t tsc_per_second(void)
{
	struct timespec a, b, pause = {0, 20 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t t0 = __rdtsc();
	nanosleep(&pause, NULL);
	uint64_t t1 = __rdtsc();
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	return (uint64_t)((double)(t1 - t0) / s);
}

static int input_waiting(void)
{
	struct pollfd p = {.fd = 0, .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

/* One byte at a time with read(2): no stdio buffer may hide from poll()
 * whether the line has arrived. */
static int read_line(char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(0, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return n > 0 ? 0 : -1;
		if (c == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = c;
	}
	buf[n] = 0;
	return 0;
}

static void on_alarm(int sig)
{
	(void)sig; /* delivering it is what aborts the section */
}

/* A one-shot SIGALRM: its delivery aborts the section when nothing else
 * would (a plain run on an idle cpu, where the thread is never preempted). */
static void force_an_abort_soon(void)
{
	struct sigaction sa = {.sa_handler = on_alarm};
	struct itimerval it = {.it_value = {0, 5000}};
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
	int fresh = argc > 1 && strcmp(argv[1], "--fresh") == 0;
	unsigned long aborts = 0, deadlines = 0, lost = 0, bad = 0;
	char first_bad[200] = "", line[64];

	setvbuf(stdout, NULL, _IONBF, 0);
	if (__rseq_size == 0) {
		printf("FAIL glibc did not register rseq (tunable glibc.pthread.rseq=0?)\n");
		return 1;
	}
	ra_area = (uint64_t)((char *)__builtin_thread_pointer() + __rseq_offset);
	uint64_t tsc_hz = tsc_per_second();

	printf("ready rseq critical section at %p, area %#" PRIx64 "%s\n", (void *)ra_section, ra_area,
	       fresh ? " (fresh: not entered)" : "");

	int forced = 0;
	while (!fresh) {
		ra_deadline = __rdtsc() + tsc_hz;
		switch (ra_section()) {
		case EXIT_ABORT:
			aborts++;
			if (ra_r12 != R12_MAGIC || ra_r13 != R13_MAGIC || ra_rsp_out != ra_rsp_in ||
			    ra_cs_at_abort != 0) {
				if (bad++ == 0)
					snprintf(first_bad, sizeof first_bad,
						 "r12 %#" PRIx64 " r13 %#" PRIx64 " rsp %#" PRIx64
						 " (section's rsp %#" PRIx64 ") rseq_cs %#" PRIx64,
						 ra_r12, ra_r13, ra_rsp_out, ra_rsp_in, ra_cs_at_abort);
			}
			break;
		case EXIT_DEADLINE:
			deadlines++;
			break;
		default:
			lost++;
			break;
		}
		if (!input_waiting())
			continue;
		if (aborts == 0 && lost == 0 && !forced) {
			forced = 1;
			force_an_abort_soon();
			continue;
		}
		break;
	}

	if (read_line(line, sizeof line) < 0)
		return 2;
	int failed = 0;
	if (lost) {
		printf("FAIL the thread ran inside its rseq critical section with rseq_cs no longer pointing at it "
		       "(%lu times): it was resumed inside the section instead of at abort_ip\n",
		       lost);
		failed = 1;
	}
	if (aborts == 0) {
		printf("FAIL the rseq critical section was never aborted\n");
		failed = 1;
	}
	if (bad) {
		printf("FAIL %lu of %lu aborts found the section's state changed; first: %s (expected r12 %#llx "
		       "r13 %#llx, the section's rsp, rseq_cs 0)\n",
		       bad, aborts, first_bad, (unsigned long long)R12_MAGIC, (unsigned long long)R13_MAGIC);
		failed = 1;
	}
	if (failed)
		return 1;
	printf("PASS rseq critical section left only through abort_ip (%lu aborts, registers kept, rseq_cs "
	       "cleared; %lu deadline exits)\n",
	       aborts, deadlines);
	return 0;
}
