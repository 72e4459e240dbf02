// XSAVE feature checks (x86/Cpu.h): when a saved register state may resume
// on this CPU, how a refusal reads, and what this machine reports.
#include <doctest/doctest.h>

#include <cpuid.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "x86/Cpu.h"

using ckpt::x86::xsave_incompatibility;

namespace {

constexpr std::uint64_t bit(unsigned n) { return std::uint64_t{1} << n; }

constexpr std::uint64_t kX87Sse = bit(0) | bit(1);
constexpr std::uint64_t kAvx = kX87Sse | bit(2);
constexpr std::uint64_t kAvx512 = kAvx | bit(5) | bit(6) | bit(7);

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("xsave: identical features and size are compatible") {
    CHECK(xsave_incompatibility(kAvx512, 2440, kAvx512, 2440).empty());
}

TEST_CASE("xsave: saved features that are a subset of XCR0 are compatible when the size matches") {
    // An image saved by a process that never touched AVX-512 still records
    // the machine's XCR0-sized area; only the features in use matter.
    CHECK(xsave_incompatibility(kAvx, 2440, kAvx512 | bit(9), 2440).empty());
    CHECK(xsave_incompatibility(0, 2440, kAvx512, 2440).empty());
}

TEST_CASE("xsave: missing AVX-512 state is refused, naming each feature") {
    const std::string why = xsave_incompatibility(kAvx512, 2440, kAvx, 832);
    CHECK(contains(why, "AVX-512 opmask (bit 5)"));
    CHECK(contains(why, "AVX-512 ZMM_Hi256 (bit 6)"));
    CHECK(contains(why, "AVX-512 Hi16_ZMM (bit 7)"));
    CHECK_FALSE(contains(why, "(bit 2)"));  // AVX is present on the CPU
    CHECK(contains(why, "features"));
    CHECK(contains(why, "2440"));
    CHECK(contains(why, "832"));
    CHECK(why.find('\n') == std::string::npos);
}

TEST_CASE("xsave: a single missing feature reads in the singular") {
    const std::string why = xsave_incompatibility(kAvx512 | bit(9), 2696, kAvx512, 2696);
    CHECK(contains(why, "lacks the XSAVE feature PKRU (bit 9)"));
    CHECK(contains(why, "0x2e7"));
    CHECK(contains(why, "0xe7"));
    CHECK_FALSE(contains(why, "bytes"));  // sizes agree, so they are not mentioned
}

TEST_CASE("xsave: AMX and unnamed future bits are named") {
    const std::string why = xsave_incompatibility(kAvx512 | bit(17) | bit(18) | bit(40), 11008, kAvx512, 11008);
    CHECK(contains(why, "AMX tilecfg (bit 17)"));
    CHECK(contains(why, "AMX tiledata (bit 18)"));
    CHECK_FALSE(contains(why, "bit 40 (bit 40)"));
    CHECK(contains(why, "bit 40"));
}

TEST_CASE("xsave: a size mismatch alone is refused, naming both sizes") {
    const std::string why = xsave_incompatibility(kAvx, 2440, kAvx512, 2432);
    REQUIRE_FALSE(why.empty());
    CHECK(contains(why, "2440 bytes"));
    CHECK(contains(why, "2432 bytes"));
    CHECK_FALSE(contains(why, "(bit "));
}

TEST_CASE("xsave: this machine") {
    const std::uint64_t xcr0 = ckpt::x86::xcr0();
    CHECK((xcr0 & kX87Sse) == kX87Sse);
    CHECK(ckpt::x86::xsave_size() >= ckpt::x86::kXsaveMinSize);
    // The CPU is always compatible with itself.
    CHECK(xsave_incompatibility(xcr0, ckpt::x86::xsave_size(), xcr0, ckpt::x86::xsave_size()).empty());
}

TEST_CASE("xsave: the facts asked once per process agree with CPUID asked now") {
    // x86/Cpu.cpp asks CPUID once and keeps the answers (each CPUID traps in
    // a virtual machine); here every answer is asked again, directly.
    const std::uint64_t xcr0 = ckpt::x86::xcr0();
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    __cpuid_count(0xd, 0, eax, ebx, ecx, edx);
    CHECK(ckpt::x86::xsave_size() == ebx);
    std::uint64_t on_request = 0;
    std::uint32_t end_all = ckpt::x86::kXsaveMinSize, end_granted = ckpt::x86::kXsaveMinSize;
    for (unsigned b = 2; b < 64; ++b) {
        if (!(xcr0 & bit(b))) continue;
        __cpuid_count(0xd, b, eax, ebx, ecx, edx);
        if (ecx & 4u) on_request |= bit(b);
        if (eax == 0) continue;
        end_all = std::max(end_all, eax + ebx);
        if (!(ecx & 4u)) end_granted = std::max(end_granted, eax + ebx);
        CHECK(ckpt::x86::xsave_size_of(bit(0) | bit(1) | bit(b)) == std::max(ckpt::x86::kXsaveMinSize, eax + ebx));
    }
    for (int twice = 0; twice < 2; ++twice) {
        CHECK(ckpt::x86::xcr0() == xcr0);
        CHECK(ckpt::x86::xfeatures_on_request(xcr0) == on_request);
        CHECK(ckpt::x86::xsave_size_of(xcr0) == end_all);
        CHECK(ckpt::x86::xsave_size_of(xcr0 & ~on_request) == end_granted);
    }
    CHECK(ckpt::x86::xsave_size_of(0) == ckpt::x86::kXsaveMinSize);
}
