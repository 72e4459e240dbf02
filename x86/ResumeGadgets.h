// The two instruction sequences, taken from the restored process's own code,
// that let the trampoline leave no trace: it cannot unmap the page it runs
// from, so its last act is to jump to a "syscall; ret" sequence with
// rax = munmap of its home, whose `ret` pops the address of a
// "mov $15, %rax; syscall" sequence (glibc's __restore_rt) from the
// pretcode slot of the signal frame, which then resumes the thread through
// rt_sigreturn. Found at dump time; checked byte for byte before restoring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ckpt::x86 {

// `syscall; ret`, and glibc's wrapper tail `syscall; cmp $-4095, %rax; jae +1; ret`
// (with rax = 0 after munmap the jump is not taken).
inline constexpr uint8_t kSyscallRet[] = {0x0f, 0x05, 0xc3};
inline constexpr uint8_t kSyscallCmpRet[] = {0x0f, 0x05, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x73, 0x01, 0xc3};
// `mov $15, %rax; syscall` (rt_sigreturn).
inline constexpr uint8_t kSigreturn[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};

inline bool is_syscall_gadget(const uint8_t* p, size_t avail) {
  return (avail >= sizeof kSyscallRet && std::memcmp(p, kSyscallRet, sizeof kSyscallRet) == 0) ||
         (avail >= sizeof kSyscallCmpRet && std::memcmp(p, kSyscallCmpRet, sizeof kSyscallCmpRet) == 0);
}
inline bool is_sigreturn_gadget(const uint8_t* p, size_t avail) {
  return avail >= sizeof kSigreturn && std::memcmp(p, kSigreturn, sizeof kSigreturn) == 0;
}
// Bytes to read at a gadget address to check it.
inline constexpr size_t kGadgetMaxBytes = sizeof kSyscallCmpRet;

struct GadgetScan {
  uint64_t syscall = 0, sigreturn = 0;  // 0: not found
  // The strict `syscall; ret` form only, for syscall injection's safety
  // frame (x86/RemoteSyscall.h): after a failed call the longer form jumps
  // into the C library's errno code instead of returning.
  uint64_t syscall_ret = 0;
  bool complete() const { return syscall && sigreturn && syscall_ret; }
};

// Scans code bytes that sit at address `base`, keeping the first hits. Only
// gadgets that start in the first `starts` bytes count; the rest of `size`
// is there to check a gadget that starts just before that limit.
inline void scan_gadgets(const uint8_t* code, size_t size, uint64_t base, GadgetScan& found,
                         size_t starts = SIZE_MAX) {
  for (size_t i = 0; i < starts && i + 2 <= size && !found.complete(); ++i) {
    if (!found.syscall && code[i] == 0x0f && is_syscall_gadget(code + i, size - i)) found.syscall = base + i;
    if (!found.syscall_ret && code[i] == 0x0f && size - i >= sizeof kSyscallRet &&
        std::memcmp(code + i, kSyscallRet, sizeof kSyscallRet) == 0)
      found.syscall_ret = base + i;
    if (!found.sigreturn && code[i] == 0x48 && is_sigreturn_gadget(code + i, size - i)) found.sigreturn = base + i;
  }
}

}  // namespace ckpt::x86
