// The rt_sigframe a restored thread resumes through (x86/SigFrame.h): the
// layout is the kernel's, every register lands where sigcontext keeps it,
// the XSAVE area is framed so that sigreturn loads all of it, bad XSAVE
// areas are named before they reach XRSTOR; and the kernel really consumes
// a frame built from this process's own state.
#include <doctest/doctest.h>

#include <cpuid.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "x86/Cpu.h"
#include "x86/Registers.h"
#include "x86/SigFrame.h"

using namespace ckpt::x86;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

// Distinct values in every register.
UserRegs sample_regs() {
  UserRegs r;
  std::memset(&r, 0, sizeof r);
  r.r15 = 0x0f0f0f0f0f0f0f15, r.r14 = 0x0e0e0e0e0e0e0e14, r.r13 = 0x0d0d0d0d0d0d0d13, r.r12 = 0x0c0c0c0c0c0c0c12;
  r.rbp = 0x7ffd0000b0b0, r.rbx = 0x0b0b0b0b0b0b0b0b, r.r11 = 0x0000000000000246, r.r10 = 0x0a0a0a0a0a0a0a10;
  r.r9 = 0x0909090909090909, r.r8 = 0x0808080808080808, r.rax = 0xaaaaaaaaaaaaaaaa, r.rcx = 0xcccccccccccccccc;
  r.rdx = 0xdddddddddddddddd, r.rsi = 0x5151515151515151, r.rdi = 0xd1d1d1d1d1d1d1d1;
  r.orig_rax = uint64_t(-1);
  r.rip = 0x0000555555556789, r.cs = 0x33, r.eflags = 0x0000000000000a97, r.rsp = 0x00007ffd0000a008;
  r.ss = 0x2b, r.fs_base = 0x7f0000001740, r.gs_base = 0x1234;
  return r;
}

// A sane standard-format area: x87/SSE/AVX in use, MXCSR at its default.
std::vector<uint8_t> sane_xsave(size_t size = 2432, uint64_t xstate_bv = 0x7) {
  std::vector<uint8_t> x(size, 0);
  for (size_t i = 160; i < 416; ++i) x[i] = uint8_t(i);  // xmm0..15
  for (size_t i = 576; i < size; ++i) x[i] = uint8_t(i * 3);
  store<uint16_t>(&x[0], 0x037f);     // FCW
  store<uint32_t>(&x[24], 0x1f80);    // MXCSR
  store<uint32_t>(&x[28], 0xffff);    // MXCSR_MASK
  store<uint64_t>(&x[512], xstate_bv);
  return x;
}

}  // namespace

// ================================================================ layout

TEST_CASE("sigframe: the structs have the kernel's rt_sigframe layout") {
  CHECK(offsetof(RtSigframe, pretcode) == 0);
  CHECK(offsetof(RtSigframe, uc) == 8);
  CHECK(offsetof(KernelUcontext, uc_mcontext) == 40);
  CHECK(offsetof(RtSigframe, uc.uc_mcontext) == 8 + 40);
  CHECK(offsetof(RtSigframe, uc.uc_stack) == 8 + 16);
  CHECK(offsetof(RtSigframe, uc.uc_mcontext.rip) == 8 + 40 + 16 * 8);
  CHECK(offsetof(RtSigframe, uc.uc_mcontext.eflags) == 8 + 40 + 17 * 8);
  CHECK(offsetof(RtSigframe, uc.uc_mcontext.fpstate) == 8 + 40 + 184);
  CHECK(offsetof(RtSigframe, uc.uc_sigmask) == 304);
  CHECK(offsetof(RtSigframe, info) == 312);
  CHECK(sizeof(RtSigframe) == 440);
  CHECK(sizeof(KernelStack) == 24);
  CHECK(kSigframeFpOffset == 448);
  CHECK(kSigframeFpOffset % 64 == 0);
  CHECK(kSigframeFpOffset >= sizeof(RtSigframe));
  CHECK(sigframe_size(2432) == 448 + 2432 + 4);
}

