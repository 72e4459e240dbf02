// What this CPU offers for extended register state (XSAVE), and whether an
// image's saved XSAVE state can be resumed here.
//
// The dumper records the tracee's xfeatures and XSAVE size; the restorer's
// validation phase compares them with this CPU before anything is destroyed.
// Refusing on a mismatch is deliberate: glibc sized its buffers and picked
// its string routines from CPUID at start-up, so a process moved to a CPU
// with fewer features or a different XSAVE layout would fail later, far from
// the cause (SIGILL, corrupted save areas).
#pragma once

#include <cstdint>
#include <string>

namespace ckpt::x86 {

// XCR0 bit numbers (Intel SDM vol. 1, 13.1; kernel fpu/types.h).
enum XFeature : unsigned {
    kXFeatureX87 = 0,
    kXFeatureSse = 1,
    kXFeatureAvx = 2,
    kXFeatureMpxBndregs = 3,
    kXFeatureMpxBndcsr = 4,
    kXFeatureAvx512Opmask = 5,
    kXFeatureAvx512ZmmHi256 = 6,
    kXFeatureAvx512Hi16Zmm = 7,
    kXFeaturePt = 8,
    kXFeaturePkru = 9,
    kXFeaturePasid = 10,
    kXFeatureCetUser = 11,
    kXFeatureCetSupervisor = 12,
    kXFeatureHdc = 13,
    kXFeatureUintr = 14,
    kXFeatureLbr = 15,
    kXFeatureHwp = 16,
    kXFeatureAmxTilecfg = 17,
    kXFeatureAmxTiledata = 18,
    kXFeatureApx = 19,
};

// FXSAVE legacy area (512) + XSAVE header (64): the smallest XSAVE area.
inline constexpr std::uint32_t kXsaveMinSize = 576;

// Human name of one XCR0 bit ("AVX-512 opmask"), or "bit N" for bits with no
// architectural name yet.
std::string xfeature_name(unsigned bit);

// XCR0 of this CPU as the kernel set it up. Without OSXSAVE only the legacy
// x87/SSE state exists, which is reported as x87|SSE.
std::uint64_t xcr0();

// Size of the standard-format XSAVE area for the features enabled in XCR0
// (CPUID leaf 0xD subleaf 0, EBX). This is the length
// PTRACE_GETREGSET(NT_X86_XSTATE) fills in. 0 when the OS has not enabled
// XSAVE (the regset is then unavailable).
std::uint32_t xsave_size();

// XCR0 features the kernel grants a process only when it asks
// (arch_prctl ARCH_REQ_XCOMP_PERM): those whose first use the CPU can trap
// (XFD, CPUID leaf 0xD subleaf N, ECX bit 2), today AMX tile data. Until a
// process has asked and used one, its signal frames and sigreturn leave it out.
std::uint64_t xfeatures_on_request(std::uint64_t cpu_xcr0);

// Size of the standard-format XSAVE area that holds `features`: the end of
// the highest component among them (CPUID leaf 0xD), at least the legacy area
// and header. What the kernel accepts as a signal frame's xstate_size is this
// size for the features the process may use at that moment.
std::uint32_t xsave_size_of(std::uint64_t features);

// "" when an image saved with saved_xfeatures / saved_size can resume on a
// CPU with cpu_xcr0 / cpu_size; otherwise one sentence naming the features
// the CPU lacks (by name and bit) or the two sizes.
std::string xsave_incompatibility(std::uint64_t saved_xfeatures, std::uint32_t saved_size, std::uint64_t cpu_xcr0,
                                  std::uint32_t cpu_size);

}  // namespace ckpt::x86
