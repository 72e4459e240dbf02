// Page planning, copying and writing (see MemoryDump.h).
#include "dumper/MemoryDump.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cinttypes>
#include <cstdio>

#include "format/Hex.h"
#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"
#include "format/Validate.h"
#include "x86/PagemapScan.h"

namespace ckpt::dumper {

using format::hex;

using format::kPageSize;
using format::Vma;
using format::VmaKind;

static constexpr uint64_t kPmPresent = 1ull << 63;
static constexpr uint64_t kPmSwapped = 1ull << 62;
static constexpr uint64_t kPmFile = 1ull << 61;
static constexpr uint64_t kPmExclusive = 1ull << 56;  // mapped by this process only
static constexpr uint64_t kPmGuard = 1ull << 58;  // a guard page (Linux 6.14+), reported swapped as well
static constexpr uint64_t kBatchPages = 1024;  // 4 MiB per read
static constexpr size_t kBatchBytes = kBatchPages * kPageSize;


// Through /proc/PID/mem: reads through protections for a tracer, and takes
// no pin on the pages (see MemoryCopy::MemoryCopy for why that matters).
static void read_through_mem(pid_t pid, int mem_fd, uint64_t addr, void* out, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t r = pread(mem_fd, static_cast<char*>(out) + done, len - done, off_t(addr + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      throw DumpError("pid " + std::to_string(pid) + ": cannot read memory at " + hex(addr + done) + ": " +
                      (r < 0 ? std::strerror(errno) : "end of file"));
    done += size_t(r);
  }
}

void read_remote(pid_t pid, int mem_fd, uint64_t addr, void* out, size_t len) {
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n == ssize_t(len)) return;
  if (n < 0 && errno == ESRCH) throw DumpError("pid " + std::to_string(pid) + " exited during the dump");
  // PROT_NONE or otherwise unreadable.
  read_through_mem(pid, mem_fd, addr, out, len);
}

// Whether a page is all zero; stops at the first non-zero 64 bytes, so
// ordinary data costs a few loads and only zero pages are read whole.
static bool all_zero(const uint8_t* p) {
  for (size_t i = 0; i < kPageSize; i += 64) {
    uint64_t acc = 0;
    for (size_t j = 0; j < 64; j += 8) {
      uint64_t v;
      std::memcpy(&v, p + i + j, 8);
      acc |= v;
    }
    if (acc) return false;
  }
  return true;
}

uint64_t memory_available() {
  FILE* f = std::fopen("/proc/meminfo", "re");
  if (!f) return 0;
  char line[256];
  uint64_t kib = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "MemAvailable: %" SCNu64, &kib) == 1) break;
  std::fclose(f);
  return kib << 10;
}

namespace {

using x86::PmScanArg;
using x86::PageRegion;
using x86::kPagemapScan;
using x86::kPageIsPresent;
using x86::kPageIsSwapped;


// The regions of [start, end) holding present or swapped pages, in order;
// false when the kernel has no PAGEMAP_SCAN (the caller reads pagemap).
bool scan_regions(int pagemap, uint64_t start, uint64_t end, std::vector<PageRange>& out) {
  PmScanArg query{};
  query.category_anyof_mask = kPageIsPresent | kPageIsSwapped;
  query.return_mask = kPageIsPresent | kPageIsSwapped;
  return x86::scan_pages(pagemap, start, end, query, [&](const PageRegion& region) {
    // A region reported again from where a full vector stopped: each page once.
    PageRange r{region.start, region.end};
    if (!out.empty() && r.start < out.back().end) r.start = out.back().end;
    if (r.start >= r.end) return true;
    if (!out.empty() && out.back().end == r.start) out.back().end = r.end;
    else out.push_back(r);
    return true;
  });
}

// [a, b) less the sorted, disjoint `holes`, as ranges passed to `emit`.
template <class Ranges, class F>
void without(uint64_t a, uint64_t b, const Ranges& holes, F&& emit) {
  auto it = std::upper_bound(holes.begin(), holes.end(), a, [](uint64_t x, const auto& h) { return x < h.end; });
  for (; a < b && it != holes.end() && it->start < b; ++it) {
    if (it->start > a) emit(a, it->start);
    a = std::max(a, it->end);
  }
  if (a < b) emit(a, b);
}

}  // namespace