TEST_CASE("sigframe: sigcontext matches the C library's struct sigcontext") {
  using G = struct ::sigcontext;
  CHECK(sizeof(KernelSigcontext) == sizeof(G));
  CHECK(offsetof(KernelSigcontext, r8) == offsetof(G, r8));
  CHECK(offsetof(KernelSigcontext, r15) == offsetof(G, r15));
  CHECK(offsetof(KernelSigcontext, rdi) == offsetof(G, rdi));
  CHECK(offsetof(KernelSigcontext, rsi) == offsetof(G, rsi));
  CHECK(offsetof(KernelSigcontext, rbp) == offsetof(G, rbp));
  CHECK(offsetof(KernelSigcontext, rbx) == offsetof(G, rbx));
  CHECK(offsetof(KernelSigcontext, rdx) == offsetof(G, rdx));
  CHECK(offsetof(KernelSigcontext, rax) == offsetof(G, rax));
  CHECK(offsetof(KernelSigcontext, rcx) == offsetof(G, rcx));
  CHECK(offsetof(KernelSigcontext, rsp) == offsetof(G, rsp));
  CHECK(offsetof(KernelSigcontext, rip) == offsetof(G, rip));
  CHECK(offsetof(KernelSigcontext, eflags) == offsetof(G, eflags));
  CHECK(offsetof(KernelSigcontext, cs) == offsetof(G, cs));
  CHECK(offsetof(KernelSigcontext, gs) == offsetof(G, gs));
  CHECK(offsetof(KernelSigcontext, fs) == offsetof(G, fs));
  CHECK(offsetof(KernelSigcontext, ss) == offsetof(G, __pad0));  // the kernel's ss, glibc's padding
  CHECK(offsetof(KernelSigcontext, err) == offsetof(G, err));
  CHECK(offsetof(KernelSigcontext, cr2) == offsetof(G, cr2));
  CHECK(offsetof(KernelSigcontext, fpstate) == offsetof(G, fpstate));
  CHECK(kFpXstateMagic1 == FP_XSTATE_MAGIC1);
  CHECK(kFpXstateMagic2 == FP_XSTATE_MAGIC2);
  // sw_reserved is the last 48 bytes of the legacy area's padding.
  CHECK(sizeof(struct _fpstate) == 512);
  CHECK(kXsaveSwReservedOffset == offsetof(struct _fpstate, __glibc_reserved1) + 12 * 4);
}

// ================================================================ build_sigframe

