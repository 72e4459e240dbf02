// Raw system calls for code that runs without libc (the trampoline) or must
// not go through it (rseq, modify_ldt). Each returns the kernel's raw value:
// a negative errno on failure, checked by the caller at once.
#pragma once

#include <asm/unistd.h>

namespace ckpt::x86 {

__attribute__((always_inline)) static inline long syscall0(long n) {
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(n) : "rcx", "r11", "memory");
  return ret;
}
__attribute__((always_inline)) static inline long syscall1(long n, long a) {
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a) : "rcx", "r11", "memory");
  return ret;
}
__attribute__((always_inline)) static inline long syscall2(long n, long a, long b) {
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return ret;
}
__attribute__((always_inline)) static inline long syscall3(long n, long a, long b, long c) {
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}
__attribute__((always_inline)) static inline long syscall4(long n, long a, long b, long c, long d) {
  long ret;
  register long r10 asm("r10") = d;
  asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return ret;
}
__attribute__((always_inline)) static inline long syscall5(long n, long a, long b, long c, long d, long e) {
  long ret;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}
__attribute__((always_inline)) static inline long syscall6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  register long r9 asm("r9") = f;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}

// Blocks every signal the kernel lets a thread block, all 64 bits, with the
// raw call: glibc's sigfillset/sigprocmask leave its internal signals 32
// and 33 unblocked. `old` (if not null) receives the previous mask.
__attribute__((always_inline)) static inline long block_all_signals(unsigned long* old = nullptr) {
  unsigned long all = ~0ul;
  return syscall4(__NR_rt_sigprocmask, 2 /* SIG_SETMASK */, long(&all), long(old), 8);
}

// Puts back a mask saved by block_all_signals.
__attribute__((always_inline)) static inline long set_signal_mask(unsigned long mask) {
  return syscall4(__NR_rt_sigprocmask, 2 /* SIG_SETMASK */, long(&mask), 0, 8);
}

}  // namespace ckpt::x86
