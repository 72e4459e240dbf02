// Copy-on-write sharing between a child member of a tree and its parent
// member: the pages of the child's private anonymous memory that are still
// the very page its parent has at the same address (fork shares them until
// one side writes). They are found by page frame number in both processes'
// /proc/PID/pagemap, which the kernel shows only to a reader with
// CAP_SYS_ADMIN; such pages are recorded as inherited chunks
// (format::ChunkEncoding::Inherited), their bytes not stored again, and a
// restore gives them back shared (docs/architecture.md, "Process trees").
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "format/Image.h"

namespace ckpt::dumper {

struct PageRange {
  uint64_t start = 0, end = 0;  // [start, end), page-aligned
};

struct InheritedPages {
  std::vector<PageRange> runs;  // sorted, disjoint, not adjacent
  // The kernel hid page frame numbers from this dumper (no CAP_SYS_ADMIN):
  // nothing could be found, and every page is saved by each member.
  bool frames_hidden = false;
  uint64_t pages() const;
  bool contains(uint64_t addr) const;
};

// Whether this process sees page frame numbers in pagemap files it opens.
bool page_frames_visible();

// What `ckpt dump` says, once, when a tree has children but frames are hidden.
inline constexpr const char* kFramesHiddenWarning =
    "page frame numbers are hidden from this dumper (it lacks CAP_SYS_ADMIN): memory that children still share "
    "copy-on-write with their parents is saved once per process and comes back duplicated";

// The pages of `child` (stopped) that are `parent`'s (stopped) page at the
// same address, in the child's VMAs that format::vma_can_inherit and that
// start inside a parent VMA of the same kind and flags, up to that VMA's
// end (a child's area may have grown past it): exactly what format::
// validate_inherited accepts. Only pages the
// parent saves count (`parent_chunks`, stored or themselves inherited: its
// restore will have staged them): the dumper passes the parent's plan
// (MemoryCopy::planned_chunks), and MemoryCopy::write later drops the
// pages the parent turned out not to store (all zero). A page frame seen
// in both is one physical page, so its bytes are the same in both processes.
InheritedPages find_inherited_pages(pid_t child, const std::vector<format::Vma>& child_vmas, pid_t parent,
                                    const std::vector<format::Vma>& parent_vmas,
                                    const std::vector<format::PageChunk>& parent_chunks);

}  // namespace ckpt::dumper