TEST_CASE("sigframe: build_sigframe puts every register where sigcontext wants it") {
  const UserRegs r = sample_regs();
  const std::vector<uint8_t> xsave = sane_xsave();
  const uint64_t frame_addr = 0x7ffd00001000;
  const uint64_t sigmask = (1ull << (SIGUSR1 - 1)) | (1ull << (SIGTERM - 1));
  std::vector<uint8_t> out(sigframe_size(xsave.size()) + 64, 0xee);  // 0xee: guard after the frame
  const uint64_t rsp = build_sigframe(out.data(), frame_addr, r, sigmask, xsave.data(), xsave.size(), 0xe7);

  CHECK(rsp == frame_addr + 8);  // sigreturn finds the frame at rsp - 8
  RtSigframe f;
  std::memcpy(&f, out.data(), sizeof f);
  CHECK(f.pretcode == 0);  // no return address unless asked for
  CHECK(f.uc.uc_flags == (kUcFpXstate | kUcSigcontextSs | kUcStrictRestoreSs));
  CHECK(kUcFpXstate == 0x1);
  CHECK(kUcSigcontextSs == 0x2);
  CHECK(kUcStrictRestoreSs == 0x4);
  CHECK(f.uc.uc_link == 0);
  CHECK(f.uc.uc_stack.ss_flags == SS_DISABLE);
  const KernelSigcontext& sc = f.uc.uc_mcontext;
  CHECK(sc.r8 == r.r8);
  CHECK(sc.r9 == r.r9);
  CHECK(sc.r10 == r.r10);
  CHECK(sc.r11 == r.r11);
  CHECK(sc.r12 == r.r12);
  CHECK(sc.r13 == r.r13);
  CHECK(sc.r14 == r.r14);
  CHECK(sc.r15 == r.r15);
  CHECK(sc.rdi == r.rdi);
  CHECK(sc.rsi == r.rsi);
  CHECK(sc.rbp == r.rbp);
  CHECK(sc.rbx == r.rbx);
  CHECK(sc.rdx == r.rdx);
  CHECK(sc.rax == r.rax);
  CHECK(sc.rcx == r.rcx);
  CHECK(sc.rsp == r.rsp);
  CHECK(sc.rip == r.rip);
  CHECK(sc.eflags == r.eflags);
  CHECK(sc.cs == 0x33);
  CHECK(sc.ss == 0x2b);
  CHECK(sc.err == 0);
  CHECK(sc.trapno == 0);
  CHECK(sc.oldmask == 0);
  CHECK(sc.cr2 == 0);
  CHECK(sc.fpstate == frame_addr + 448);
  CHECK(sc.fpstate % 64 == 0);
  for (uint64_t v : sc.reserved1) CHECK(v == 0);
  CHECK(f.uc.uc_sigmask == sigmask);
  // The raw bytes agree with the struct view, at the kernel's offsets.
  CHECK(load<uint64_t>(&out[176]) == r.rip);
  CHECK(load<uint64_t>(&out[232]) == frame_addr + 448);
  CHECK(load<uint64_t>(&out[304]) == sigmask);
  for (size_t i = 312; i < 448; ++i) CHECK(out[i] == 0);  // siginfo and the gap: zeroed
}

TEST_CASE("sigframe: the return-address slot holds the given pretcode") {
  const std::vector<uint8_t> xsave = sane_xsave();
  std::vector<uint8_t> out(sigframe_size(xsave.size()));
  const uint64_t frame_addr = 0x7ffd00004000;
  uint64_t rsp = build_sigframe(out.data(), frame_addr, sample_regs(), 0, xsave.data(), xsave.size(), 0x7,
                                0x00007f0000012345);
  CHECK(rsp == frame_addr + 8);
  CHECK(load<uint64_t>(&out[0]) == 0x00007f0000012345);
  CHECK(load<uint64_t>(&out[176]) == sample_regs().rip);  // the resume rip is unaffected
}

TEST_CASE("sigframe: the XSAVE area carries the software-reserved bytes sigreturn checks") {
  const UserRegs r = sample_regs();
  const std::vector<uint8_t> xsave = sane_xsave(2432, 0xe7);
  const uint64_t frame_addr = 0x7ffd00002000;
  const size_t size = sigframe_size(xsave.size());
  std::vector<uint8_t> out(size + 64, 0xee);
  build_sigframe(out.data(), frame_addr, r, 0, xsave.data(), xsave.size(), 0xe7);
  const uint8_t* fp = out.data() + 448;

  CHECK(std::memcmp(fp, xsave.data(), 464) == 0);  // legacy area up to sw_reserved
  CHECK(load<uint32_t>(fp + 464) == 0x46505853);   // magic1
  CHECK(load<uint32_t>(fp + 468) == 2432 + 4);     // extended_size: area + magic2
  CHECK(load<uint64_t>(fp + 472) == 0xe7);         // xfeatures
  CHECK(load<uint32_t>(fp + 480) == 2432);         // xstate_size
  for (size_t i = 484; i < 512; ++i) CHECK(fp[i] == 0);
  CHECK(std::memcmp(fp + 512, xsave.data() + 512, xsave.size() - 512) == 0);  // header and components
  CHECK(load<uint32_t>(fp + 2432) == 0x46505845);  // magic2 right after the area
  for (size_t i = size; i < out.size(); ++i) CHECK(out[i] == 0xee);  // nothing written past the frame
}

