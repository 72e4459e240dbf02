// A child member keeping its parent's staged pages (see ChildPages.h).
#include "restorer/ChildPages.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "format/Hex.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

using format::hex;
using format::Vma;

// The VMA of `vmas` (sorted, disjoint) holding `addr`, or npos.
static size_t holding(const std::vector<Vma>& vmas, uint64_t addr) {
  auto it = std::upper_bound(vmas.begin(), vmas.end(), addr, [](uint64_t a, const Vma& v) { return a < v.start; });
  if (it == vmas.begin() || std::prev(it)->end <= addr) return SIZE_MAX;
  return size_t(std::prev(it) - vmas.begin());
}

ChildPages plan_child_pages(const format::Image& child, const format::Image& parent, const AddressPlan& parent_plan) {
  ChildPages keep;
  keep.from.assign(child.vmas.size(), 0);
  keep.length.assign(child.vmas.size(), 0);
  keep.in_place.assign(child.vmas.size(), 0);
  const std::vector<size_t> chunk_vma = format::chunk_vmas(child);
  for (size_t ci = 0; ci < child.chunks.size(); ++ci) {
    const size_t vi = chunk_vma[ci];
    if (!child.chunks[ci].inherited() || keep.from[vi]) continue;
    const Vma& v = child.vmas[vi];
    const size_t pi = holding(parent.vmas, v.start);
    // Validation (validate_inherited) made sure of the parent's area; its staging is this restore's own.
    if (pi == SIZE_MAX || pi >= parent_plan.staged.size() || !parent_plan.staged[pi])
      throw RestoreError("the parent's copy of the area at " + hex(v.start) + " was not staged");
    if (parent_plan.is_lazy(pi))
      throw RestoreError("the parent's area at " + hex(parent.vmas[pi].start) +
                         " is restored lazily, but a child inherits pages of it");
    keep.from[vi] = parent_plan.staged[pi] + (v.start - parent.vmas[pi].start);
    keep.length[vi] = std::min(v.end, parent.vmas[pi].end) - v.start;
    if (keep.from[vi] == v.start) keep.in_place[vi] = v.start;
  }
  return keep;
}

void release_parent_memory(const format::Image& parent, const AddressPlan& parent_plan, const format::Image& child,
                           ChildPages& keep) {
  std::vector<std::pair<uint64_t, uint64_t>> drop, kept;
  if (parent_plan.size) drop.emplace_back(parent_plan.base, parent_plan.base + parent_plan.size);
  for (size_t i = 0; i < parent.vmas.size() && i < parent_plan.staged.size(); ++i)
    if (parent_plan.staged[i]) drop.emplace_back(parent_plan.staged[i], parent_plan.staged[i] + parent.vmas[i].size());
  for (size_t i = 0; i < child.vmas.size(); ++i)
    if (keep.keeps(i)) kept.emplace_back(keep.from[i], keep.from[i] + keep.length[i]);
  std::sort(drop.begin(), drop.end());
  std::sort(kept.begin(), kept.end());
  // The union of the dropped ranges (staging slots lie inside the
  // reservation), minus the kept ranges (disjoint, each inside one of them).
  std::vector<std::pair<uint64_t, uint64_t>> all;
  for (const auto& d : drop) {
    if (!all.empty() && d.first <= all.back().second) all.back().second = std::max(all.back().second, d.second);
    else all.push_back(d);
  }
  auto unmap = [](uint64_t lo, uint64_t hi) {
    if (hi > lo && munmap(reinterpret_cast<void*>(lo), hi - lo) != 0)
      throw RestoreError("cannot unmap the parent's staged memory at " + hex(lo) + ": " + std::strerror(errno));
  };
  size_t k = 0;
  for (const auto& u : all) {
    uint64_t at = u.first;
    while (k < kept.size() && kept[k].second <= at) ++k;
    for (; k < kept.size() && kept[k].first < u.second; ++k) {
      unmap(at, kept[k].first);
      at = std::max(at, kept[k].second);
    }
    unmap(at, u.second);
  }
  // Room for the kept ranges in place that grow, held until they do.
  for (size_t i = 0; i < child.vmas.size(); ++i) {
    if (!keep.keeps(i) || !keep.in_place[i] || keep.length[i] == child.vmas[i].size()) continue;
    const uint64_t tail = keep.from[i] + keep.length[i], len = child.vmas[i].size() - keep.length[i];
    void* r = mmap(reinterpret_cast<void*>(tail), len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (r == reinterpret_cast<void*>(tail)) continue;
    if (r != MAP_FAILED) munmap(r, len);
    keep.in_place[i] = 0;
  }
}

void place_child_pages(const format::Image& child, const ChildPages& keep, const AddressPlan& plan) {
  for (size_t i = 0; i < child.vmas.size(); ++i) {
    if (!keep.keeps(i)) continue;
    const uint64_t size = child.vmas[i].size(), length = keep.length[i];
    void* r;
    if (keep.in_place[i]) {
      if (length == size) continue;
      // Grown where it is, into the room release_parent_memory held for it.
      munmap(reinterpret_cast<void*>(keep.from[i] + length), size - length);
      r = mremap(reinterpret_cast<void*>(keep.from[i]), length, size, 0);
    } else {
      if (!plan.staged[i] || plan.staged[i] == keep.from[i])
        throw RestoreError("no staging slot for " + hex(child.vmas[i].start));
      r = mremap(reinterpret_cast<void*>(keep.from[i]), length, size, MREMAP_MAYMOVE | MREMAP_FIXED,
                 reinterpret_cast<void*>(plan.staged[i]));
    }
    if (r == MAP_FAILED)
      throw RestoreError("cannot " + std::string(keep.in_place[i] ? "grow" : "move") +
                         " the parent's copy of the area at " + hex(child.vmas[i].start) + " to its " +
                         std::to_string(size >> 10) + " KiB: " + std::strerror(errno));
  }
}

void discard_uncovered(const format::Image& child, size_t vma, uint64_t at) {
  const Vma& v = child.vmas[vma];
  auto c = std::lower_bound(child.chunks.begin(), child.chunks.end(), v.start,
                            [](const format::PageChunk& x, uint64_t a) { return x.vaddr < a; });
  uint64_t from = v.start;
  auto discard = [&](uint64_t lo, uint64_t hi) {
    if (hi > lo && madvise(reinterpret_cast<void*>(at + (lo - v.start)), hi - lo, MADV_DONTNEED) != 0)
      throw RestoreError("cannot discard the parent's pages at " + hex(lo) + ": " + std::strerror(errno));
  };
  for (; c != child.chunks.end() && c->vaddr < v.end; ++c) {
    discard(from, c->vaddr);
    from = c->vaddr + c->size();
  }
  discard(from, v.end);
}

}  // namespace ckpt::restorer
