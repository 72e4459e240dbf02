// Finding the pages a child still shares copy-on-write with its parent
// (dumper/SharedPages.h) on a real fork of this test: pages the child wrote,
// dropped (MADV_DONTNEED), unmapped or faulted in by itself, and pages its
// parent did not save, are not inherited; everything else is, and the
// memory dump records exactly those as inherited chunks, which the format's
// rules accept against the parent and refuse without one. A dumper without
// CAP_SYS_ADMIN sees no page frames and finds nothing.
#include <doctest/doctest.h>

#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dumper/MemoryDump.h"
#include "dumper/SharedPages.h"
#include "dumper/Tracee.h"
#include "format/FormatError.h"
#include "format/ImageWriter.h"
#include "format/Validate.h"

using namespace ckpt;
using format::kPageSize;
using format::PageChunk;
using format::Vma;
using format::VmaKind;

namespace {

constexpr uint64_t kPages = 64;

// Needs CAP_SYS_ADMIN (the tests run as root): without it there is nothing to test but the refusal below.
void need_frames() {
  if (!dumper::page_frames_visible()) {
    std::fprintf(stderr, "SKIP: this test cannot see page frame numbers (not CAP_SYS_ADMIN); run it as root\n");
    std::exit(77);
  }
}

Vma anon(uint64_t start, uint64_t end, uint32_t flags = 0) {
  Vma v;
  v.start = start;
  v.end = end;
  v.prot = PROT_READ | PROT_WRITE;
  v.kind = VmaKind::AnonPrivate;
  v.flags = flags;
  return v;
}

// A child forked with the region filled, which then changes some of it,
// says so on a pipe and waits (stopped in read) until the pipe closes.
struct ForkedChild {
  pid_t pid = -1;
  int go = -1;
  uint8_t* region = nullptr;

  ForkedChild() {
    void* m = mmap(nullptr, kPages * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(m != MAP_FAILED);
    region = static_cast<uint8_t*>(m);
    // Pages 0-59 hold data; 60-63 are never touched by the parent.
    for (uint64_t p = 0; p < 60; ++p) std::memset(region + p * kPageSize, int(p + 1), kPageSize);
    int ready[2], wait[2];
    REQUIRE(pipe(ready) == 0);
    REQUIRE(pipe(wait) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(ready[0]);
      close(wait[1]);
      region[5 * kPageSize + 7] = 0xee;                             // copied on write
      madvise(region + 10 * kPageSize, 2 * kPageSize, MADV_DONTNEED);  // dropped: zeros
      munmap(region + 20 * kPageSize, 2 * kPageSize);               // gone: two VMAs remain
      region[61 * kPageSize] = 0x42;                                 // the child's own page
      char c = 1;
      (void)!write(ready[1], &c, 1);
      (void)!read(wait[0], &c, 1);
      _exit(0);
    }
    close(ready[1]);
    close(wait[0]);
    go = wait[1];
    char c;
    REQUIRE(read(ready[0], &c, 1) == 1);
    close(ready[0]);
  }
  ~ForkedChild() {
    close(go);
    int st;
    waitpid(pid, &st, 0);
    munmap(region, kPages * kPageSize);
  }
  uint64_t at(uint64_t page) const { return uint64_t(reinterpret_cast<uintptr_t>(region)) + page * kPageSize; }
  std::vector<Vma> parent_vmas(uint32_t flags = 0) const { return {anon(at(0), at(kPages), flags)}; }
  std::vector<Vma> child_vmas() const { return {anon(at(0), at(20)), anon(at(22), at(kPages))}; }
  // What the parent's dump saved: its pages 0-59, in two chunks.
  std::vector<PageChunk> parent_chunks() const {
    PageChunk a, b;
    a.vaddr = at(0), a.npages = 30;
    b.vaddr = at(30), b.npages = 30;
    return {a, b};
  }
};

std::vector<std::pair<uint64_t, uint64_t>> pages_of(const ForkedChild& c, const dumper::InheritedPages& in) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const dumper::PageRange& r : in.runs) out.emplace_back((r.start - c.at(0)) / kPageSize, (r.end - c.at(0)) / kPageSize);
  return out;
}