TEST_CASE("sigframe: frame size follows the XSAVE size") {
  for (size_t xs : {size_t(576), size_t(832), size_t(2432), size_t(2696), size_t(11008)}) {
    CAPTURE(xs);
    const std::vector<uint8_t> xsave = sane_xsave(xs, 0x3);
    std::vector<uint8_t> out(sigframe_size(xs) + 16, 0xee);
    build_sigframe(out.data(), 0x10000, sample_regs(), 0, xsave.data(), xs, 0x3);
    CHECK(load<uint32_t>(&out[448 + xs]) == kFpXstateMagic2);
    CHECK(load<uint32_t>(&out[448 + 468]) == xs + 4);
    CHECK(load<uint32_t>(&out[448 + 480]) == xs);
    CHECK(out[sigframe_size(xs)] == 0xee);
  }
}

// ================================================================ xsave_area_problem

TEST_CASE("sigframe: a sane XSAVE area is accepted") {
  auto x = sane_xsave();
  CHECK(xsave_area_problem(x.data(), x.size(), 0x7) == "");
  CHECK(xsave_area_problem(x.data(), x.size(), 0xe7) == "");
  auto legacy = sane_xsave(576, 0x3);
  CHECK(xsave_area_problem(legacy.data(), legacy.size(), 0x3) == "");
  auto init = sane_xsave(2432, 0);  // every component in its initial state
  CHECK(xsave_area_problem(init.data(), init.size(), 0xe7) == "");
}

TEST_CASE("sigframe: a compacted XSAVE area is refused") {
  auto x = sane_xsave();
  store<uint64_t>(&x[520], (1ull << 63) | 0x7);  // XCOMP_BV, as XSAVEC/XSAVES write it
  CHECK(contains(xsave_area_problem(x.data(), x.size(), 0x7), "compacted"));
}

TEST_CASE("sigframe: components outside the saved features are refused") {
  auto x = sane_xsave(2432, 0xe7);
  std::string why = xsave_area_problem(x.data(), x.size(), 0x7);
  CHECK(contains(why, "outside the saved feature set"));
  store<uint64_t>(&x[512], 0x7 | (1ull << 9));
  CHECK(contains(xsave_area_problem(x.data(), x.size(), 0xe7), "outside"));
}

TEST_CASE("sigframe: reserved MXCSR bits are refused") {
  auto x = sane_xsave();
  store<uint32_t>(&x[24], 0x11f80);
  CHECK(contains(xsave_area_problem(x.data(), x.size(), 0x7), "MXCSR"));
  store<uint32_t>(&x[24], 0x80001f80);
  CHECK(contains(xsave_area_problem(x.data(), x.size(), 0x7), "reserved MXCSR bits"));
  store<uint32_t>(&x[24], 0xffff);  // every defined bit: fine
  CHECK(xsave_area_problem(x.data(), x.size(), 0x7) == "");
}

TEST_CASE("sigframe: reserved XSAVE header bytes are refused") {
  for (size_t at : {size_t(512 + 16), size_t(512 + 40), size_t(512 + 63)}) {
    CAPTURE(at);
    auto x = sane_xsave();
    x[at] = 1;
    CHECK(contains(xsave_area_problem(x.data(), x.size(), 0x7), "reserved bytes"));
  }
}

TEST_CASE("sigframe: an XSAVE area shorter than legacy part and header is refused") {
  auto x = sane_xsave();
  for (size_t size : {size_t(0), size_t(512), size_t(575)}) {
    CAPTURE(size);
    CHECK(contains(xsave_area_problem(x.data(), size, 0x7), "shorter than its legacy part and header"));
  }
  CHECK(xsave_area_problem(x.data(), 576, 0x7) == "");
}

