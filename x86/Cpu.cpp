// Reading XCR0 and the XSAVE size from the CPU, and judging whether saved
// XSAVE state fits this CPU. See Cpu.h.
#include "x86/Cpu.h"

#include <cpuid.h>
#include <sys/platform/x86.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>

namespace ckpt::x86 {

namespace {

constexpr std::array<std::string_view, 20> kXFeatureNames = {
    "x87",
    "SSE",
    "AVX",
    "MPX bndregs",
    "MPX bndcsr",
    "AVX-512 opmask",
    "AVX-512 ZMM_Hi256",
    "AVX-512 Hi16_ZMM",
    "PT",
    "PKRU",
    "PASID",
    "CET user",
    "CET supervisor",
    "HDC",
    "UINTR",
    "LBR",
    "HWP",
    "AMX tilecfg",
    "AMX tiledata",
    "APX",
};

// What CPUID says about XSAVE, asked once per process. Every CPUID traps to
// the hypervisor in a virtual machine (about 6 us each where this was
// measured, far more when the host is busy: docs/benchmarks.md, "Tiny
// process"), and restore needs these facts in several places; asked each
// time (about 60 CPUIDs) they cost it more than all the rest of a small
// restore.
struct XsaveFacts {
    std::uint64_t xcr0 = (1u << kXFeatureX87) | (1u << kXFeatureSse);
    std::uint32_t size = 0;       // leaf 0xD.0 EBX; 0 without OSXSAVE
    std::uint64_t on_request = 0;  // bits of xcr0 with leaf 0xD.N ECX bit 2
    std::uint32_t component_end[64] = {};  // per bit of xcr0 >= 2: offset + size (0: none)
};

const XsaveFacts& facts() {
    static const XsaveFacts f = [] {
        XsaveFacts r;
        // Leaf 1 as the C library read it at start-up (no trap); OSXSAVE
        // implies XSAVE, hence leaf 0xD.
        if (!CPU_FEATURE_PRESENT(OSXSAVE)) return r;
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        std::uint32_t lo = 0, hi = 0;
        // The mnemonic, not _xgetbv(): this file is built without -mxsave.
        asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        r.xcr0 = (std::uint64_t{hi} << 32) | lo;
        __cpuid_count(0xd, 0, eax, ebx, ecx, edx);
        r.size = ebx;
        for (unsigned bit = 2; bit < 64; ++bit) {
            if ((r.xcr0 >> bit & 1) == 0) continue;
            __cpuid_count(0xd, bit, eax, ebx, ecx, edx);
            if (ecx & 4u) r.on_request |= std::uint64_t{1} << bit;
            if (eax) r.component_end[bit] = ebx + eax;
        }
        return r;
    }();
    return f;
}

std::string hex(std::uint64_t value) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(value));
    return buf;
}

}  // namespace

std::string xfeature_name(unsigned bit) {
    if (bit < kXFeatureNames.size()) return std::string(kXFeatureNames[bit]);
    return "bit " + std::to_string(bit);
}

std::uint64_t xcr0() { return facts().xcr0; }

std::uint32_t xsave_size() { return facts().size; }

std::uint64_t xfeatures_on_request(std::uint64_t cpu_xcr0) {
    const XsaveFacts& f = facts();
    std::uint64_t out = f.on_request & cpu_xcr0;
    // Bits this CPU's XCR0 lacks (a caller's hypothetical XCR0): asked directly.
    for (unsigned bit = 2; bit < 64; ++bit) {
        if ((cpu_xcr0 >> bit & 1) == 0 || (f.xcr0 >> bit & 1)) continue;
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (__get_cpuid_count(0xd, bit, &eax, &ebx, &ecx, &edx) && (ecx & 4u)) out |= std::uint64_t{1} << bit;
    }
    return out;
}

std::uint32_t xsave_size_of(std::uint64_t features) {
    const XsaveFacts& f = facts();
    std::uint32_t end = kXsaveMinSize;
    for (unsigned bit = 2; bit < 64; ++bit) {
        if ((features >> bit & 1) == 0) continue;
        if (f.xcr0 >> bit & 1) {
            end = std::max(end, f.component_end[bit]);
            continue;
        }
        unsigned size = 0, offset = 0, ecx = 0, edx = 0;
        if (!__get_cpuid_count(0xd, bit, &size, &offset, &ecx, &edx) || size == 0) continue;
        end = std::max(end, offset + size);
    }
    return end;
}

std::string xsave_incompatibility(std::uint64_t saved_xfeatures, std::uint32_t saved_size, std::uint64_t cpu_xcr0,
                                  std::uint32_t cpu_size) {
    const std::uint64_t missing = saved_xfeatures & ~cpu_xcr0;
    const std::string size_clause = "the image's XSAVE area is " + std::to_string(saved_size) +
                                    " bytes but this CPU's is " + std::to_string(cpu_size) + " bytes";
    if (missing == 0) {
        if (saved_size == cpu_size) return "";
        return "cannot resume the saved register state here: " + size_clause + " (XCR0 " + hex(cpu_xcr0) +
               "), so the process may have laid out its buffers for another CPU";
    }
    std::string names;
    unsigned count = 0;
    for (unsigned bit = 0; bit < 64; ++bit) {
        if ((missing >> bit & 1) == 0) continue;
        if (count++ != 0) names += ", ";
        names += xfeature_name(bit);
        if (bit < kXFeatureNames.size()) names += " (bit " + std::to_string(bit) + ")";
    }
    std::string sentence = "cannot resume the saved register state here: this CPU lacks the XSAVE feature";
    sentence += count == 1 ? " " : "s ";
    sentence += names + " that the image uses (image xfeatures " + hex(saved_xfeatures) + ", CPU XCR0 " +
                hex(cpu_xcr0) + ")";
    if (saved_size != cpu_size) sentence += ", and " + size_clause;
    return sentence;
}

}  // namespace ckpt::x86
