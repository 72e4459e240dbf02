// A child member keeping its parent's staged pages (restorer/ChildPages.h),
// on a real fork of this test standing in for the parent's launcher: the
// parent's staged area (built in place, or at a staging slot) is kept for
// the child's areas that inherit, moved into the child's plan where needed,
// the child's own page written over it, pages it has no chunk for discarded,
// everything else of the parent's staging unmapped; the inherited pages are
// still the parent's very page frames (shared), the rest exact.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "format/Image.h"
#include "restorer/AddressPlan.h"
#include "restorer/ChildPages.h"
#include "x86/ProcMaps.h"

using namespace ckpt;
using format::kPageSize;
using format::PageChunk;
using format::Vma;

namespace {

constexpr uint64_t kPages = 64;

Vma anon(uint64_t start, uint64_t end) {
  Vma v;
  v.start = start;
  v.end = end;
  v.prot = PROT_READ | PROT_WRITE;
  v.kind = format::VmaKind::AnonPrivate;
  return v;
}

PageChunk chunk(uint64_t vaddr, uint32_t npages, bool inherited) {
  PageChunk c;
  c.vaddr = vaddr;
  c.npages = npages;
  if (inherited) c.encoding = format::ChunkEncoding::Inherited;
  return c;
}

uint64_t frame(pid_t pid, uint64_t addr) {
  int fd = open(("/proc/" + std::to_string(pid) + "/pagemap").c_str(), O_RDONLY);
  uint64_t e = 0;
  if (fd >= 0) {
    if (pread(fd, &e, 8, off_t(addr / kPageSize * 8)) != 8) e = 0;
    close(fd);
  }
  return (e >> 63) ? (e & ((1ull << 55) - 1)) : 0;
}

bool mapped(uint64_t addr) { return msync(reinterpret_cast<void*>(addr), kPageSize, MS_ASYNC) == 0; }

// A free range of `size` bytes (mapped and unmapped again).
uint64_t free_range(uint64_t size) {
  void* m = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(m != MAP_FAILED);
  munmap(m, size);
  return uint64_t(reinterpret_cast<uintptr_t>(m));
}

// The child's part, in the forked process: returns "" or what went wrong.
std::string child_side(const format::Image& parent, const restorer::AddressPlan& parent_plan, uint64_t saved_at,
                       uint64_t grown) {
  const uint64_t A = parent.vmas[0].start, S = parent_plan.staged[0];
  format::Image child;
  // The child unmapped pages 20-21 (two areas), wrote page 5, dropped 10-11,
  // has a page of its own at 61, and grew its second area by `grown` pages
  // past the parent's (as a heap grows).
  const uint64_t total = kPages + grown;
  child.vmas = {anon(A, A + 20 * kPageSize), anon(A + 22 * kPageSize, A + total * kPageSize)};
  child.chunks = {chunk(A, 5, true),
                  chunk(A + 5 * kPageSize, 1, false),
                  chunk(A + 6 * kPageSize, 4, true),
                  chunk(A + 12 * kPageSize, 8, true),
                  chunk(A + 22 * kPageSize, 38, true),
                  chunk(A + 61 * kPageSize, 1, false)};
  restorer::ChildPages keep = restorer::plan_child_pages(child, parent, parent_plan);
  if (keep.from[0] != S || keep.from[1] != S + 22 * kPageSize) return "plan_child_pages: wrong sources";
  if (keep.length[0] != 20 * kPageSize || keep.length[1] != (kPages - 22) * kPageSize) return "plan_child_pages: wrong lengths";
  if ((keep.in_place[0] != 0) != (S == A)) return "plan_child_pages: in-place preset wrong";
  restorer::release_parent_memory(parent, parent_plan, child, keep);
  if (mapped(S + 20 * kPageSize) || mapped(parent_plan.base)) return "the parent's other staging is still mapped";
  if (!mapped(S) || !mapped(S + 22 * kPageSize)) return "a kept range was unmapped";
  std::vector<x86::MapsEntry> self = x86::parse_maps(x86::read_proc_file("/proc/self/maps"));
  restorer::AddressPlan plan = restorer::plan_addresses(child, self, 64 * 1024, 0, &keep.in_place);
  restorer::place_child_pages(child, keep, plan);
  for (size_t i = 0; i < 2; ++i) {
    const uint64_t at = plan.staged[i];
    if (S == A && at != A + (i ? 22 : 0) * kPageSize) return "an in-place area was not taken as it is";
    restorer::discard_uncovered(child, i, at);
  }
  // The child's own pages, as stage_memory writes them.
  auto page = [&](uint64_t p) {
    size_t i = p < 20 ? 0 : 1;
    return reinterpret_cast<uint8_t*>(plan.staged[i] + (A + p * kPageSize - child.vmas[i].start));
  };
  std::memset(page(5), 0xee, kPageSize);
  std::memset(page(61), 0x42, kPageSize);
  for (uint64_t p = 0; p < total; ++p) {
    if (p == 20 || p == 21) continue;
    uint8_t want = p == 5 ? 0xee : p == 61 ? 0x42 : (p >= 10 && p < 12) || p >= 60 ? 0 : uint8_t(p + 1);
    for (size_t b = 0; b < kPageSize; ++b)
      if (page(p)[b] != want) return "page " + std::to_string(p) + " differs at byte " + std::to_string(b);
    // Inherited pages are still the parent's frames; the others are not.
    const bool inherited = p < 60 && p != 5 && !(p >= 10 && p < 12);
    const uint64_t mine = frame(getpid(), uint64_t(reinterpret_cast<uintptr_t>(page(p))));
    const uint64_t theirs = p < kPages ? frame(getppid(), saved_at + p * kPageSize) : 0;
    if (inherited && (!mine || mine != theirs)) return "page " + std::to_string(p) + " is no longer shared";
    if (!inherited && mine && mine == theirs) return "page " + std::to_string(p) + " is shared but should not be";
  }
  // The grown area is one mapping, as the original child's was one VMA.
  if (grown) {
    std::vector<x86::MapsEntry> now = x86::parse_maps(x86::read_proc_file("/proc/self/maps"));
    bool one = false;
    for (const auto& e : now)
      one |= e.start == plan.staged[1] && e.end == plan.staged[1] + child.vmas[1].size();
    if (!one) return "the grown area is not one mapping";
  }
  return "";
}

void run(bool parent_in_place, uint64_t grown = 0) {
  // The parent's launcher: its area [A, A + 64 pages) staged at S (A itself
  // when in place) inside or outside its reservation, pages 0-59 filled.
  const uint64_t A = free_range(kPages * kPageSize * 4) + kPages * kPageSize;
  uint64_t reservation = free_range(16 * kPageSize);
  REQUIRE(mmap(reinterpret_cast<void*>(reservation), 16 * kPageSize, PROT_NONE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != MAP_FAILED);
  const uint64_t S = parent_in_place ? A : free_range(kPages * kPageSize);
  REQUIRE(mmap(reinterpret_cast<void*>(S), kPages * kPageSize, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != MAP_FAILED);
  for (uint64_t p = 0; p < 60; ++p) std::memset(reinterpret_cast<void*>(S + p * kPageSize), int(p + 1), kPageSize);
  format::Image parent;
  parent.vmas = {anon(A, A + kPages * kPageSize)};
  parent.chunks = {chunk(A, 30, false), chunk(A + 30 * kPageSize, 30, false)};
  restorer::AddressPlan parent_plan;
  parent_plan.base = reservation;
  parent_plan.size = 16 * kPageSize;
  parent_plan.staged = {S};

  int report[2];
  REQUIRE(pipe(report) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(report[0]);
    std::string why;
    try {
      why = child_side(parent, parent_plan, S, grown);
    } catch (const std::exception& e) {
      why = e.what();
    }
    (void)!write(report[1], why.data(), why.size());
    _exit(why.empty() ? 0 : 1);
  }
  close(report[1]);
  char buf[512];
  ssize_t n = read(report[0], buf, sizeof buf);
  close(report[0]);
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  CHECK(std::string(buf, n > 0 ? size_t(n) : 0) == "");
  CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  munmap(reinterpret_cast<void*>(S), kPages * kPageSize);
  munmap(reinterpret_cast<void*>(reservation), 16 * kPageSize);
}

}  // namespace

TEST_CASE("a child keeps its parent's area built in place, shared, with its own pages over it") {
  if (geteuid() != 0) {
    std::fprintf(stderr, "SKIP: page frames are not visible (not root): sharing cannot be checked\n");
    std::exit(77);
  }
  run(true);
}

TEST_CASE("a child moves its parent's area staged elsewhere into its own plan, sharing kept") { run(false); }

TEST_CASE("a child's area that grew past its parent's (a heap) keeps the parent's part and grows, one mapping") {
  run(true, 16);
  run(false, 16);
}

TEST_CASE("keeping the parent's pages refuses what validation cannot rule out: no staged copy, a lazy one, no slot") {
  const uint64_t A = 0x7f0000000000ull;
  format::Image parent, child;
  parent.vmas = {anon(A, A + kPages * kPageSize)};
  parent.chunks = {chunk(A, 4, false)};
  child.vmas = {anon(A, A + kPages * kPageSize)};
  child.chunks = {chunk(A, 4, true)};
  restorer::AddressPlan pp;
  pp.staged = {0};
  CHECK_THROWS_WITH(restorer::plan_child_pages(child, parent, pp), doctest::Contains("was not staged"));
  pp.staged = {A};
  pp.lazy = {true};
  CHECK_THROWS_WITH(restorer::plan_child_pages(child, parent, pp), doctest::Contains("is restored lazily"));
  pp.lazy.clear();
  pp.staged = {A + (1ull << 30)};
  restorer::ChildPages keep = restorer::plan_child_pages(child, parent, pp);
  CHECK(keep.from[0] == A + (1ull << 30));
  CHECK(keep.in_place[0] == 0);
  restorer::AddressPlan plan;
  plan.staged = {0};
  CHECK_THROWS_WITH(restorer::place_child_pages(child, keep, plan), doctest::Contains("no staging slot"));
  // An area without inherited chunks takes nothing from the parent.
  child.chunks[0].encoding = format::ChunkEncoding::Raw;
  CHECK_FALSE(restorer::plan_child_pages(child, parent, pp).keeps(0));
}