// ================================================================ real sigreturn
//
// A forked child captures its own registers and XSAVE state, builds a frame
// that resumes at resume_entry with a few vector and control bits changed,
// and hands it to rt_sigreturn. resume_entry records what the CPU holds
// before any compiled code can touch it, then reports through a pipe.

namespace {

struct Seen {              // filled by resume_entry; offsets used in its assembly
  uint8_t ymm0[32];        // 0
  uint32_t mxcsr;          // 32
  uint32_t pad;
  uint64_t rax, rbx, rbp, r10, r11, r12, r13, r14, r15, rsp, rflags;  // 40..120
};
static_assert(offsetof(Seen, mxcsr) == 32);
static_assert(offsetof(Seen, rax) == 40);
static_assert(offsetof(Seen, r15) == 104);
static_assert(offsetof(Seen, rsp) == 112);
static_assert(offsetof(Seen, rflags) == 120);

struct Report {
  Seen seen;
  uint64_t args[6];      // rdi, rsi, rdx, rcx, r8, r9 as the C function received them
  uint32_t usr2_blocked;  // the signal mask came from the frame
  uint32_t pad;
  UserRegs want;         // what the frame held
  uint8_t want_ymm0[32];
  uint32_t want_mxcsr;
};

constexpr uint64_t kEflagsCompare = 0x8d5;  // CF PF AF ZF SF OF: restored from the frame
constexpr int kResumedExit = 42;

}  // namespace

extern "C" {
__attribute__((visibility("hidden"), used)) Seen ckpt_test_seen;
__attribute__((visibility("hidden"))) Report ckpt_test_report;
void ckpt_test_resume_entry();
__attribute__((visibility("hidden"), used, noreturn)) void ckpt_test_resumed(uint64_t a0, uint64_t a1, uint64_t a2,
                                                                             uint64_t a3, uint64_t a4,
                                                                             uint64_t a5) {
  Report& rep = ckpt_test_report;
  rep.seen = ckpt_test_seen;
  const uint64_t args[6] = {a0, a1, a2, a3, a4, a5};
  std::memcpy(rep.args, args, sizeof args);
  sigset_t now;
  sigprocmask(SIG_BLOCK, nullptr, &now);
  rep.usr2_blocked = sigismember(&now, SIGUSR2) == 1;
  int fd = int(a0);
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&rep);
  size_t done = 0;
  while (done < sizeof rep) {
    ssize_t n = ::write(fd, p + done, sizeof rep - done);
    if (n <= 0) _exit(5);
    done += size_t(n);
  }
  _exit(kResumedExit);
}
}

// Entered by rt_sigreturn, not called: no compiled prologue may run first.
asm(R"(
  .text
  .globl ckpt_test_resume_entry
  .hidden ckpt_test_resume_entry
  .type ckpt_test_resume_entry, @function
ckpt_test_resume_entry:
  vmovdqu %ymm0, ckpt_test_seen(%rip)
  stmxcsr ckpt_test_seen+32(%rip)
  movq %rax, ckpt_test_seen+40(%rip)
  movq %rbx, ckpt_test_seen+48(%rip)
  movq %rbp, ckpt_test_seen+56(%rip)
  movq %r10, ckpt_test_seen+64(%rip)
  movq %r11, ckpt_test_seen+72(%rip)
  movq %r12, ckpt_test_seen+80(%rip)
  movq %r13, ckpt_test_seen+88(%rip)
  movq %r14, ckpt_test_seen+96(%rip)
  movq %r15, ckpt_test_seen+104(%rip)
  movq %rsp, ckpt_test_seen+112(%rip)
  pushfq
  popq %rax
  movq %rax, ckpt_test_seen+120(%rip)
  andq $-16, %rsp
  call ckpt_test_resumed
  ud2
  .size ckpt_test_resume_entry, .-ckpt_test_resume_entry
)");

