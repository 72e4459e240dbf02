/*
 * xsave_regs: proves that a checkpoint/restore keeps the whole register file.
 *
 * Protocol (driven by an end-to-end test):
 *   1. Fills every register it can with a distinct known pattern: zmm0-31 and
 *      k0-7 with AVX-512 (else ymm0-15 with AVX, else xmm0-15), the eight x87
 *      registers (full 80 bits), a non-default x87 control word and MXCSR, and
 *      the general registers a syscall leaves alone.
 *   2. Writes "ready\n" to fd 1, then blocks in read(0, &byte, 1). The dump
 *      is taken here.
 *   3. When a line arrives, stores every register back and prints
 *      "PASS <what was checked>" (exit 0) or one "FAIL <register> ..." line
 *      per difference (exit 1).
 *
 * Steps 1-3 are one asm block so the compiler can neither use those
 * registers nor spill them; only rax, rcx and r11 are given up, to the
 * syscalls. Nothing is loaded before main, so glibc's start-up is untouched.
 *
 * Options:
 *   --self-test-fail  flip one bit of vector register 5 after the read, so a
 *                     test can prove the checker notices a difference.
 *   --limit=avx|sse   check the smaller register set even on a bigger CPU,
 *                     to exercise the fallback paths.
 *
 * Build: gcc -O1 -g -o xsave_regs xsave_regs.c (no -m flags: the asm uses
 * mnemonics, which gas accepts whatever the compiler targets).
 */
#include <cpuid.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum mode { MODE_SSE, MODE_AVX, MODE_AVX512 };

/*
 * Everything the asm touches lives in globals addressed by name (rip-relative),
 * which leaves no base register to protect across the syscall.
 */
#define USED __attribute__((used))
USED __attribute__((aligned(64))) uint64_t xr_vec_in[32][8];
USED __attribute__((aligned(64))) uint64_t xr_vec_out[32][8];
USED __attribute__((aligned(64))) uint64_t xr_flip[8];
USED uint64_t xr_k_in[8], xr_k_out[8];
USED unsigned char xr_have_bw; /* kmovq needs AVX512BW; else kmovw */
USED __attribute__((aligned(16))) unsigned char xr_x87_in[8][16], xr_x87_out[8][16];
USED uint16_t xr_fcw_in, xr_fcw_orig, xr_fsw_before;
USED uint32_t xr_mxcsr_in, xr_mxcsr_out, xr_mxcsr_orig;
USED unsigned char xr_fenv_after[28];
/* rbx rbp r8 r9 r10 r12 r13 r14 r15: what the kernel must keep for us. */
USED uint64_t xr_gpr_in[9], xr_gpr_out[9];
/* rax rdi rsi rdx right after read() returns: result and its arguments. */
USED uint64_t xr_sys_out[4];
USED uint64_t xr_rbp_saved;
USED int64_t xr_write_ret;
USED char xr_ready[] = "ready\n";
USED char xr_byte;

static const char *const gpr_names[9] = {"rbx", "rbp", "r8", "r9", "r10", "r12", "r13", "r14", "r15"};

/* x87 tag word with all eight registers holding valid (normal) numbers. */
#define FTW_ALL_VALID 0x0000
/* Exceptions masked, double precision, round down: all non-default. */
#define FCW_PATTERN 0x067f
/* Exceptions masked, DAZ, round toward zero, FTZ. */
#define MXCSR_PATTERN 0xffc0

#define IRP8 "0,1,2,3,4,5,6,7"
#define IRP16 IRP8 ",8,9,10,11,12,13,14,15"
#define IRP32 IRP16 ",16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31"

#define ASM_SAVE_CALLER_STATE \
    "stmxcsr xr_mxcsr_orig(%%rip)\n\t" \
    "fnstcw xr_fcw_orig(%%rip)\n\t" \
    "mov %%rbp, xr_rbp_saved(%%rip)\n\t"

#define ASM_LOAD_X87_AND_CONTROL \
    "fninit\n\t" \
    ".irp i," IRP8 "\n\t fldt xr_x87_in+16*\\i(%%rip)\n\t .endr\n\t" \
    "fldcw xr_fcw_in(%%rip)\n\t" \
    "ldmxcsr xr_mxcsr_in(%%rip)\n\t" \
    "fnstsw xr_fsw_before(%%rip)\n\t"

#define ASM_WRITE_READY \
    "mov $1, %%eax\n\t" \
    "mov $1, %%edi\n\t" \
    "lea xr_ready(%%rip), %%rsi\n\t" \
    "mov $6, %%edx\n\t" \
    "syscall\n\t" \
    "mov %%rax, xr_write_ret(%%rip)\n\t"

