// LDT descriptor <-> struct user_desc conversion.
//
// The dumper reads a process's LDT with modify_ldt(0, buf, size), which hands
// back the raw 8-byte descriptors exactly as the CPU sees them; the restorer
// (and the trampoline, which has no libc) writes entries back with
// modify_ldt(0x11, &user_desc, sizeof user_desc). This header converts
// between the two forms, mirroring the kernel's fill_ldt() so that a
// descriptor read back after a restore compares bit-for-bit equal to the one
// that was dumped.
//
// Header-only and constexpr on purpose: it is used by freestanding code, so
// it includes nothing but <cstdint> and the kernel's uapi header, and calls
// nothing.
//
// Kernel behaviour this relies on (checked on Linux 6.18, see test_ldt.cpp):
//  - fill_ldt() always sets the accessed bit (type bit 0), S = 1, DPL = 3.
//  - The 64-bit kernel always clears L, whatever user_desc.lm says; a
//    descriptor read from a live process therefore never has L set.
//  - modify_ldt func 1 (the "old" mode) clears AVL; only func 0x11 keeps the
//    useable bit, so restore with kModifyLdtWrite.
//  - contents == 3 (conforming code) is refused unless seg_not_present.
//  - modify_ldt(0, ...) returns the byte count asked for (capped at
//    LDT_ENTRIES * LDT_ENTRY_SIZE), zero-filled past the last entry, or 0
//    when the process has no LDT: it does not tell how many entries exist.
//  - sys_modify_ldt returns an int truncated into rax: errors come back as
//    0x00000000ffffffea, not as a negative 64-bit value. Raw-syscall callers
//    must look at the low 32 bits as a signed int.
#pragma once

#include <cstdint>

#include <asm/ldt.h>