namespace {

// Standard-format XSAVE size for `mask` (CPUID leaf 0xD sub-leaves).
uint32_t xsave_size_for(uint64_t mask) {
  uint32_t size = 576;
  for (unsigned bit = 2; bit < 64; ++bit) {
    if (!(mask & (1ull << bit))) continue;
    unsigned a, b, c, d;
    __cpuid_count(0xd, bit, a, b, c, d);
    size = std::max(size, b + a);  // offset + size
  }
  return size;
}

uint32_t avx_offset() {
  unsigned a, b, c, d;
  __cpuid_count(0xd, 2, a, b, c, d);
  return b;
}

[[noreturn]] void child_resume_through_sigreturn(int fd) {
  alarm(10);  // a frame the kernel rejects may leave us spinning on a fault

  // The features the kernel lets a thread restore without asking: AMX tile
  // data is dynamically enabled and would make the area larger than
  // sigreturn accepts for this process.
  const uint64_t mask = xcr0() & ~((1ull << kXFeatureAmxTilecfg) | (1ull << kXFeatureAmxTiledata));
  const uint32_t xs = xsave_size_for(mask);
  auto* xsave = static_cast<uint8_t*>(std::aligned_alloc(64, (xs + 63) / 64 * 64));
  const size_t frame_size = (sigframe_size(xs) + 63) / 64 * 64;
  auto* frame = static_cast<uint8_t*>(std::aligned_alloc(64, frame_size));
  const size_t stack_size = 64 << 10;
  auto* stack = static_cast<uint8_t*>(std::aligned_alloc(64, stack_size));
  if (!xsave || !frame || !stack) _exit(3);
  std::memset(xsave, 0, xs);  // XSAVE leaves the header's reserved bytes alone; XRSTOR wants them 0

  // This thread's own state: callee-saved registers and flags by hand,
  // vector state with XSAVE itself.
  uint64_t cap[7];
  asm volatile(
      "movq %%rbx, 0(%0)\n\t"
      "movq %%rbp, 8(%0)\n\t"
      "movq %%r12, 16(%0)\n\t"
      "movq %%r13, 24(%0)\n\t"
      "movq %%r14, 32(%0)\n\t"
      "movq %%r15, 40(%0)\n\t"
      "subq $128, %%rsp\n\t"  // step over the red zone before pushing
      "pushfq\n\t"
      "popq 48(%0)\n\t"
      "addq $128, %%rsp"
      :
      : "r"(cap)
      : "memory");
  asm volatile("xsave (%0)" : : "r"(xsave), "a"(uint32_t(mask)), "d"(uint32_t(mask >> 32)) : "memory");
  if (!xsave_area_problem(xsave, xs, mask).empty()) _exit(4);

  UserRegs r;
  std::memset(&r, 0, sizeof r);
  r.rbx = cap[0], r.rbp = cap[1], r.r12 = cap[2], r.r13 = cap[3], r.r14 = cap[4], r.r15 = cap[5];
  r.eflags = (cap[6] & ~kEflagsCompare) | 0x1 | 0x4 | 0x80 | 0x800;  // CF PF SF OF
  r.rip = reinterpret_cast<uint64_t>(&ckpt_test_resume_entry);
  r.rsp = reinterpret_cast<uint64_t>(stack + stack_size - 256) - 8;
  r.rdi = uint64_t(fd);
  r.rsi = 0x5151515151515151, r.rdx = 0xdddd0000dddd0000, r.rcx = 0xcccc1111cccc1111;
  r.r8 = 0x0808080808080808, r.r9 = 0x0909090909090909;
  r.rax = 0xaaaa5555aaaa5555, r.r10 = 0x1010101010101010, r.r11 = 0x1111111111111111;
  r.orig_rax = uint64_t(-1);
  r.cs = kUserCs, r.ss = kUserDs;

  // Change what the resumed code will see: xmm0 (legacy area), the upper
  // half of ymm0 (AVX component; only XRSTOR of the full frame loads it)
  // and MXCSR's rounding control.
  Report& want = ckpt_test_report;
  for (int i = 0; i < 32; ++i) want.want_ymm0[i] = uint8_t(0xa0 + i);
  std::memcpy(xsave + 160, want.want_ymm0, 16);
  std::memcpy(xsave + avx_offset(), want.want_ymm0 + 16, 16);
  uint64_t bv;
  std::memcpy(&bv, xsave + 512, 8);
  bv |= (1ull << kXFeatureSse) | (1ull << kXFeatureAvx);
  std::memcpy(xsave + 512, &bv, 8);
  want.want_mxcsr = 0x1f80 | 0x6000;  // all exceptions masked, round toward zero
  std::memcpy(xsave + 24, &want.want_mxcsr, 4);
  want.want = r;

  const uint64_t sigmask = 1ull << (SIGUSR2 - 1);
  const uint64_t frame_addr = reinterpret_cast<uint64_t>(frame);
  const uint64_t rsp = build_sigframe(frame, frame_addr, r, sigmask, xsave, xs, mask);
  asm volatile(
      "movq %0, %%rsp\n\t"
      "movl $15, %%eax\n\t"  // __NR_rt_sigreturn
      "syscall\n\t"
      "ud2"
      :
      : "r"(rsp)
      : "memory");
  __builtin_unreachable();
}

}  // namespace

