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
// 0-2 are saved like any other).
void validate_image(const Image& image, const std::vector<SectionInfo>& sections, bool root = true);

// The tree's rules (docs/format.md, "Process trees"): member 0 live, parents
// before children, unique pids, sessions and groups restore can make again,
// and open file descriptions, pipes and shared objects consistent across
// members. O(n log n) in members and descriptors.
void validate_tree(const ProcessTree& tree, const std::vector<Image>& members, const std::vector<SectionInfo>& sections);

// Whether pages of a VMA of this kind are saved in page data.
bool vma_kind_takes_pages(VmaKind kind);

}  // namespace ckpt::format