MemoryCopy::MemoryCopy(pid_t pid, const std::vector<Vma>& vmas, const InheritedPages* inherited,
                       const ParentPages* parent_pages, bool scan)
    : pid_(pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  pagemap_ = ::open((proc + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC);
  mem_ = ::open((proc + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (pagemap_ < 0 || mem_ < 0) {
    int e = errno;
    if (pagemap_ >= 0) ::close(pagemap_);
    if (mem_ >= 0) ::close(mem_);
    throw DumpError("pid " + std::to_string(pid) + ": cannot open its pagemap or mem: " + std::strerror(e));
  }

  std::vector<uint64_t> entries(kBatchPages);
  std::vector<PageRange> regions;
  bool can_scan = scan && !inherited;
  for (size_t vi = 0; vi < vmas.size(); ++vi) {
    const Vma& v = vmas[vi];
    if (!format::vma_kind_takes_pages(v.kind)) continue;
    const bool anon_private = v.kind == VmaKind::AnonPrivate || v.kind == VmaKind::Heap || v.kind == VmaKind::Stack ||
                              v.kind == VmaKind::DevZeroPrivate;
    regions.clear();
    if (can_scan && anon_private && !(v.flags & format::kVmaHugetlb)) {
      if (scan_regions(pagemap_, v.start, v.end, regions)) {
        // As the pagemap plan would have it: guards and the parent's pages
        // left out, runs within its 4 MiB windows from the area's start.
        auto add_part = [&](uint64_t a, uint64_t b, bool precopied) {
          while (a < b) {
            const uint64_t window_end = v.start + ((a - v.start) / kBatchBytes + 1) * kBatchBytes;
            const uint64_t e = std::min(b, window_end);
            PageRun r;
            r.vaddr = a;
            r.npages = (e - a) / kPageSize;
            r.vma = vi;
            if (precopied && (r.precopied = parent_pages->precopied_data(a, e))) {
              r.skip_zero = true;
              runs_.push_back(r);
              a = e;
              continue;
            }
            // Pages written since the parent are the process's own: read
            // directly (pagemap's "mapped once" bit is not at hand).
            r.via_mem = !(parent_pages && parent_pages->is_written(a, e));
            r.skip_zero = true;
            r.offset = bytes_;
            bytes_ += r.npages * kPageSize;
            runs_.push_back(r);
            a = e;
          }
        };
        // Split at the edges of the pages the precopy has (DirtyPages.h).
        auto add = [&](uint64_t a, uint64_t b) {
          if (!parent_pages || parent_pages->precopied.empty()) return add_part(a, b, false);
          const auto& pc = parent_pages->precopied;
          auto it = std::upper_bound(pc.begin(), pc.end(), a, [](uint64_t x, const PageRange& r) { return x < r.end; });
          for (; a < b && it != pc.end() && it->start < b; ++it) {
            if (it->start > a) add_part(a, it->start, false);
            const uint64_t e = std::min(b, it->end);
            add_part(std::max(a, it->start), e, true);
            a = e;
          }
          if (a < b) add_part(a, b, false);
        };
        for (const PageRange& g : regions)
          without(g.start, g.end, v.guards, [&](uint64_t a, uint64_t b) {
            if (parent_pages) without(a, b, parent_pages->runs, add);
            else add(a, b);
          });
        continue;
      }
      can_scan = false;  // no PAGEMAP_SCAN here: pagemap for the rest
    }
    // Pages still the file's or object's are not saved, and a zero page copied
    // on write differs from what lies beneath it, so it is kept.
    const bool file_backed = v.kind == VmaKind::FilePrivate || format::vma_kind_is_private_object(v.kind) ||
                             v.kind == VmaKind::DeletedPrivate;
    // Shared memory saved as pages: no copy-on-write to break, read at full speed.
    const bool shared_kind = v.kind == VmaKind::FileSharedOwn || v.kind == VmaKind::HugetlbShared;
    // A per-process file is saved whole, up to its size, present or not (it is read through the mapping).
    const uint64_t own_end = v.start + (v.file.size + kPageSize - 1) / kPageSize * kPageSize;
    for (uint64_t base = v.start; base < v.end; base += kBatchBytes) {
      uint64_t npages = std::min<uint64_t>(kBatchPages, (v.end - base) / kPageSize);
      size_t bytes = npages * 8;
      if (pread(pagemap_, entries.data(), bytes, off_t(base / kPageSize * 8)) != ssize_t(bytes))
        throw DumpError("pid " + std::to_string(pid) + ": cannot read pagemap at " + hex(base) + " (did it exit?)");
      // A guard page holds nothing and cannot be read.
      auto guarded = [&](uint64_t i) {
        uint64_t a = base + i * kPageSize;
        auto g = std::upper_bound(v.guards.begin(), v.guards.end(), a,
                                  [](uint64_t x, const format::GuardRange& r) { return x < r.end; });
        return g != v.guards.end() && g->start <= a;
      };
      // Pages the child shares with its parent are recorded, not read.
      auto from_parent = [&](uint64_t i) { return inherited && inherited->contains(base + i * kPageSize); };
      auto wanted = [&](uint64_t i) {
        uint64_t e = entries[i];
        if (parent_pages && parent_pages->contains(base + i * kPageSize)) return false;  // the parent image's
        if ((e & kPmGuard) || (!v.guards.empty() && guarded(i))) return false;
        if (v.kind == VmaKind::FileSharedOwn) return base + i * kPageSize < own_end;
        if (e & kPmSwapped) return true;
        if (!(e & kPmPresent)) return false;
        return !file_backed || !(e & kPmFile);  // a private file page still in the page cache is the file's
      };
      // process_vm_readv pins the pages it reads, and since Linux 5.19 the
      // kernel first gives the reader's target a copy of its own of every
      // anonymous page it still shares copy-on-write (a read-only pin of a
      // shared page must not see the other's later writes): reading a tree
      // that way would leave each member holding a private copy of what
      // fork made it share, several times the memory, and no page frame in
      // common for a child to inherit (SharedPages.h). Pages mapped more
      // than once are read through /proc/PID/mem, which takes no pin.
      auto via_mem = [&](uint64_t i) {
        return (entries[i] & kPmPresent) && !(entries[i] & kPmExclusive) && !shared_kind;
      };
      // Runs of pages alike in kind: 0 not saved, 1 inherited, 2 read directly, 3 through mem.
      auto what = [&](uint64_t i) {
        if (from_parent(i)) return 1;
        if (!wanted(i)) return 0;
        return via_mem(i) ? 3 : 2;
      };
      for (uint64_t i = 0; i < npages;) {
        const int w = what(i);
        uint64_t j = i + 1;
        while (j < npages && what(j) == w) ++j;
        if (w != 0) {
          PageRun r;
          r.vaddr = base + i * kPageSize;
          r.npages = j - i;
          r.vma = vi;
          r.inherited = w == 1;
          r.via_mem = w == 3;
          r.skip_zero = !file_backed;
          if (!r.inherited) {
            r.offset = bytes_;
            bytes_ += r.npages * kPageSize;
          }
          runs_.push_back(r);
        }
        i = j;
      }
    }
  }
}

MemoryCopy::~MemoryCopy() {
  if (map_) munmap(map_, map_size_);
  ::close(pagemap_);
  ::close(mem_);
}

std::vector<format::PageChunk> MemoryCopy::planned_chunks() const {
  std::vector<format::PageChunk> out;
  for (const PageRun& r : runs_) {
    format::PageChunk c;
    c.vaddr = r.vaddr;
    c.npages = uint32_t(r.npages);  // at most kBatchPages
    c.encoding = r.inherited ? format::ChunkEncoding::Inherited : format::ChunkEncoding::Raw;
    out.push_back(c);
  }
  return out;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

static constexpr size_t kHugePage = 2u << 20;

CopyArena::~CopyArena() {
  if (map_) munmap(map_, size_);
}

void CopyArena::reserve(uint64_t bytes) {
  if (map_ || bytes == 0) return;
  const uint64_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // Twice the alignment's worth more, to start on a huge-page boundary.
  void* m = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return;
  auto* base = static_cast<uint8_t*>(m);
  auto* aligned = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + kHugePage - 1) & ~(kHugePage - 1));
  if (aligned != base) munmap(base, size_t(aligned - base));
  if (aligned + size != base + size + kHugePage) munmap(aligned + size, size_t(base + size + kHugePage - (aligned + size)));
  madvise(aligned, size, MADV_HUGEPAGE);  // a hint: small pages work too
  if (madvise(aligned, size, MADV_POPULATE_WRITE) != 0) {
    munmap(aligned, size);
    return;
  }
  map_ = aligned;
  size_ = size;
}

uint8_t* CopyArena::take(uint64_t bytes) {
  bytes = (bytes + kPageSize - 1) / kPageSize * kPageSize;
  if (!map_ || size_ - used_ < bytes) return nullptr;
  uint8_t* p = map_ + used_;
  used_ += bytes;
  return p;
}

uint64_t estimate_copy_bytes(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/smaps_rollup").c_str(), "re");
  if (!f) return 0;
  char line[256];
  uint64_t kib = 0, total = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "Rss: %" SCNu64, &kib) == 1 || std::sscanf(line, "Swap: %" SCNu64, &kib) == 1) total += kib;
  std::fclose(f);
  return total << 10;
}