TEST_CASE("sigframe: the kernel resumes a thread from a frame we built") {
  if (xsave_size() == 0 || !(xcr0() & (1ull << kXFeatureAvx))) {
    MESSAGE("skipped: no XSAVE/AVX on this machine");
    return;
  }
  int p[2];
  REQUIRE(::pipe(p) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    child_resume_through_sigreturn(p[1]);
  }
  ::close(p[1]);
  Report rep;
  std::memset(&rep, 0, sizeof rep);
  size_t got = 0;
  while (got < sizeof rep) {
    ssize_t n = ::read(p[0], reinterpret_cast<uint8_t*>(&rep) + got, sizeof rep - got);
    if (n <= 0) break;
    got += size_t(n);
  }
  ::close(p[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  INFO("wait status " << status);
  REQUIRE_FALSE(WIFSIGNALED(status));  // SIGSEGV: the kernel refused the frame
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == kResumedExit);
  REQUIRE(got == sizeof rep);

  const UserRegs& w = rep.want;
  CHECK(rep.args[0] == w.rdi);
  CHECK(rep.args[1] == w.rsi);
  CHECK(rep.args[2] == w.rdx);
  CHECK(rep.args[3] == w.rcx);
  CHECK(rep.args[4] == w.r8);
  CHECK(rep.args[5] == w.r9);
  CHECK(rep.seen.rax == w.rax);
  CHECK(rep.seen.rbx == w.rbx);
  CHECK(rep.seen.rbp == w.rbp);
  CHECK(rep.seen.r10 == w.r10);
  CHECK(rep.seen.r11 == w.r11);
  CHECK(rep.seen.r12 == w.r12);
  CHECK(rep.seen.r13 == w.r13);
  CHECK(rep.seen.r14 == w.r14);
  CHECK(rep.seen.r15 == w.r15);
  CHECK(rep.seen.rsp == w.rsp);
  CHECK((rep.seen.rflags & kEflagsCompare) == (w.eflags & kEflagsCompare));
  CHECK(rep.usr2_blocked == 1);
  CHECK(rep.seen.mxcsr == rep.want_mxcsr);
  CHECK(std::memcmp(rep.seen.ymm0, rep.want_ymm0, 16) == 0);       // xmm0
  CHECK(std::memcmp(rep.seen.ymm0 + 16, rep.want_ymm0 + 16, 16) == 0);  // upper ymm0: full XSAVE restore
}