namespace ckpt::x86 {

// modify_ldt "func" argument values (arch/x86/kernel/ldt.c).
inline constexpr int kModifyLdtRead = 0;
inline constexpr int kModifyLdtWriteOld = 1;  // clears the useable bit
inline constexpr int kModifyLdtWrite = 0x11;

// Bit positions inside the 64-bit descriptor (Intel SDM vol. 3, 3.4.5).
namespace ldt_bits {
inline constexpr unsigned kLimitLow = 0;     // limit 15:0, 16 bits
inline constexpr unsigned kBaseLow = 16;     // base 23:0, 24 bits
inline constexpr unsigned kType = 40;        // 4 bits
inline constexpr unsigned kS = 44;           // 1 = code/data, 0 = system
inline constexpr unsigned kDpl = 45;         // 2 bits
inline constexpr unsigned kP = 47;
inline constexpr unsigned kLimitHigh = 48;   // limit 19:16, 4 bits
inline constexpr unsigned kAvl = 52;
inline constexpr unsigned kL = 53;
inline constexpr unsigned kDb = 54;
inline constexpr unsigned kG = 55;
inline constexpr unsigned kBaseHigh = 56;    // base 31:24, 8 bits

inline constexpr unsigned kTypeAccessed = 1u << 0;
inline constexpr unsigned kTypeWritableOrReadable = 1u << 1;
}  // namespace ldt_bits

constexpr std::uint32_t descriptor_field(std::uint64_t descriptor, unsigned shift, unsigned width) {
    return static_cast<std::uint32_t>((descriptor >> shift) & ((std::uint64_t{1} << width) - 1));
}

constexpr std::uint32_t descriptor_base(std::uint64_t descriptor) {
    using namespace ldt_bits;
    return descriptor_field(descriptor, kBaseLow, 24) | (descriptor_field(descriptor, kBaseHigh, 8) << 24);
}

constexpr std::uint32_t descriptor_limit(std::uint64_t descriptor) {
    using namespace ldt_bits;
    return descriptor_field(descriptor, kLimitLow, 16) | (descriptor_field(descriptor, kLimitHigh, 4) << 16);
}

constexpr std::uint32_t descriptor_type(std::uint64_t descriptor) {
    return descriptor_field(descriptor, ldt_bits::kType, 4);
}

// An all-zero slot is what the kernel stores for a cleared or never-written
// entry below the highest one; the restorer skips it rather than install it.
constexpr bool descriptor_is_empty(std::uint64_t descriptor) { return descriptor == 0; }

// The inverse of the kernel's fill_ldt(). The accessed bit, S and DPL have no
// user_desc field and are dropped; descriptor_is_installable() tells whether
// dropping them loses anything.
constexpr user_desc descriptor_to_user_desc(std::uint64_t descriptor, unsigned entry_number) {
    using namespace ldt_bits;
    const std::uint32_t type = descriptor_type(descriptor);
    user_desc ud{};
    ud.entry_number = entry_number;
    ud.base_addr = descriptor_base(descriptor);
    ud.limit = descriptor_limit(descriptor);
    ud.seg_32bit = descriptor_field(descriptor, kDb, 1);
    ud.contents = (type >> 2) & 3;
    ud.read_exec_only = ((type >> 1) & 1) ^ 1;
    ud.limit_in_pages = descriptor_field(descriptor, kG, 1);
    ud.seg_not_present = descriptor_field(descriptor, kP, 1) ^ 1;
    ud.useable = descriptor_field(descriptor, kAvl, 1);
    ud.lm = descriptor_field(descriptor, kL, 1);
    return ud;
}

// What fill_ldt() builds from a user_desc, except that lm is carried into L
// so this stays the exact inverse of descriptor_to_user_desc(); the 64-bit
// kernel itself stores L = 0 (see the file comment).
constexpr std::uint64_t user_desc_to_descriptor(const user_desc& ud) {
    using namespace ldt_bits;
    // The kernel presets "accessed" so the CPU never needs to write the
    // descriptor (the LDT is mapped read-only for PTI); match it.
    const std::uint64_t type =
        (static_cast<std::uint64_t>(ud.read_exec_only ^ 1u) << 1) | (static_cast<std::uint64_t>(ud.contents) << 2) |
        kTypeAccessed;
    const std::uint64_t base = ud.base_addr;
    const std::uint64_t limit = ud.limit;
    return ((limit & 0xffff) << kLimitLow) | ((base & 0xffffff) << kBaseLow) | (type << kType) |
           (std::uint64_t{1} << kS) | (std::uint64_t{3} << kDpl) |
           (static_cast<std::uint64_t>(ud.seg_not_present ^ 1u) << kP) | (((limit >> 16) & 0xf) << kLimitHigh) |
           (static_cast<std::uint64_t>(ud.useable) << kAvl) | (static_cast<std::uint64_t>(ud.lm) << kL) |
           (static_cast<std::uint64_t>(ud.seg_32bit) << kDb) | (static_cast<std::uint64_t>(ud.limit_in_pages) << kG) |
           (((base >> 24) & 0xff) << kBaseHigh);
}

// True when modify_ldt(kModifyLdtWrite) can recreate this exact descriptor:
// anything else (a system descriptor, DPL != 3, accessed clear, L set, a
// present conforming code segment) cannot have come from a live x86-64
// process, so an image holding one is corrupt or hostile. Empty slots are
// not installable; callers skip them first.
constexpr bool descriptor_is_installable(std::uint64_t descriptor) {
    using namespace ldt_bits;
    if (descriptor_is_empty(descriptor)) return false;
    if (descriptor_field(descriptor, kS, 1) != 1 || descriptor_field(descriptor, kDpl, 2) != 3) return false;
    if ((descriptor_type(descriptor) & kTypeAccessed) == 0 || descriptor_field(descriptor, kL, 1) != 0) return false;
    const bool conforming_code = ((descriptor_type(descriptor) >> 2) & 3) == 3;
    if (conforming_code && descriptor_field(descriptor, kP, 1) == 1) return false;
    // The kernel turns a user_desc that looks like its "empty" pattern into
    // a zero slot instead of installing it; such a descriptor round-trips
    // to nothing, so it cannot be restored either.
    const user_desc ud = descriptor_to_user_desc(descriptor, 0);
    const bool kernel_empty_pattern = ud.base_addr == 0 && ud.limit == 0 && ud.contents == 0 &&
                                      ud.read_exec_only == 1 && ud.seg_32bit == 0 && ud.limit_in_pages == 0 &&
                                      ud.seg_not_present == 1 && ud.useable == 0;
    return !kernel_empty_pattern;
}

}  // namespace ckpt::x86