using Runs = std::vector<std::pair<uint64_t, uint64_t>>;

}  // namespace

TEST_CASE("pages still shared since fork are found; written, dropped, unmapped and unsaved ones are not") {
  need_frames();
  ForkedChild c;
  dumper::InheritedPages in =
      dumper::find_inherited_pages(c.pid, c.child_vmas(), getpid(), c.parent_vmas(), c.parent_chunks());
  CHECK_FALSE(in.frames_hidden);
  CHECK(pages_of(c, in) == Runs{{0, 5}, {6, 10}, {12, 20}, {22, 60}});
  CHECK(in.pages() == 5 + 4 + 8 + 38);
  CHECK(in.contains(c.at(0)));
  CHECK_FALSE(in.contains(c.at(5)));
  CHECK(in.contains(c.at(59)));
  CHECK_FALSE(in.contains(c.at(60)));

  SUBCASE("pages the parent did not save are not inherited, even when shared") {
    std::vector<PageChunk> pc = c.parent_chunks();
    pc.erase(pc.begin());
    dumper::InheritedPages part = dumper::find_inherited_pages(c.pid, c.child_vmas(), getpid(), c.parent_vmas(), pc);
    CHECK(pages_of(c, part) == Runs{{30, 60}});
  }
  SUBCASE("areas a fork does not pass on unchanged share nothing") {
    for (uint32_t f : {format::kVmaDontFork, format::kVmaWipeOnFork, format::kVmaLocked, format::kVmaHugePage}) {
      CAPTURE(f);
      CHECK(dumper::find_inherited_pages(c.pid, c.child_vmas(), getpid(), c.parent_vmas(f), c.parent_chunks())
                .runs.empty());
    }
    std::vector<Vma> guarded = c.parent_vmas();
    guarded[0].guards.push_back({c.at(62), c.at(63)});
    CHECK(dumper::find_inherited_pages(c.pid, c.child_vmas(), getpid(), guarded, c.parent_chunks()).runs.empty());
  }
  SUBCASE("a child area shares only with the parent area it starts in, of the same kind and flags") {
    std::vector<Vma> split = {anon(c.at(0), c.at(40)), anon(c.at(40), c.at(kPages), format::kVmaNoHugePage)};
    dumper::InheritedPages part = dumper::find_inherited_pages(c.pid, c.child_vmas(), getpid(), split, c.parent_chunks());
    CHECK(pages_of(c, part) == Runs{{0, 5}, {6, 10}, {12, 20}, {22, 40}});
    // A child area that grew past the parent's (a heap): the common part.
    std::vector<Vma> grown = c.child_vmas();
    grown[1].end = c.at(kPages + 64);
    CHECK(pages_of(c, dumper::find_inherited_pages(c.pid, grown, getpid(), c.parent_vmas(), c.parent_chunks())) ==
          Runs{{0, 5}, {6, 10}, {12, 20}, {22, 60}});
  }
}