void MemoryCopy::allocate(CopyArena* arena) {
  if (buffer_ || bytes_ == 0) return;
  if (arena && (buffer_ = arena->take(bytes_))) return;
  // Huge pages if the machine gives them: first-touching a gigabyte of
  // small pages would cost a quarter of a million page faults, while the
  // target waits.
  constexpr size_t kHuge = 2u << 20;
  map_size_ = (bytes_ + kHuge - 1) / kHuge * kHuge + kHuge;
  void* m = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED)
    throw DumpError("pid " + std::to_string(pid_) + ": cannot map " + std::to_string(bytes_ >> 20) +
                    " MiB to copy its memory into: " + std::strerror(errno));
  map_ = static_cast<uint8_t*>(m);
  buffer_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(map_) + kHuge - 1) & ~(kHuge - 1));
  madvise(buffer_, map_size_ - size_t(buffer_ - map_) , MADV_HUGEPAGE);  // a hint: small pages work too
}

void MemoryCopy::copy(size_t i, uint64_t from, uint64_t npages, bool same_mm) {
  const PageRun& r = runs_.at(i);
  if (r.inherited || r.precopied) return;
  npages = std::min(npages, r.npages - from);
  const uint64_t addr = r.vaddr + from * kPageSize;
  uint8_t* to = buffer_ + r.offset + from * kPageSize;
  if (r.via_mem || same_mm) read_through_mem(pid_, mem_, addr, to, npages * kPageSize);
  else read_remote(pid_, mem_, addr, to, npages * kPageSize);
}

