// The semantic rules an image must obey beyond its framing: every address
// range canonical, page-aligned, sorted, non-overlapping and below the
// user-space limit; every chunk inside one VMA that takes saved pages and
// inside the page data section; sizes consistent; the saved CPU state
// resumable (leader first, XSAVE layout, LDT entries, segment selectors,
// cached thread ids in writable memory). Machine-independent: what depends
// on the restoring machine (CPU features, files, vdso) is checked by the
// restorer. Every rule here runs in `restore` and in `ckpt dump` (which
// re-reads its own image before committing it), so a dump never commits,
// nor kills for, an image that restore refuses for its content.
#pragma once

#include <vector>

#include "format/Image.h"
#include "format/ImageReader.h"

namespace ckpt::format {

// Throws FormatError naming the offending record and the section's offset.
// `sections`: the member's own sections and the image-wide ones. `root`:
// the tree's root, whose fds 0-2 are restore's own (another member's fds
// 0-2 are saved like any other). `parent`: the image of the process's
// parent member (its inherited chunks are checked against it); nullptr for
// the root or a single process, which may have none.
void validate_image(const Image& image, const std::vector<SectionInfo>& sections, bool root = true,
                    const Image* parent = nullptr);

// The tree's rules (docs/format.md, "Process trees"): member 0 live, parents
// before children, unique pids, sessions and groups restore can make again,
// and open file descriptions, pipes and shared objects consistent across
// members. O(n log n) in members and descriptors.
void validate_tree(const ProcessTree& tree, const std::vector<Image>& members, const std::vector<SectionInfo>& sections);

// Whether a private anonymous VMA passes its pages on to a child across
// fork unchanged and can take inherited chunks (ChunkEncoding::Inherited):
// plain, heap or stack memory without huge-page, droppable, locked,
// don't-fork or wipe-on-fork flags, and without guard pages.
bool vma_can_inherit(const Vma& v);

// The rules on a child's inherited chunks against its parent (nullptr: it
// has none, so no chunk may be inherited): the child's area starts inside a
// parent area of the same kind and flags that vma_can_inherit, each chunk
// ends within it, and the parent saved every such page. Part of
// validate_image; O(n log n + m).
void validate_inherited(const Image& child, const Image* parent, uint64_t index_at);

// Whether pages of a VMA of this kind are saved in page data.
bool vma_kind_takes_pages(VmaKind kind);

}  // namespace ckpt::format