TEST_CASE("the memory dump records inherited pages as chunks without bytes; the rules want the parent") {
  need_frames();
  ForkedChild c;
  dumper::InheritedPages in =
      dumper::find_inherited_pages(c.pid, c.child_vmas(), getpid(), c.parent_vmas(), c.parent_chunks());
  char path[] = "/tmp/ckpt-unit-shared-pages.XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  format::Image child;
  child.vmas = c.child_vmas();
  format::ImageWriter writer(fd, {format::ChunkEncoding::Raw, 0});
  writer.write_metadata(child);
  dumper::MemoryCopy copy(c.pid, child.vmas, &in);
  copy.copy_all();
  const std::vector<PageChunk> parent_chunks = c.parent_chunks();
  dumper::MemoryStats st = copy.write(writer, [] {}, &parent_chunks);
  CHECK(st.pages_inherited == in.pages());
  CHECK(st.pages_saved == 2);  // page 5 (written) and 61 (its own); 10-11 were dropped
  child.chunks = writer.chunks();
  uint64_t stored = 0, inherited = 0;
  for (const PageChunk& ch : child.chunks) {
    if (ch.inherited()) {
      inherited += ch.npages;
      CHECK(ch.offset == 0);
      CHECK(ch.stored_size == 0);
      CHECK(ch.checksum == 0);
    } else {
      stored += ch.npages;
      CHECK((ch.vaddr == c.at(5) || ch.vaddr == c.at(61)));
    }
  }
  CHECK(stored == 2);
  CHECK(inherited == in.pages());
  for (size_t i = 1; i < child.chunks.size(); ++i) CHECK(child.chunks[i - 1].vaddr < child.chunks[i].vaddr);
  close(fd);

  format::Image parent;
  parent.vmas = c.parent_vmas();
  parent.chunks = c.parent_chunks();
  CHECK_NOTHROW(format::validate_inherited(child, &parent, 0));
  CHECK_THROWS_WITH_AS(format::validate_inherited(child, nullptr, 0),
                       doctest::Contains("inherited, but the process has no parent in the image"), format::FormatError);
  format::Image less = parent;
  less.chunks.pop_back();
  CHECK_THROWS_WITH_AS(format::validate_inherited(child, &less, 0), doctest::Contains("the parent saved no page at"),
                       format::FormatError);
  format::Image other = parent;
  other.vmas[0].flags = format::kVmaDontFork;
  CHECK_THROWS_WITH_AS(format::validate_inherited(child, &other, 0), doctest::Contains("differs in kind or flags"),
                       format::FormatError);
  format::Image shifted = parent;
  shifted.vmas[0].start = c.at(1);
  CHECK_THROWS_WITH_AS(format::validate_inherited(child, &shifted, 0), doctest::Contains("does not start inside an area"),
                       format::FormatError);
  format::Image shorter = parent;
  shorter.vmas[0].end = c.at(40);
  CHECK_THROWS_WITH_AS(format::validate_inherited(child, &shorter, 0), doctest::Contains("goes past the end of the parent's area"),
                       format::FormatError);
}

TEST_CASE("a process gone, an area a fork does not pass on: refused by the dump and by the rules") {
  need_frames();
  ForkedChild c;
  CHECK_THROWS_WITH_AS(dumper::find_inherited_pages(999999999, c.child_vmas(), getpid(), c.parent_vmas(), c.parent_chunks()),
                       doctest::Contains("cannot open its pagemap"), dumper::DumpError);
  // An inherited chunk in a locked area (a fork does not pass mlock on) is refused by the per-image rules.
  format::Image child;
  child.vmas = {anon(c.at(0), c.at(kPages), format::kVmaLocked)};
  PageChunk ch;
  ch.vaddr = c.at(0), ch.npages = 1, ch.encoding = format::ChunkEncoding::Inherited;
  child.chunks = {ch};
  CHECK_FALSE(format::vma_can_inherit(child.vmas[0]));
  child.vmas[0].flags = 0;
  CHECK(format::vma_can_inherit(child.vmas[0]));
  child.vmas[0].kind = VmaKind::FilePrivate;
  CHECK_FALSE(format::vma_can_inherit(child.vmas[0]));
}

TEST_CASE("without CAP_SYS_ADMIN no page frame is visible and nothing is inherited") {
  need_frames();
  ForkedChild c;
  pid_t helper = fork();
  REQUIRE(helper >= 0);
  if (helper == 0) {
    // Drop CAP_SYS_ADMIN from the effective set only: pagemap stays readable (ptrace rights), without frames.
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (syscall(SYS_capget, &h, d) != 0) _exit(10);
    d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
    if (syscall(SYS_capset, &h, d) != 0) _exit(11);
    if (dumper::page_frames_visible()) _exit(12);
    dumper::InheritedPages in =
        dumper::find_inherited_pages(c.pid, c.child_vmas(), getppid(), c.parent_vmas(), c.parent_chunks());
    _exit(in.frames_hidden && in.runs.empty() ? 0 : 13);
  }
  int st = 0;
  REQUIRE(waitpid(helper, &st, 0) == helper);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}
