// Copy-on-write sharing given back to a child member of a tree. Its launcher
// is forked from its parent's after the parent staged its memory, so the
// parent's staged copy of every area is already in the child's address
// space, shared copy-on-write. A child area holding inherited chunks
// (format::ChunkEncoding::Inherited) keeps that copy of its range: it stays
// where it is when the parent built it in place (so the anonymous page
// offset is the kernel's own), or is moved with mremap into the child's
// staging slot (sharing kept), and then the child writes only its own
// chunks over it and discards (MADV_DONTNEED) every page it has no chunk
// for. Inherited pages are never touched, which would break the sharing.
//
// The order in the child's launcher, right after the fork:
//   ChildPages keep = plan_child_pages(child, parent, parent_plan);
//   release_parent_memory(parent, parent_plan, child, keep);
//   plan = plan_addresses(child, self_maps, ..., &keep.in_place);
//   place_child_pages(child, keep, plan);
//   stage_memory(..., &keep);
// The parent must fork before it writes anything into its staged memory
// (launch(): glibc's cached tid, the resume frame), or a child would keep
// those bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "format/Image.h"
#include "restorer/AddressPlan.h"

namespace ckpt::restorer {

struct ChildPages {
  // Per child VMA: where the parent's staged copy of its range lies in this
  // launcher (0: the area takes nothing from the parent and is staged anew),
  // and how much of the area it covers: all of it, or the part up to the
  // end of the parent's area (the child grew it, as a heap grows); the rest
  // is fresh memory the kept copy is grown by.
  std::vector<uint64_t> from, length;
  // Per child VMA: `from` when that is the area's own address (the parent
  // built it in place), else 0; the preset of the child's address plan.
  std::vector<uint64_t> in_place;
  bool keeps(size_t vma) const { return vma < from.size() && from[vma] != 0; }
};

// Which areas of `child` keep their parent's staged copy, and where it is.
// No side effects. Relies on format::validate_inherited (the child's image
// validated against `parent`).
ChildPages plan_child_pages(const format::Image& child, const format::Image& parent, const AddressPlan& parent_plan);

// In the child's launcher, before its own address plan: unmaps what it
// inherited of the parent's staging (every staged area and the parent's
// reservation) except the ranges `keep` names, so that the child's own
// areas can be built in place where the parent's were. A kept range in
// place that must grow gets the room it grows into reserved; where that
// room is taken (by the launcher itself), it is no longer in place: the
// plan gives it a slot.
void release_parent_memory(const format::Image& parent, const AddressPlan& parent_plan, const format::Image& child,
                           ChildPages& keep);

// After the child's address plan: each kept range not in place is moved
// (mremap: no copy, the sharing stays) onto its area's staging slot, and
// grown to the area's size (in place, or while it moves): one mapping, as
// the original child's grown area was one VMA.
void place_child_pages(const format::Image& child, const ChildPages& keep, const AddressPlan& plan);

// For stage_memory: every page of a kept area `v` (staged at `at`) that no
// chunk of the child covers is discarded, so it reads as zeros as in the
// original child; pages of its inherited chunks are left alone.
void discard_uncovered(const format::Image& child, size_t vma, uint64_t at);

}  // namespace ckpt::restorer
