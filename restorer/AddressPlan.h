// Phase 2: where everything lives while the launcher still runs. A saved
// VMA whose range the launcher does not use is reserved and built in place.
// One more reservation, in a hole that neither the image's VMAs nor any
// mapping of the launcher touches, holds the trampoline's home, a scratch
// span for moving the vdso past itself, and a staging slot for every other
// VMA (moved into place by the trampoline), each after a guard page.
#pragma once

#include <cstdint>
#include <vector>

#include "format/Image.h"
#include "x86/ProcMaps.h"

namespace ckpt::restorer {

struct AddressPlan {
  uint64_t base = 0, size = 0;           // the whole reservation
  uint64_t home = 0, home_size = 0;
  uint64_t scratch = 0, scratch_size = 0;
  std::vector<uint64_t> staged;          // per image VMA: where it is built (its own start if in place), 0 for vdso/vvar
  std::vector<bool> lazy;                // per image VMA (empty: none): mapped empty, filled by the page server
  bool is_lazy(size_t vma) const { return vma < lazy.size() && lazy[vma]; }
};

// Whether a VMA of this kind is built at a staging address (vdso and vvar
// are moved from the launcher's own instead).
bool is_staged(const format::Vma& v);

// Finds the hole and reserves it (PROT_NONE, MAP_FIXED_NOREPLACE).
// `in_place` (per VMA, or nullptr): areas already built at their own
// address (a child member keeping its parent's copy, ChildPages.h), taken
// as they are.
AddressPlan plan_addresses(const format::Image& image, const std::vector<x86::MapsEntry>& self_maps,
                           uint64_t home_size, uint64_t scratch_size,
                           const std::vector<uint64_t>* in_place = nullptr);

}  // namespace ckpt::restorer
