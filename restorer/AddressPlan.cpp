// Hole finding and reservation (see AddressPlan.h).
#include "restorer/AddressPlan.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "format/Limits.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

using format::kPageSize;

bool is_staged(const format::Vma& v) { return !format::vma_kind_is_special(v.kind); }

// A large anonymous area is staged at the same offset within 2 MiB as its
// final address, so that huge pages staging gives it (HugeBlocks.h) stay
// whole when the trampoline's mremap moves it (the kernel moves a huge page
// table entry only between two aligned places, and splits it otherwise).
constexpr uint64_t kHugeOffset = 2u << 20;
static bool keeps_huge_offset(const format::Vma& v) {
  return (v.kind == format::VmaKind::AnonPrivate || v.kind == format::VmaKind::Heap) &&
         !(v.flags & format::kVmaHugetlb) && v.size() >= kHugeOffset;
}

AddressPlan plan_addresses(const format::Image& image, const std::vector<x86::MapsEntry>& self_maps,
                           uint64_t home_size, uint64_t scratch_size, const std::vector<uint64_t>* in_place) {
  AddressPlan p;
  p.home_size = home_size;
  p.scratch_size = scratch_size;
  p.staged.assign(image.vmas.size(), 0);
  // The launcher's own mappings as maps listed them (sorted, disjoint): a
  // VMA overlapping one of them is not tried (the attempt would only fail,
  // a system call per VMA on a small restore's path). Whatever was mapped
  // since is still caught by MAP_FIXED_NOREPLACE.
  auto launcher_uses = [&](uint64_t start, uint64_t end) {
    auto it = std::lower_bound(self_maps.begin(), self_maps.end(), start,
                               [](const x86::MapsEntry& e, uint64_t a) { return e.end <= a; });
    return it != self_maps.end() && it->start < end;
  };
  // A VMA whose final range the launcher does not use is built right there:
  // nothing to move later, and the kernel's view of it (anonymous pgoff,
  // merging with later brk growth) is exactly that of a fresh mapping.
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    const format::Vma& v = image.vmas[i];
    if (!is_staged(v)) continue;
    if (in_place && i < in_place->size() && (*in_place)[i] == v.start) {
      p.staged[i] = v.start;
      continue;
    }
    if (launcher_uses(v.start, v.end)) continue;
    void* r = mmap(reinterpret_cast<void*>(v.start), v.size(), PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (r != MAP_FAILED) {
      if (uint64_t(r) == v.start) p.staged[i] = v.start;
      else munmap(r, v.size());  // kernels before 4.17 treat the flag as a hint
    }
  }
  uint64_t total = home_size + kPageSize + scratch_size + kPageSize;
  // Huge-page memory is staged at an address aligned to its page size
  // (mmap and mremap of MAP_HUGETLB memory need it): room for the padding.
  for (size_t i = 0; i < image.vmas.size(); ++i)
    if (is_staged(image.vmas[i]) && !p.staged[i])
      total += image.vmas[i].size() + kPageSize + (format::vma_alignment(image.vmas[i]) - kPageSize) +
               (keeps_huge_offset(image.vmas[i]) ? kHugeOffset : 0);
  p.size = total;

  std::vector<std::pair<uint64_t, uint64_t>> used;
  // self_maps predates the in-place reservations, which lie inside saved VMAs anyway.
  for (const auto& e : self_maps)
    if (e.start < format::kUserSpaceEnd) used.emplace_back(e.start, std::min(e.end, format::kUserSpaceEnd));
  for (const format::Vma& v : image.vmas) used.emplace_back(v.start, v.end);
  std::sort(used.begin(), used.end());

  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const auto& u : used) {
    if (!merged.empty() && u.first <= merged.back().second) merged.back().second = std::max(merged.back().second, u.second);
    else merged.push_back(u);
  }

  // The highest hole that fits, above the first 4 GiB (left to brk and
  // non-PIE programs), like the kernel's top-down mmap.
  const uint64_t floor = 1ull << 32, top = format::kUserSpaceEnd - kPageSize;
  uint64_t chosen = 0;
  for (size_t i = merged.size();; --i) {
    uint64_t lo = std::max(i == 0 ? floor : merged[i - 1].second, floor);
    uint64_t hi = std::min(i == merged.size() ? top : merged[i].first, top);
    if (hi > lo && hi - lo >= total) {
      chosen = (hi - total) & ~uint64_t(0x1fffff);  // 2 MiB aligned where it fits: room for huge pages
      if (chosen < lo) chosen = (hi - total) & ~uint64_t(kPageSize - 1);
      break;
    }
    if (i == 0) break;
  }
  if (!chosen) throw RestoreError("no free address range of " + std::to_string(total >> 20) + " MiB to stage the image in");

  void* r = mmap(reinterpret_cast<void*>(chosen), total, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (r == MAP_FAILED || uint64_t(r) != chosen)
    throw RestoreError(std::string("cannot reserve the staging range: ") + std::strerror(errno));
  p.base = chosen;
  uint64_t cursor = chosen;
  p.home = cursor;
  cursor += home_size + kPageSize;
  p.scratch = scratch_size ? cursor : 0;
  cursor += scratch_size + kPageSize;
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    if (!is_staged(image.vmas[i]) || p.staged[i]) continue;
    const uint64_t align = format::vma_alignment(image.vmas[i]);
    cursor = (cursor + align - 1) & ~(align - 1);
    if (keeps_huge_offset(image.vmas[i])) cursor += (image.vmas[i].start - cursor) & (kHugeOffset - 1);
    p.staged[i] = cursor;
    cursor += image.vmas[i].size() + kPageSize;
  }
  return p;
}

}  // namespace ckpt::restorer