#define ASM_LOAD_GPRS \
    "mov xr_gpr_in+0(%%rip), %%rbx\n\t" \
    "mov xr_gpr_in+8(%%rip), %%rbp\n\t" \
    "mov xr_gpr_in+16(%%rip), %%r8\n\t" \
    "mov xr_gpr_in+24(%%rip), %%r9\n\t" \
    "mov xr_gpr_in+32(%%rip), %%r10\n\t" \
    "mov xr_gpr_in+40(%%rip), %%r12\n\t" \
    "mov xr_gpr_in+48(%%rip), %%r13\n\t" \
    "mov xr_gpr_in+56(%%rip), %%r14\n\t" \
    "mov xr_gpr_in+64(%%rip), %%r15\n\t"

/* The checkpoint happens inside this read. */
#define ASM_BLOCKING_READ \
    "xor %%eax, %%eax\n\t" \
    "xor %%edi, %%edi\n\t" \
    "lea xr_byte(%%rip), %%rsi\n\t" \
    "mov $1, %%edx\n\t" \
    "syscall\n\t"

#define ASM_STORE_GPRS \
    "mov %%rax, xr_sys_out+0(%%rip)\n\t" \
    "mov %%rdi, xr_sys_out+8(%%rip)\n\t" \
    "mov %%rsi, xr_sys_out+16(%%rip)\n\t" \
    "mov %%rdx, xr_sys_out+24(%%rip)\n\t" \
    "mov %%rbx, xr_gpr_out+0(%%rip)\n\t" \
    "mov %%rbp, xr_gpr_out+8(%%rip)\n\t" \
    "mov %%r8, xr_gpr_out+16(%%rip)\n\t" \
    "mov %%r9, xr_gpr_out+24(%%rip)\n\t" \
    "mov %%r10, xr_gpr_out+32(%%rip)\n\t" \
    "mov %%r12, xr_gpr_out+40(%%rip)\n\t" \
    "mov %%r13, xr_gpr_out+48(%%rip)\n\t" \
    "mov %%r14, xr_gpr_out+56(%%rip)\n\t" \
    "mov %%r15, xr_gpr_out+64(%%rip)\n\t" \
    "mov xr_rbp_saved(%%rip), %%rbp\n\t"

/*
 * fnstenv before popping, so the tag word still shows eight full registers;
 * popping st(0) first means slot i receives what was loaded from slot i.
 */
#define ASM_STORE_X87_AND_CONTROL \
    "fnstenv xr_fenv_after(%%rip)\n\t" \
    ".irp i,7,6,5,4,3,2,1,0\n\t fstpt xr_x87_out+16*\\i(%%rip)\n\t .endr\n\t" \
    "stmxcsr xr_mxcsr_out(%%rip)\n\t" \
    "ldmxcsr xr_mxcsr_orig(%%rip)\n\t" \
    "fldcw xr_fcw_orig(%%rip)\n\t"

#define CLOBBERS_COMMON \
    "rax", "rbx", "rcx", "rdx", "rdi", "rsi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", \
    "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)", \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", \
    "memory", "cc"

/*
 * The target attribute only lets the clobber list name k0-7 and xmm16-31
 * (GCC refuses them otherwise); the body is asm, so no compiler-generated
 * AVX-512 code can run on a CPU without it.
 */
__attribute__((target("avx512f"))) static void run_avx512(void)
{
    asm volatile(
        ASM_SAVE_CALLER_STATE
        ".irp i," IRP32 "\n\t vmovdqu64 xr_vec_in+64*\\i(%%rip), %%zmm\\i\n\t .endr\n\t"
        "cmpb $0, xr_have_bw(%%rip)\n\t"
        "je 1f\n\t"
        ".irp i," IRP8 "\n\t kmovq xr_k_in+8*\\i(%%rip), %%k\\i\n\t .endr\n\t"
        "jmp 2f\n"
        "1:\n\t"
        ".irp i," IRP8 "\n\t kmovw xr_k_in+8*\\i(%%rip), %%k\\i\n\t .endr\n"
        "2:\n\t"
        ASM_LOAD_X87_AND_CONTROL
        ASM_WRITE_READY
        ASM_LOAD_GPRS
        ASM_BLOCKING_READ
        ASM_STORE_GPRS
        "vpxorq xr_flip(%%rip), %%zmm5, %%zmm5\n\t"
        ".irp i," IRP32 "\n\t vmovdqu64 %%zmm\\i, xr_vec_out+64*\\i(%%rip)\n\t .endr\n\t"
        "cmpb $0, xr_have_bw(%%rip)\n\t"
        "je 3f\n\t"
        ".irp i," IRP8 "\n\t kmovq %%k\\i, xr_k_out+8*\\i(%%rip)\n\t .endr\n\t"
        "jmp 4f\n"
        "3:\n\t"
        ".irp i," IRP8 "\n\t kmovw %%k\\i, xr_k_out+8*\\i(%%rip)\n\t .endr\n"
        "4:\n\t"
        ASM_STORE_X87_AND_CONTROL
        "vzeroupper\n\t"
        :
        :
        : CLOBBERS_COMMON,
          "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
          "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
          "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7");
}

