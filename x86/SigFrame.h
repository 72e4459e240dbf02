// The x86-64 rt_sigframe the kernel's rt_sigreturn consumes, built in user
// space so that a restored thread resumes with every general register, its
// signal mask and its full XSAVE state in one system call.
//
// Layout (arch/x86/include/asm/sigframe.h, uapi asm/sigcontext.h):
//   +0    pretcode (return address slot; rsp points just past it at sigreturn)
//   +8    ucontext: uc_flags, uc_link, uc_stack, uc_mcontext (sigcontext), uc_sigmask
//   +312  siginfo (128 bytes, unused by sigreturn)
//   +448  XSAVE area (64-byte aligned), fpstate points here; magic2 after it
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "x86/Registers.h"

namespace ckpt::x86 {

struct KernelStack {  // stack_t
  uint64_t ss_sp;
  int32_t ss_flags;
  int32_t pad;
  uint64_t ss_size;
};

struct KernelSigcontext {  // struct sigcontext, 64-bit
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;
  uint64_t reserved1[8];
};
static_assert(sizeof(KernelSigcontext) == 256);

struct KernelUcontext {
  uint64_t uc_flags;
  uint64_t uc_link;
  KernelStack uc_stack;
  KernelSigcontext uc_mcontext;
  uint64_t uc_sigmask;
};
static_assert(sizeof(KernelUcontext) == 304);

struct RtSigframe {
  uint64_t pretcode;
  KernelUcontext uc;
  uint8_t info[128];
};
static_assert(sizeof(RtSigframe) == 440);
static_assert(offsetof(RtSigframe, uc.uc_sigmask) == 304);

inline constexpr uint64_t kUcFpXstate = 0x1;
inline constexpr uint64_t kUcSigcontextSs = 0x2;
inline constexpr uint64_t kUcStrictRestoreSs = 0x4;
inline constexpr uint32_t kFpXstateMagic1 = 0x46505853;
inline constexpr uint32_t kFpXstateMagic2 = 0x46505845;
inline constexpr size_t kXsaveSwReservedOffset = 464;
inline constexpr size_t kXsaveHeaderOffset = 512;
inline constexpr size_t kSigframeFpOffset = 448;  // sizeof(RtSigframe) rounded up to 64

// Bytes a frame takes for an XSAVE area of `xsave_size` bytes.
inline size_t sigframe_size(size_t xsave_size) { return kSigframeFpOffset + xsave_size + 4; }

// Builds a frame without any XSAVE area (fpstate 0: rt_sigreturn resets
// the FPU state) in `out` (sizeof(RtSigframe) bytes): only for a frame
// whose way on ends in a full one that loads the thread's own state.
void build_register_frame(uint8_t* out, const UserRegs& regs, uint64_t sigmask, uint64_t pretcode,
                          const KernelStack& altstack);

// Checks an XSAVE area saved by PTRACE_GETREGSET(NT_X86_XSTATE) against
// what XRSTOR would refuse (standard format, header bits within `xfeatures`,
// MXCSR reserved bits clear). Returns "" or a one-line reason.
std::string xsave_area_problem(const uint8_t* xsave, size_t size, uint64_t xfeatures);

// Builds a frame in `out` (sigframe_size() bytes) that will sit at address
// `frame_addr` (64-byte aligned) when rt_sigreturn runs. The returned value
// is the rsp to issue rt_sigreturn with. `regs` are the registers to resume
// with (after the syscall-restart adjustment); `sigmask` the blocked set.
// `pretcode` fills the return-address slot (the address `ret` would pop);
// `altstack` is the alternate signal stack sigreturn installs (disabled if null).
uint64_t build_sigframe(uint8_t* out, uint64_t frame_addr, const UserRegs& regs, uint64_t sigmask,
                        const uint8_t* xsave, size_t xsave_size, uint64_t xfeatures, uint64_t pretcode = 0,
                        const KernelStack* altstack = nullptr);

}  // namespace ckpt::x86
