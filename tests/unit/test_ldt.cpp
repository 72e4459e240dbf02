// LDT descriptor <-> user_desc conversion (x86/LdtDescriptor.h): known
// descriptors both ways, random round trips, and a round trip through the
// running kernel's own modify_ldt, which is what dump and restore rely on.
#include <doctest/doctest.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <random>

#include "x86/LdtDescriptor.h"

using ckpt::x86::descriptor_is_empty;
using ckpt::x86::descriptor_is_installable;
using ckpt::x86::descriptor_to_user_desc;
using ckpt::x86::user_desc_to_descriptor;

namespace {

struct Fields {
    unsigned base, limit, seg_32bit, contents, read_exec_only, limit_in_pages, seg_not_present, useable, lm;
};

user_desc make(unsigned entry, const Fields& f) {
    user_desc ud{};
    ud.entry_number = entry;
    ud.base_addr = f.base;
    ud.limit = f.limit;
    ud.seg_32bit = f.seg_32bit;
    ud.contents = f.contents;
    ud.read_exec_only = f.read_exec_only;
    ud.limit_in_pages = f.limit_in_pages;
    ud.seg_not_present = f.seg_not_present;
    ud.useable = f.useable;
    ud.lm = f.lm;
    return ud;
}

void check_same(const user_desc& got, const user_desc& want) {
    CHECK(got.entry_number == want.entry_number);
    CHECK(got.base_addr == want.base_addr);
    CHECK(got.limit == want.limit);
    CHECK(got.seg_32bit == want.seg_32bit);
    CHECK(got.contents == want.contents);
    CHECK(got.read_exec_only == want.read_exec_only);
    CHECK(got.limit_in_pages == want.limit_in_pages);
    CHECK(got.seg_not_present == want.seg_not_present);
    CHECK(got.useable == want.useable);
    CHECK(got.lm == want.lm);
}

// Each known case checks both directions against a descriptor worked out by
// hand from the SDM layout, so a mistake cannot cancel itself out.
void check_both_ways(std::uint64_t descriptor, const user_desc& ud) {
    CHECK(user_desc_to_descriptor(ud) == descriptor);
    check_same(descriptor_to_user_desc(descriptor, ud.entry_number), ud);
}

// modify_ldt returns an int squeezed into rax (errors are not sign-extended).
int modify_ldt(int func, void* ptr, unsigned long bytes) {
    return static_cast<int>(syscall(SYS_modify_ldt, func, ptr, bytes));
}

constexpr std::uint64_t kLBit = std::uint64_t{1} << ckpt::x86::ldt_bits::kL;

}  // namespace

TEST_CASE("ldt: flat 32-bit writable data segment") {
    // base 0, limit 0xfffff pages, type 3 (data RW accessed), S, DPL 3, P, D, G.
    check_both_ways(0x00cff3000000ffffULL, make(1, {0, 0xfffff, 1, 0, 0, 1, 0, 0, 0}));
}

TEST_CASE("ldt: 16-bit readable code segment") {
    // base 0x10000, limit 0xffff bytes, type 0xb (code, readable, accessed), D=0.
    check_both_ways(0x0000fb010000ffffULL, make(2, {0x10000, 0xffff, 0, 2, 0, 0, 0, 0, 0}));
}

TEST_CASE("ldt: not-present read-only data segment") {
    // P clear, type 1 (data, read-only, accessed).
    check_both_ways(0x0040710000001000ULL, make(3, {0, 0x1000, 1, 0, 1, 0, 1, 0, 0}));
}

TEST_CASE("ldt: limit counted in pages") {
    check_both_ways(0x00c5f30000002345ULL, make(4, {0, 0x52345, 1, 0, 0, 1, 0, 0, 0}));
}

TEST_CASE("ldt: base above 16 MiB uses all three base fields") {
    check_both_ways(0xde40f3bc9a000fffULL, make(5, {0xdebc9a00, 0xfff, 1, 0, 0, 0, 0, 0, 0}));
}

TEST_CASE("ldt: useable (AVL) bit") {
    check_both_ways(0x0050f3000000ffffULL, make(6, {0, 0xffff, 1, 0, 0, 0, 0, 1, 0}));
}

TEST_CASE("ldt: 64-bit (L) code segment") {
    // L set, D clear as the SDM requires for 64-bit code.
    check_both_ways(0x00affb000000ffffULL, make(7, {0, 0xfffff, 0, 2, 0, 1, 0, 0, 1}));
}

TEST_CASE("ldt: expand-down stack segment") {
    check_both_ways(0x0040f7000000f000ULL, make(8, {0, 0xf000, 1, 1, 0, 0, 0, 0, 0}));
}

TEST_CASE("ldt: empty slot") {
    CHECK(descriptor_is_empty(0));
    CHECK_FALSE(descriptor_is_empty(0x00cff3000000ffffULL));
    CHECK_FALSE(descriptor_is_installable(0));
}

TEST_CASE("ldt: only what modify_ldt can produce is installable") {
    CHECK(descriptor_is_installable(0x00cff3000000ffffULL));
    CHECK_FALSE(descriptor_is_installable(0x00cff2000000ffffULL));  // accessed bit clear
    CHECK_FALSE(descriptor_is_installable(0x00cfd3000000ffffULL));  // DPL 2
    CHECK_FALSE(descriptor_is_installable(0x00cfe3000000ffffULL));  // S clear: system descriptor
    CHECK_FALSE(descriptor_is_installable(0x00a0fb000000ffffULL));  // L set
    CHECK_FALSE(descriptor_is_installable(0x0040ff000000ffffULL));  // present conforming code
    CHECK(descriptor_is_installable(0x00407f000000ffffULL));        // not-present conforming code
    CHECK_FALSE(descriptor_is_installable(0x0000710000000000ULL));  // the kernel's "clear entry" pattern
}