static void run_avx(void)
{
    asm volatile(
        ASM_SAVE_CALLER_STATE
        ".irp i," IRP16 "\n\t vmovdqu xr_vec_in+64*\\i(%%rip), %%ymm\\i\n\t .endr\n\t"
        ASM_LOAD_X87_AND_CONTROL
        ASM_WRITE_READY
        ASM_LOAD_GPRS
        ASM_BLOCKING_READ
        ASM_STORE_GPRS
        "vpxor xr_flip(%%rip), %%ymm5, %%ymm5\n\t"
        ".irp i," IRP16 "\n\t vmovdqu %%ymm\\i, xr_vec_out+64*\\i(%%rip)\n\t .endr\n\t"
        ASM_STORE_X87_AND_CONTROL
        "vzeroupper\n\t"
        :
        :
        : CLOBBERS_COMMON);
}

static void run_sse(void)
{
    asm volatile(
        ASM_SAVE_CALLER_STATE
        ".irp i," IRP16 "\n\t movdqu xr_vec_in+64*\\i(%%rip), %%xmm\\i\n\t .endr\n\t"
        ASM_LOAD_X87_AND_CONTROL
        ASM_WRITE_READY
        ASM_LOAD_GPRS
        ASM_BLOCKING_READ
        ASM_STORE_GPRS
        "pxor xr_flip(%%rip), %%xmm5\n\t"
        ".irp i," IRP16 "\n\t movdqu %%xmm\\i, xr_vec_out+64*\\i(%%rip)\n\t .endr\n\t"
        ASM_STORE_X87_AND_CONTROL
        :
        :
        : CLOBBERS_COMMON);
}

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* "OS-enabled" matters, not just CPUID: the kernel must save the state. */
static enum mode detect_mode(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return MODE_SSE;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return MODE_SSE;
    const uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return MODE_SSE;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return MODE_AVX;
    const int avx512f = (b >> 16) & 1;
    xr_have_bw = (b >> 30) & 1;
    if (!avx512f || (xcr0 & 0xe6) != 0xe6) return MODE_AVX;
    return MODE_AVX512;
}

static void fill_patterns(enum mode mode)
{
    /* Multiplying by an odd constant is a bijection, so every lane differs. */
    for (int r = 0; r < 32; r++)
        for (int l = 0; l < 8; l++)
            xr_vec_in[r][l] = 0x9e3779b97f4a7c15ULL * (uint64_t)(r * 8 + l + 1);
    for (int i = 0; i < 8; i++) {
        xr_k_in[i] = 0xa5c3000000000000ULL ^ (0x0f0e0d0c0b0a0908ULL * (uint64_t)(i + 1));
        if (mode == MODE_AVX512 && !xr_have_bw) xr_k_in[i] &= 0xffff;
    }
    /* Normal 80-bit numbers (explicit integer bit set), distinct exponents. */
    for (int i = 0; i < 8; i++) {
        const uint64_t mantissa = 0x8000000000000000ULL | (0x0123456789abcdefULL * (uint64_t)(i + 3));
        const uint16_t sign_exp = (uint16_t)(((i & 1) << 15) | (0x3fff - 20 + 5 * i));
        memcpy(xr_x87_in[i], &mantissa, 8);
        memcpy(xr_x87_in[i] + 8, &sign_exp, 2);
    }
    for (int i = 0; i < 9; i++) xr_gpr_in[i] = 0xc0ffee0000000000ULL | ((uint64_t)(i + 1) << 32) | (0x1111u * (i + 1));
    xr_fcw_in = FCW_PATTERN;
    xr_mxcsr_in = MXCSR_PATTERN;
}

static int failures;

static void fail(const char *name, int index, const char *detail)
{
    printf("FAIL %s", name);
    if (index >= 0) printf("%d", index);
    printf("%s\n", detail);
    failures++;
}

