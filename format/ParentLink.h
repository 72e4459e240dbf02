// The record that makes an image incremental (SectionType::Parent, 30;
// docs/format.md, "Incremental images"): which image it was dumped against
// (the parent's path and its trailer checksum, the parent's identity), and
// the runs of pages whose contents are the parent's: pages of a tracked
// area that were present and not written since the parent was dumped. A
// page of an incremental image is then, in this order: in one of its own
// chunks; in a parent run (the parent's page at that address, which the
// parent may itself hold through its own parent); else, as in every image,
// zero (anonymous memory) or the file's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::format {

struct Image;
struct Vma;
class ImageReader;

struct ParentRun {
  uint64_t vaddr = 0;   // page-aligned
  uint64_t npages = 0;  // >= 1
};

struct ParentLink {
  std::string path;       // the parent image, absolute, as it was at dump
  uint64_t checksum = 0;  // the parent's trailer checksum (image_checksum)
  uint32_t depth = 0;     // 1: the parent is a full image; n: n images below this one
  std::vector<ParentRun> runs;  // sorted, disjoint, each inside one trackable VMA
};

std::vector<uint8_t> encode_parent_link(const ParentLink& link);
ParentLink decode_parent_link(const uint8_t* data, size_t n, uint64_t base);

// Areas whose pages an incremental dump can take from its parent: private
// anonymous memory (plain, heap, stack) without huge-page or droppable flags.
// Every other area is saved whole in every image.
bool vma_is_trackable(const Vma& v);

// An image's identity: the xxh3-64 checksum at the end of its trailer,
// which covers every section's offset, length and checksum (so any change
// to any byte of its metadata or page data changes it).
uint64_t image_checksum(const ImageReader& reader);

// The rules on a parent record (part of validate_image): only the root of
// a single-process image has one; its path is absolute; its runs are sorted,
// disjoint, page-aligned, each inside one trackable VMA, and none overlaps a
// chunk of the image's own. O(n + m).
void validate_parent_link(const Image& image, uint64_t at);

}  // namespace ckpt::format
