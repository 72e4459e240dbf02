// The batch code itself, assembled into ckpt's read-only data and copied
// into the tracee by RemoteSyscall::call_batch (layout in InjectedBatch.h).
#include "x86/InjectedBatch.h"

extern "C" const uint8_t ckpt_batch_code_start[] __attribute__((visibility("hidden")));
extern "C" const uint8_t ckpt_batch_code_end[] __attribute__((visibility("hidden")));

extern "C" const uint8_t ckpt_batch_tail[] __attribute__((visibility("hidden")));

// Offsets into Header (InjectedBatch.h): done 0, pollfd 8, timespec 16,
// frame 32, dumper 48.
asm(R"(
    .pushsection .rodata.ckpt_batch_code, "a"
    .globl ckpt_batch_code_start, ckpt_batch_code_end, ckpt_batch_tail
    .hidden ckpt_batch_code_start, ckpt_batch_code_end, ckpt_batch_tail
ckpt_batch_code_start:
    # The first batch opens the dumper's pidfd: pidfd_open(dumper, 0).
    cmpl $-1, 8(%r13)
    jne 1f
    mov 48(%r13), %edi
    test %edi, %edi
    jz 1f
    mov $434, %eax
    xor %esi, %esi
    syscall
    test %eax, %eax
    jns 0f
    # ESRCH: the dumper is gone already (it died before the thread got
    # here): straight to the tail. Else go on, waiting only briefly.
    cmp $-3, %eax
    je ckpt_batch_tail
    movq $2, 16(%r13)
    jmp 1f
0:  mov %eax, 8(%r13)
1:  test %r12, %r12
    jz 2f
    mov (%rbx), %rax
    mov 8(%rbx), %rdi
    mov 16(%rbx), %rsi
    mov 24(%rbx), %rdx
    mov 32(%rbx), %r10
    mov 40(%rbx), %r8
    mov 48(%rbx), %r9
    syscall
    mov %rax, 56(%rbx)
    add $64, %rbx
    dec %r12
    jmp 1b
2:  movq $1, (%r13)
    # ppoll(&pollfd, 1, &timeout, NULL, 8): the tracer interrupts it here;
    # it returns by itself only once the dumper is gone or the time is up.
    mov $271, %eax
    lea 8(%r13), %rdi
    mov $1, %esi
    lea 16(%r13), %rdx
    xor %r10d, %r10d
    mov $8, %r8d
    syscall
ckpt_batch_tail:
    mov 8(%r13), %edi
    test %edi, %edi
    js 3f
    mov $3, %eax
    syscall
    movl $-1, 8(%r13)
3:  mov $11, %eax
    mov %r15, %rdi
    mov %rbp, %rsi
    mov 32(%r13), %rsp
    jmp *%r14
ckpt_batch_code_end:
    .popsection
)");

namespace ckpt::x86::batch {

const uint8_t* code() { return ckpt_batch_code_start; }
size_t code_size() { return size_t(ckpt_batch_code_end - ckpt_batch_code_start); }
size_t tail_offset() { return size_t(ckpt_batch_tail - ckpt_batch_code_start); }

}  // namespace ckpt::x86::batch
