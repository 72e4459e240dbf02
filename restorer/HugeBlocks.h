// Transparent huge pages for staged anonymous memory, without any change to
// what the restored process's VMAs say. Staging hands over the 2 MiB blocks
// that the image fills completely (staged addresses, 2 MiB aligned, in
// areas whose final alignment is the same); before any page is written,
// each block gets one huge page:
//
// - moved in: every worker faults a huge page into a small MADV_HUGEPAGE
//   buffer of its own (MADV_POPULATE_WRITE) and moves it, page table entry
//   and all, onto the block (UFFDIO_MOVE, Linux 6.8+, the blocks registered
//   with a userfaultfd only for the moves). The target area never gets
//   VM_HUGEPAGE; the zeroing runs on every core.
// - or, where that is refused (older kernel, seccomp), collapsed: one page
//   made present, then MADV_COLLAPSE (Linux 6.1+) turns the block into one
//   zeroed huge page; it also leaves the VMA flags alone, but runs one block
//   at a time (it takes the mm's lock for writing).
// - or, where neither works or no huge page is free, nothing: the chunks'
//   own MADV_POPULATE_WRITE gives the block small pages, as before.
//
// None of this can fail a restore. Only smaps' AnonHugePages (and what sums
// it) tells the difference; docs/architecture.md, "Stage", says why that is
// acceptable.
#pragma once

#include <cstdint>
#include <vector>

namespace ckpt::restorer {

inline constexpr uint64_t kHugeBlock = 2u << 20;

// `blocks`: staged addresses, sorted, each block inside one writable private
// anonymous staged area that nothing has touched yet. Uses up to `workers`
// threads.
void give_huge_pages(const std::vector<uint64_t>& blocks, unsigned workers);

}  // namespace ckpt::restorer