static void check_u64(const char *name, int index, uint64_t got, uint64_t want)
{
    if (got == want) return;
    char detail[96];
    snprintf(detail, sizeof detail, ": got 0x%016" PRIx64 " want 0x%016" PRIx64, got, want);
    fail(name, index, detail);
}

static void check_results(enum mode mode)
{
    const int nregs = mode == MODE_AVX512 ? 32 : 16;
    const int nlanes = mode == MODE_AVX512 ? 8 : mode == MODE_AVX ? 4 : 2;
    const char *vec = mode == MODE_AVX512 ? "zmm" : mode == MODE_AVX ? "ymm" : "xmm";

    if (xr_write_ret != 6) printf("FAIL write(\"ready\") returned %" PRId64 "\n", xr_write_ret), failures++;

    for (int r = 0; r < nregs; r++)
        for (int l = 0; l < nlanes; l++)
            if (xr_vec_out[r][l] != xr_vec_in[r][l]) {
                printf("FAIL %s%d lane %d: got 0x%016" PRIx64 " want 0x%016" PRIx64 "\n", vec, r, l,
                       xr_vec_out[r][l], xr_vec_in[r][l]);
                failures++;
            }
    if (mode == MODE_AVX512)
        for (int i = 0; i < 8; i++) check_u64("k", i, xr_k_out[i], xr_k_in[i]);

    for (int i = 0; i < 8; i++)
        if (memcmp(xr_x87_out[i], xr_x87_in[i], 10) != 0) {
            uint64_t gm, wm;
            uint16_t ge, we;
            memcpy(&gm, xr_x87_out[i], 8), memcpy(&ge, xr_x87_out[i] + 8, 2);
            memcpy(&wm, xr_x87_in[i], 8), memcpy(&we, xr_x87_in[i] + 8, 2);
            /* Slot i was loaded i-th, so it sat in st(7 - i) while blocked. */
            printf("FAIL st(%d): got %04x:%016" PRIx64 " want %04x:%016" PRIx64 "\n", 7 - i, ge, gm, we, wm);
            failures++;
        }
    uint16_t fcw, fsw, ftw;
    memcpy(&fcw, xr_fenv_after + 0, 2);
    memcpy(&fsw, xr_fenv_after + 4, 2);
    memcpy(&ftw, xr_fenv_after + 8, 2);
    check_u64("x87 control word", -1, fcw, FCW_PATTERN);
    check_u64("x87 status word", -1, fsw, xr_fsw_before);
    check_u64("x87 tag word", -1, ftw, FTW_ALL_VALID);
    check_u64("mxcsr", -1, xr_mxcsr_out, xr_mxcsr_in);

    for (int i = 0; i < 9; i++) check_u64(gpr_names[i], -1, xr_gpr_out[i], xr_gpr_in[i]);
    check_u64("rax (read result)", -1, xr_sys_out[0], 1);
    check_u64("rdi", -1, xr_sys_out[1], 0);
    check_u64("rsi", -1, xr_sys_out[2], (uint64_t)(uintptr_t)&xr_byte);
    check_u64("rdx", -1, xr_sys_out[3], 1);

    if (failures) return;
    if (mode == MODE_AVX512)
        printf("PASS avx512 zmm0-31 k0-7%s x87 mxcsr gpr\n", xr_have_bw ? "" : "(16-bit)");
    else
        printf("PASS %s %s0-15 x87 mxcsr gpr\n", mode == MODE_AVX ? "avx" : "sse", vec);
}

int main(int argc, char **argv)
{
    enum mode mode = detect_mode();
    int self_test_fail = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--self-test-fail") == 0)
            self_test_fail = 1;
        else if (strcmp(argv[i], "--limit=avx") == 0 && mode > MODE_AVX)
            mode = MODE_AVX;
        else if (strcmp(argv[i], "--limit=sse") == 0)
            mode = MODE_SSE;
        else if (strncmp(argv[i], "--limit=", 8) != 0) {
            fprintf(stderr, "usage: %s [--self-test-fail] [--limit=avx|sse]\n", argv[0]);
            return 2;
        }
    }
    fill_patterns(mode);
    /* One bit in lane 1: inside the xmm part, so every mode sees it. */
    if (self_test_fail) xr_flip[1] = 1ULL << 17;
    fflush(stdout);

    if (mode == MODE_AVX512)
        run_avx512();
    else if (mode == MODE_AVX)
        run_avx();
    else
        run_sse();

    check_results(mode);
    return failures ? 1 : 0;
}
