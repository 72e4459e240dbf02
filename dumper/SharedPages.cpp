// Finding the pages a child member shares with its parent (see SharedPages.h).
#include "dumper/SharedPages.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"
#include "format/Hex.h"
#include "format/Validate.h"

namespace ckpt::dumper {

using format::kPageSize;
using format::Vma;

static constexpr uint64_t kPmPresent = 1ull << 63;
static constexpr uint64_t kPmPfnMask = (1ull << 55) - 1;  // bits 0-54
static constexpr uint64_t kBatchPages = 1024;

uint64_t InheritedPages::pages() const {
  uint64_t n = 0;
  for (const PageRange& r : runs) n += (r.end - r.start) / kPageSize;
  return n;
}

bool InheritedPages::contains(uint64_t addr) const {
  auto it = std::upper_bound(runs.begin(), runs.end(), addr, [](uint64_t a, const PageRange& r) { return a < r.end; });
  return it != runs.end() && it->start <= addr;
}

static int open_pagemap(pid_t pid) {
  int fd = ::open(("/proc/" + std::to_string(pid) + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DumpError("pid " + std::to_string(pid) + ": cannot open its pagemap: " + std::strerror(errno));
  return fd;
}

static void read_entries(int fd, pid_t pid, uint64_t addr, uint64_t npages, uint64_t* out) {
  const size_t bytes = npages * 8;
  if (pread(fd, out, bytes, off_t(addr / kPageSize * 8)) != ssize_t(bytes))
    throw DumpError("pid " + std::to_string(pid) + ": cannot read pagemap at " + format::hex(addr) + " (did it exit?)");
}

bool page_frames_visible() {
  // A page of this very stack, present since it is being written: its frame
  // number reads as 0 when the kernel hides frames from the opener.
  volatile uint64_t probe = 1;
  probe = probe + 1;
  ScopedFd fd(open_pagemap(getpid()));
  uint64_t e = 0;
  read_entries(fd.get(), getpid(), uint64_t(reinterpret_cast<uintptr_t>(&probe)) & ~uint64_t(kPageSize - 1), 1, &e);
  return (e & kPmPresent) && (e & kPmPfnMask) != 0;
}

// The VMA of `vmas` (sorted, disjoint) that holds `addr`, or nullptr.
static const Vma* holding(const std::vector<Vma>& vmas, uint64_t addr) {
  auto it = std::upper_bound(vmas.begin(), vmas.end(), addr, [](uint64_t a, const Vma& v) { return a < v.start; });
  if (it == vmas.begin()) return nullptr;
  --it;
  return it->end > addr ? &*it : nullptr;
}

static void add_run(std::vector<PageRange>& runs, uint64_t start, uint64_t end) {
  if (!runs.empty() && runs.back().end == start) runs.back().end = end;
  else runs.push_back({start, end});
}

InheritedPages find_inherited_pages(pid_t child, const std::vector<Vma>& child_vmas, pid_t parent,
                                    const std::vector<Vma>& parent_vmas,
                                    const std::vector<format::PageChunk>& parent_chunks) {
  InheritedPages out;
  if (!page_frames_visible()) {
    out.frames_hidden = true;
    return out;
  }
  ScopedFd cmap(open_pagemap(child)), pmap(open_pagemap(parent));
  std::vector<uint64_t> ce(kBatchPages), pe(kBatchPages);
  // Parent chunks are sorted and disjoint, and so are the child's VMAs: one
  // cursor walks them once.
  size_t pc = 0;
  for (const Vma& v : child_vmas) {
    if (!format::vma_can_inherit(v)) continue;
    // The parent's area where v starts; v may go on past its end (a heap the
    // child grew), and only the common part can be the parent's.
    const Vma* p = holding(parent_vmas, v.start);
    if (!p || p->kind != v.kind || p->flags != v.flags || !format::vma_can_inherit(*p)) continue;
    const uint64_t common_end = std::min(v.end, p->end);
    while (pc < parent_chunks.size() && parent_chunks[pc].vaddr + parent_chunks[pc].size() <= v.start) ++pc;
    // Each part of it that the parent saved, compared frame by frame.
    for (size_t k = pc; k < parent_chunks.size() && parent_chunks[k].vaddr < common_end; ++k) {
      const uint64_t lo = std::max(v.start, parent_chunks[k].vaddr);
      const uint64_t hi = std::min(common_end, parent_chunks[k].vaddr + parent_chunks[k].size());
      for (uint64_t base = lo; base < hi; base += kBatchPages * kPageSize) {
        const uint64_t n = std::min<uint64_t>(kBatchPages, (hi - base) / kPageSize);
        read_entries(cmap.get(), child, base, n, ce.data());
        read_entries(pmap.get(), parent, base, n, pe.data());
        for (uint64_t i = 0; i < n; ++i) {
          const uint64_t pfn = ce[i] & kPmPfnMask;
          if ((ce[i] & kPmPresent) && (pe[i] & kPmPresent) && pfn && pfn == (pe[i] & kPmPfnMask))
            add_run(out.runs, base + i * kPageSize, base + (i + 1) * kPageSize);
        }
      }
    }
  }
  return out;
}

}  // namespace ckpt::dumper
