// rt_sigframe construction (see SigFrame.h).
#include "x86/SigFrame.h"

#include <signal.h>

#include <cstring>

namespace ckpt::x86 {

std::string xsave_area_problem(const uint8_t* xsave, size_t size, uint64_t xfeatures) {
  if (size < kXsaveHeaderOffset + 64) return "XSAVE area is shorter than its legacy part and header";
  uint32_t mxcsr;
  std::memcpy(&mxcsr, xsave + 24, 4);
  if (mxcsr & 0xffff0000u) return "XSAVE area has reserved MXCSR bits set";
  uint64_t xstate_bv, xcomp_bv;
  std::memcpy(&xstate_bv, xsave + kXsaveHeaderOffset, 8);
  std::memcpy(&xcomp_bv, xsave + kXsaveHeaderOffset + 8, 8);
  if (xcomp_bv != 0) return "XSAVE area is in compacted format";
  if (xstate_bv & ~xfeatures) return "XSAVE header names components outside the saved feature set";
  for (size_t i = 16; i < 64; ++i)
    if (xsave[kXsaveHeaderOffset + i]) return "XSAVE header has reserved bytes set";
  return "";
}

// The frame's registers, mask and alternate stack; fpstate left 0.
static RtSigframe register_frame(const UserRegs& r, uint64_t sigmask, uint64_t pretcode, const KernelStack* altstack) {
  RtSigframe f{};
  f.pretcode = pretcode;
  f.uc.uc_flags = kUcSigcontextSs | kUcStrictRestoreSs;
  if (altstack) f.uc.uc_stack = *altstack;
  else f.uc.uc_stack.ss_flags = SS_DISABLE;
  KernelSigcontext& sc = f.uc.uc_mcontext;
  sc.r8 = r.r8, sc.r9 = r.r9, sc.r10 = r.r10, sc.r11 = r.r11;
  sc.r12 = r.r12, sc.r13 = r.r13, sc.r14 = r.r14, sc.r15 = r.r15;
  sc.rdi = r.rdi, sc.rsi = r.rsi, sc.rbp = r.rbp, sc.rbx = r.rbx;
  sc.rdx = r.rdx, sc.rax = r.rax, sc.rcx = r.rcx, sc.rsp = r.rsp;
  sc.rip = r.rip, sc.eflags = r.eflags;
  sc.cs = kUserCs;
  sc.ss = kUserDs;
  f.uc.uc_sigmask = sigmask;
  return f;
}

void build_register_frame(uint8_t* out, const UserRegs& regs, uint64_t sigmask, uint64_t pretcode,
                          const KernelStack& altstack) {
  const RtSigframe f = register_frame(regs, sigmask, pretcode, &altstack);
  std::memcpy(out, &f, sizeof f);
}

uint64_t build_sigframe(uint8_t* out, uint64_t frame_addr, const UserRegs& r, uint64_t sigmask, const uint8_t* xsave,
                        size_t xsave_size, uint64_t xfeatures, uint64_t pretcode, const KernelStack* altstack) {
  std::memset(out, 0, sigframe_size(xsave_size));
  RtSigframe f = register_frame(r, sigmask, pretcode, altstack);
  f.uc.uc_flags |= kUcFpXstate;
  f.uc.uc_mcontext.fpstate = frame_addr + kSigframeFpOffset;
  std::memcpy(out, &f, sizeof f);

  uint8_t* fp = out + kSigframeFpOffset;
  std::memcpy(fp, xsave, xsave_size);
  // The header may name only components of `xfeatures` (the caller has
  // checked that no component left out holds state).
  uint64_t xstate_bv;
  std::memcpy(&xstate_bv, fp + kXsaveHeaderOffset, 8);
  xstate_bv &= xfeatures;
  std::memcpy(fp + kXsaveHeaderOffset, &xstate_bv, 8);
  // The software-reserved bytes tell sigreturn this is a full XSAVE image;
  // without them only the legacy FXSAVE part would be loaded.
  struct {
    uint32_t magic1, extended_size;
    uint64_t xfeatures;
    uint32_t xstate_size, padding[7];
  } sw{kFpXstateMagic1, uint32_t(xsave_size + 4), xfeatures, uint32_t(xsave_size), {}};
  static_assert(sizeof sw == 48);
  std::memcpy(fp + kXsaveSwReservedOffset, &sw, sizeof sw);
  uint32_t magic2 = kFpXstateMagic2;
  std::memcpy(fp + xsave_size, &magic2, 4);
  return frame_addr + 8;
}

}  // namespace ckpt::x86