TEST_CASE("ldt: random user_desc values survive user_desc -> descriptor -> user_desc") {
    std::mt19937_64 rng(20090401);
    for (int i = 0; i < 100000; ++i) {
        const std::uint64_t r = rng();
        const unsigned entry = static_cast<unsigned>(rng() % LDT_ENTRIES);
        const user_desc ud = make(entry, {static_cast<unsigned>(r), static_cast<unsigned>(r >> 32) & 0xfffff,
                                          static_cast<unsigned>(r >> 52) & 1, static_cast<unsigned>(r >> 53) & 3,
                                          static_cast<unsigned>(r >> 55) & 1, static_cast<unsigned>(r >> 56) & 1,
                                          static_cast<unsigned>(r >> 57) & 1, static_cast<unsigned>(r >> 58) & 1,
                                          static_cast<unsigned>(r >> 59) & 1});
        const std::uint64_t descriptor = user_desc_to_descriptor(ud);
        const user_desc back = descriptor_to_user_desc(descriptor, entry);
        REQUIRE(std::memcmp(&back, &ud, sizeof ud) == 0);
    }
}

TEST_CASE("ldt: conversion matches what the running kernel stores") {
    // Entry 0 stays unused so that an empty slot below the highest one is
    // exercised too; entry 5 asks for lm, which the 64-bit kernel drops.
    const std::array<user_desc, 5> installed = {
        make(1, {0x12345678, 0xabcde, 1, 0, 0, 1, 0, 1, 0}),  // data, pages, useable
        make(2, {0x00400000, 0x0ffff, 0, 2, 1, 0, 0, 0, 0}),  // 16-bit execute-only code
        make(3, {0xfedcba98, 0x00010, 1, 1, 0, 0, 0, 0, 0}),  // expand-down stack
        make(4, {0x01000000, 0x12345, 1, 3, 0, 0, 1, 0, 0}),  // not-present conforming code
        make(6, {0x00000000, 0xfffff, 0, 2, 0, 1, 0, 0, 1}),  // lm requested
    };
    // Start from a clean table: doctest re-runs this body once per subcase,
    // and the LDT outlives each run.
    std::array<std::uint64_t, 16> table{};
    for (unsigned entry = 0; entry < table.size(); ++entry) {
        user_desc clear = make(entry, {0, 0, 0, 0, 1, 0, 1, 0, 0});
        REQUIRE(modify_ldt(ckpt::x86::kModifyLdtWrite, &clear, sizeof clear) == 0);
    }
    for (auto ud : installed) REQUIRE(modify_ldt(ckpt::x86::kModifyLdtWrite, &ud, sizeof ud) == 0);

    const int got = modify_ldt(ckpt::x86::kModifyLdtRead, table.data(), sizeof table);
    // The kernel returns what was asked for, zero-filled, not the entry count.
    CHECK(got == static_cast<int>(sizeof table));

    CHECK(descriptor_is_empty(table[0]));
    CHECK(descriptor_is_empty(table[5]));
    for (std::size_t i = 7; i < table.size(); ++i) CHECK(descriptor_is_empty(table[i]));
    for (const auto& ud : installed) {
        CAPTURE(ud.entry_number);
        const std::uint64_t stored = table[ud.entry_number];
        CHECK(descriptor_is_installable(stored));
        CHECK((user_desc_to_descriptor(ud) & ~kLBit) == stored);
        user_desc expected = ud;
        expected.lm = 0;
        check_same(descriptor_to_user_desc(stored, ud.entry_number), expected);
    }

    SUBCASE("the old write mode drops the useable bit") {
        user_desc ud = installed[0];
        ud.entry_number = 7;
        REQUIRE(modify_ldt(ckpt::x86::kModifyLdtWriteOld, &ud, sizeof ud) == 0);
        REQUIRE(modify_ldt(ckpt::x86::kModifyLdtRead, table.data(), sizeof table) == static_cast<int>(sizeof table));
        CHECK(descriptor_to_user_desc(table[7], 7).useable == 0);
    }

    SUBCASE("the kernel's empty pattern clears an entry") {
        user_desc ud = make(3, {0, 0, 0, 0, 1, 0, 1, 0, 0});
        REQUIRE(modify_ldt(ckpt::x86::kModifyLdtWrite, &ud, sizeof ud) == 0);
        REQUIRE(modify_ldt(ckpt::x86::kModifyLdtRead, table.data(), sizeof table) == static_cast<int>(sizeof table));
        CHECK(descriptor_is_empty(table[3]));
    }

    SUBCASE("a present conforming code segment is refused") {
        user_desc ud = make(8, {0, 0xfff, 1, 3, 0, 0, 0, 0, 0});
        CHECK(modify_ldt(ckpt::x86::kModifyLdtWrite, &ud, sizeof ud) == -EINVAL);
    }
}

static_assert(user_desc_to_descriptor(descriptor_to_user_desc(0x00cff3000000ffffULL, 0)) == 0x00cff3000000ffffULL,
              "conversion must be usable at compile time");
