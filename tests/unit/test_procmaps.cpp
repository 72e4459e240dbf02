// /proc/PID/maps and smaps parsing (x86/ProcMaps.h): every kind of line the
// kernel writes, VmFlags attached to the mapping they belong to, malformed
// input refused, and this process's own smaps as the kernel reports it.
#include <doctest/doctest.h>

#include <sys/auxv.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "x86/ProcMaps.h"

using ckpt::x86::MapsEntry;
using ckpt::x86::parse_maps;
using ckpt::x86::read_proc_file;

namespace {

const MapsEntry* find_path(const std::vector<MapsEntry>& maps, const std::string& path) {
  for (const MapsEntry& e : maps)
    if (e.path == path) return &e;
  return nullptr;
}

const MapsEntry* find_containing(const std::vector<MapsEntry>& maps, uint64_t addr) {
  for (const MapsEntry& e : maps)
    if (e.start <= addr && addr < e.end) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("procmaps: an anonymous mapping has no path") {
  auto m = parse_maps("7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0 \n");
  REQUIRE(m.size() == 1);
  CHECK(m[0].start == 0x7f3a1c000000);
  CHECK(m[0].end == 0x7f3a1c021000);
  CHECK(m[0].offset == 0);
  CHECK(m[0].read);
  CHECK(m[0].write);
  CHECK_FALSE(m[0].exec);
  CHECK_FALSE(m[0].shared);
  CHECK(m[0].dev_major == 0);
  CHECK(m[0].dev_minor == 0);
  CHECK(m[0].inode == 0);
  CHECK(m[0].path.empty());
  CHECK(m[0].vmflags.empty());

  // Without the trailing space the kernel sometimes leaves, and without a newline.
  auto n = parse_maps("7f3a1c000000-7f3a1c021000 ---p 00000000 00:00 0");
  REQUIRE(n.size() == 1);
  CHECK(n[0].path.empty());
  CHECK_FALSE(n[0].read);
  CHECK_FALSE(n[0].write);
}

TEST_CASE("procmaps: a file mapping keeps offset, device, inode and a path with spaces") {
  auto m = parse_maps(
      "7f3a1c200000-7f3a1c3a5000 r-xp 00028000 fd:01 1316089                    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
      "55d0c8a00000-55d0c8a01000 r--p 0001f000 103:02 42     /home/a user/my data file.bin\n");
  REQUIRE(m.size() == 2);
  CHECK(m[0].offset == 0x28000);
  CHECK(m[0].dev_major == 0xfd);
  CHECK(m[0].dev_minor == 0x01);
  CHECK(m[0].inode == 1316089);
  CHECK(m[0].exec);
  CHECK_FALSE(m[0].write);
  CHECK(m[0].path == "/usr/lib/x86_64-linux-gnu/libc.so.6");
  CHECK(m[1].dev_major == 0x103);
  CHECK(m[1].dev_minor == 0x02);
  CHECK(m[1].inode == 42);
  CHECK(m[1].offset == 0x1f000);
  CHECK(m[1].path == "/home/a user/my data file.bin");
}

TEST_CASE("procmaps: labelled mappings: [heap], [stack], [vdso], [vvar], [vvar_vclock]") {
  auto m = parse_maps(
      "55d0c9b3e000-55d0c9b5f000 rw-p 00000000 00:00 0                          [heap]\n"
      "7ffd5a1e0000-7ffd5a201000 rw-p 00000000 00:00 0                          [stack]\n"
      "7ffd5a3f0000-7ffd5a3f4000 r--p 00000000 00:00 0                          [vvar]\n"
      "7ffd5a3f4000-7ffd5a3f6000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
      "7ffd5a3f6000-7ffd5a3f8000 r-xp 00000000 00:00 0                          [vdso]\n");
  REQUIRE(m.size() == 5);
  CHECK(m[0].path == "[heap]");
  CHECK(m[1].path == "[stack]");
  CHECK(m[2].path == "[vvar]");
  CHECK(m[3].path == "[vvar_vclock]");
  CHECK(m[3].start == 0x7ffd5a3f4000);
  CHECK(m[3].end == 0x7ffd5a3f6000);
  CHECK(m[4].path == "[vdso]");
  CHECK(m[4].exec);
}

TEST_CASE("procmaps: a deleted file keeps its (deleted) suffix") {
  auto m = parse_maps("7f3a1c400000-7f3a1c401000 rw-s 00000000 00:01 2049     /memfd:shm area (deleted)\n"
                      "7f3a1c401000-7f3a1c402000 r--p 00001000 fd:01 77     /tmp/gone.so (deleted)\n");
  REQUIRE(m.size() == 2);
  CHECK(m[0].path == "/memfd:shm area (deleted)");
  CHECK(m[0].shared);
  CHECK(m[0].read);
  CHECK(m[0].write);
  CHECK(m[1].path == "/tmp/gone.so (deleted)");
  CHECK_FALSE(m[1].shared);
}

TEST_CASE("procmaps: shared mappings are told apart from private ones") {
  auto m = parse_maps("7f0000000000-7f0000001000 rw-s 00000000 00:05 1234   /dev/zero (deleted)\n"
                      "7f0000001000-7f0000002000 rw-p 00000000 00:00 0\n");
  REQUIRE(m.size() == 2);
  CHECK(m[0].shared);
  CHECK_FALSE(m[1].shared);
}

TEST_CASE("procmaps: 8-, 12- and 16-digit addresses, [vsyscall] included") {
  auto m = parse_maps(
      "00400000-00401000 r-xp 00000000 fd:01 100   /usr/bin/true\n"
      "7ffd5a1e0000-7ffd5a201000 rw-p 00000000 00:00 0   [stack]\n"
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n");
  REQUIRE(m.size() == 3);
  CHECK(m[0].start == 0x400000);
  CHECK(m[0].end == 0x401000);
  CHECK(m[1].start == 0x7ffd5a1e0000);
  CHECK(m[2].start == 0xffffffffff600000ull);
  CHECK(m[2].end == 0xffffffffff601000ull);
  CHECK(m[2].exec);
  CHECK_FALSE(m[2].read);
  CHECK(m[2].path == "[vsyscall]");
}

TEST_CASE("procmaps: smaps fields are skipped and VmFlags go to their own mapping") {
  const std::string smaps =
      "55d0c9b3e000-55d0c9b5f000 rw-p 00000000 00:00 0                          [heap]\n"
      "Size:                132 kB\n"
      "KernelPageSize:        4 kB\n"
      "Rss:                   8 kB\n"
      "Anonymous:             8 kB\n"
      "THPeligible:           0\n"
      "VmFlags: rd wr mr mw me ac \n"
      "7f3a1c200000-7f3a1c3a5000 r-xp 00028000 fd:01 1316089                    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
      "Size:               1684 kB\n"
      "Rss:                 900 kB\n"
      "ProtectionKey:         0\n"
      "VmFlags: rd ex mr mw me sd \n"
      "7f3a1c3a5000-7f3a1c3a6000 rw-p 00000000 00:00 0 \n"
      "Size:                  4 kB\n"
      "7ffd5a1e0000-7ffd5a201000 rw-p 00000000 00:00 0                          [stack]\n"
      "Size:                132 kB\n"
      "VmFlags: rd wr mr mw me gd ac \n";
  auto m = parse_maps(smaps);
  REQUIRE(m.size() == 4);
  CHECK(m[0].path == "[heap]");
  CHECK(m[0].vmflags == std::vector<std::string>{"rd", "wr", "mr", "mw", "me", "ac"});
  CHECK_FALSE(m[0].has_flag("gd"));
  CHECK(m[1].vmflags == std::vector<std::string>{"rd", "ex", "mr", "mw", "me", "sd"});
  CHECK(m[1].has_flag("ex"));
  CHECK(m[1].offset == 0x28000);
  CHECK(m[2].vmflags.empty());  // no VmFlags line for it: nothing borrowed from a neighbour
  CHECK(m[2].path.empty());
  CHECK(m[3].path == "[stack]");
  CHECK(m[3].has_flag("gd"));
  CHECK_FALSE(m[3].has_flag("g"));  // whole flags only
  CHECK(m[3].vmflags.size() == 7);
}

TEST_CASE("procmaps: a last line without its newline, blank lines and runs of blanks between flags") {
  const std::string text =
      "55d0c9b3e000-55d0c9b5f000 rw-p 00000000 00:00 0                          [heap]\n"
      "\n"
      "VmFlags:  rd\twr   mr \n"
      "7ffd5a1e0000-7ffd5a201000 rw-p 00000000 00:00 0                          [stack]\n"
      "VmFlags: rd wr gd";
  auto m = parse_maps(text);
  REQUIRE(m.size() == 2);
  CHECK(m[0].vmflags == std::vector<std::string>{"rd", "wr", "mr"});
  CHECK(m[1].path == "[stack]");
  CHECK(m[1].vmflags == std::vector<std::string>{"rd", "wr", "gd"});
}

TEST_CASE("procmaps: a truncated or garbled mapping line is refused") {
  // Looks like a mapping (range first) but lacks fields or has non-hex ones.
  CHECK_THROWS_AS(parse_maps("7f3a1c000000-7f3a1c021000 rw-p\n"), std::runtime_error);
  CHECK_THROWS_AS(parse_maps("7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00\n"), std::runtime_error);
  CHECK_THROWS_AS(parse_maps("7f3a1c000000-zzzz rw-p 00000000 00:00 0\n"), std::runtime_error);
  CHECK_THROWS_AS(parse_maps("7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0\n"
                             "7f3a1c021000-7f3a1c022000 r--p xyz 00:00 0\n"),
                  std::runtime_error);
  try {
    parse_maps("55d0c9b3e000-55d0c9b5f000 rw-p 0000000g\n");
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("55d0c9b3e000-55d0c9b5f000") != std::string::npos);
  }
}

TEST_CASE("procmaps: a line that is neither a mapping nor a smaps field is refused") {
  // ProcMaps.h: "throws std::runtime_error on a malformed line". A maps read
  // cut short in the middle of a line, or text that is not maps at all, must
  // not parse as fewer mappings than the process has.
  CHECK_THROWS_AS(parse_maps("7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0\n7f3a1c0210"), std::runtime_error);
  CHECK_THROWS_AS(parse_maps("hello world\n"), std::runtime_error);
}

TEST_CASE("procmaps: this process's own smaps") {
  auto m = parse_maps(read_proc_file("/proc/self/smaps"));
  REQUIRE(m.size() > 5);
  for (size_t i = 0; i < m.size(); ++i) {
    CAPTURE(i);
    CHECK(m[i].start < m[i].end);
    CHECK(m[i].start % 4096 == 0);
    CHECK(m[i].end % 4096 == 0);
    CHECK_FALSE(m[i].vmflags.empty());  // every smaps block ends with VmFlags
    CHECK(m[i].has_flag("rd") == m[i].read);  // VmFlags belong to the block they follow
    if (i) CHECK(m[i - 1].end <= m[i].start);
  }

  const MapsEntry* stack = find_path(m, "[stack]");
  REQUIRE(stack != nullptr);
  CHECK(stack->has_flag("gd"));  // the kernel reports the main stack as grows-down
  CHECK(stack->read);
  CHECK(stack->write);
  CHECK_FALSE(stack->shared);
  int local = 0;
  const uint64_t sp = reinterpret_cast<uintptr_t>(&local);
  // The main thread's stack holds this frame (doctest runs tests on the main thread).
  CHECK(stack->start <= sp);
  CHECK(sp < stack->end);

  const MapsEntry* vdso = find_path(m, "[vdso]");
  REQUIRE(vdso != nullptr);
  CHECK(vdso->exec);
  CHECK(vdso->read);
  CHECK_FALSE(vdso->write);
  CHECK_FALSE(vdso->has_flag("gd"));
  CHECK(vdso->start == getauxval(AT_SYSINFO_EHDR));

  // Code of this test binary: a private file mapping with an absolute path.
  const MapsEntry* self = find_containing(m, reinterpret_cast<uintptr_t>(&find_containing));
  REQUIRE(self != nullptr);
  CHECK(self->exec);
  CHECK_FALSE(self->shared);
  CHECK(self->path.rfind('/', 0) == 0);
  CHECK(self->inode != 0);
  CHECK(self->has_flag("ex"));
}

TEST_CASE("procmaps: the fields are cut as the kernel writes them") {
  // Cut by hand (no sscanf): three-digit device numbers, a 20-digit inode, a
  // path with runs of spaces kept as it is, and every padding the kernel uses.
  auto m = parse_maps(
      "00400000-00401000 r-xp 0001f000 103:0a 18446744073709551615   /tmp/a  b   c\n"
      "7ffd4ca91000-7ffd4cab2000 rw-p 00000000 00:00 0                          [stack]\n"
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0\n");
  REQUIRE(m.size() == 3);
  CHECK(m[0].start == 0x400000);
  CHECK(m[0].end == 0x401000);
  CHECK(m[0].offset == 0x1f000);
  CHECK(m[0].dev_major == 0x103);
  CHECK(m[0].dev_minor == 0xa);
  CHECK(m[0].inode == 18446744073709551615ull);
  CHECK(m[0].path == "/tmp/a  b   c");
  CHECK((m[0].read && !m[0].write && m[0].exec && !m[0].shared));
  CHECK(m[1].path == "[stack]");
  CHECK(m[2].start == 0xffffffffff600000ull);
  CHECK(m[2].path.empty());
  CHECK((!m[2].read && m[2].exec));
  // Glued fields, a missing ':' or '-', an address of more than 16 digits: refused.
  CHECK_THROWS_AS(parse_maps("00400000-00401000 r-xp 00000000 00:000 0/bin/x\n"), std::runtime_error);
  CHECK_THROWS_AS(parse_maps("00400000-00401000 r-xp 00000000 0000 0 /bin/x\n"), std::runtime_error);
  CHECK_THROWS_AS(parse_maps("00400000-00401000 r-xp00000000 00:00 0\n"), std::runtime_error);
  CHECK_THROWS_AS(parse_maps("00400000-100000000000000000 r-xp 00000000 00:00 0\n"), std::runtime_error);
}