void MemoryCopy::copy_all(CopyArena* arena) {
  allocate(arena);
  // Runs read directly and adjacent in the buffer go to one
  // process_vm_readv, up to IOV_MAX of them: an incremental dump's written
  // pages are thousands of one-page runs, each a system call otherwise.
  constexpr size_t kIovMax = 1024;
  std::vector<iovec> remote;
  remote.reserve(kIovMax);
  for (size_t i = 0; i < runs_.size();) {
    const PageRun& r = runs_[i];
    if (r.inherited || r.via_mem || r.precopied) {
      copy(i++);
      continue;
    }
    size_t j = i;
    uint64_t bytes = 0;
    remote.clear();
    while (j < runs_.size() && remote.size() < kIovMax && !runs_[j].inherited && !runs_[j].via_mem &&
           !runs_[j].precopied && runs_[j].offset == r.offset + bytes) {
      remote.push_back({reinterpret_cast<void*>(runs_[j].vaddr), runs_[j].npages * kPageSize});
      bytes += runs_[j].npages * kPageSize;
      ++j;
    }
    iovec local{buffer_ + r.offset, bytes};
    if (j - i > 1 && process_vm_readv(pid_, &local, 1, remote.data(), remote.size(), 0) == ssize_t(bytes)) {
      i = j;
      continue;
    }
    for (; i < j; ++i) copy(i);  // one at a time, each with its own fallback
  }
}

MemoryStats MemoryCopy::write(format::ImageWriter& writer, const std::function<void()>& written,
                              const std::vector<format::PageChunk>* parent_chunks) {
  MemoryStats stats;
  std::vector<uint8_t> scratch;  // without a buffer: one batch read now
  size_t pc = 0;                 // cursor into parent_chunks
  uint64_t since_written = 0;
  for (size_t i = 0; i < runs_.size(); ++i) {
    const PageRun& r = runs_[i];
    if (r.inherited) {
      // Only what the parent saved can be inherited; the rest of the run is
      // pages the parent left out as all-zero, the very same frames: zero too.
      uint64_t at = r.vaddr;
      const uint64_t end = r.vaddr + r.npages * kPageSize;
      if (!parent_chunks) {
        writer.add_inherited(r.vaddr, r.npages);
        stats.pages_inherited += r.npages;
        continue;
      }
      const auto& pcs = *parent_chunks;
      while (pc < pcs.size() && pcs[pc].vaddr + pcs[pc].size() <= at) ++pc;
      for (size_t k = pc; k < pcs.size() && pcs[k].vaddr < end && at < end; ++k) {
        const uint64_t lo = std::max(at, pcs[k].vaddr), hi = std::min(end, pcs[k].vaddr + pcs[k].size());
        if (hi <= lo) continue;
        stats.zero_pages_skipped += (lo - at) / kPageSize;
        writer.add_inherited(lo, (hi - lo) / kPageSize);
        stats.pages_inherited += (hi - lo) / kPageSize;
        at = hi;
      }
      stats.zero_pages_skipped += (end - at) / kPageSize;
      continue;
    }
    const uint8_t* data;
    if (r.precopied) {
      data = r.precopied;
    } else if (buffer_) {
      data = buffer_ + r.offset;
    } else {
      scratch.resize(r.npages * kPageSize);
      if (r.via_mem) read_through_mem(pid_, mem_, r.vaddr, scratch.data(), scratch.size());
      else read_remote(pid_, mem_, r.vaddr, scratch.data(), scratch.size());
      data = scratch.data();
    }
    // Split the run at all-zero pages of anonymous memory.
    for (uint64_t k = 0; k < r.npages;) {
      if (r.skip_zero && all_zero(data + k * kPageSize)) {
        ++stats.zero_pages_skipped;
        ++k;
        continue;
      }
      uint64_t m = k + 1;
      while (m < r.npages && (!r.skip_zero || !all_zero(data + m * kPageSize))) ++m;
      writer.add_pages(r.vaddr + k * kPageSize, data + k * kPageSize, m - k);
      stats.pages_saved += m - k;
      k = m;
    }
    since_written += r.npages;
    if (since_written >= kBatchPages) {
      written();
      since_written = 0;
    }
  }
  written();
  return stats;
}

}  // namespace ckpt::dumper
