// Following an incremental image down to its full image (docs/format.md,
// "Incremental images"): each parent is opened (at the path its child
// names, else under the same name beside the child), checked to be the very
// image the child was dumped against (its trailer checksum), and read like
// any image; then the child's pages are resolved: each page of a parent run
// becomes the chunk of the nearest image below that holds it, or nothing
// (zero) when none does. No side effects: restore, `restore --check`,
// `ckpt verify` and `ckpt inspect` all go through it before anything else.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "format/ImageReader.h"

namespace ckpt::format {

// One image of a chain, as found.
struct ChainLink {
  std::string path;      // where it was found
  uint64_t checksum = 0; // its trailer checksum
  uint64_t own_pages = 0, parent_pages = 0;  // pages in its own chunks; pages of its parent runs
};

// Images a restore already holds, by identity, instead of files: the
// pre-copy rounds a migration received (restorer/ImageSource.h). When a
// follow_chain is given them, every parent is looked up among them by its
// checksum and nowhere else (no path the sender named is ever opened).
struct HeldImage {
  std::string name;       // how messages name it ("round 2 of the migration")
  int fd = -1;            // read-only; owned by the holder
  uint64_t checksum = 0;  // its trailer checksum (image_checksum)
  // Its page data was checked whole (verify_page_data) and `fd` cannot
  // change (a sealed memfd): its readers skip the chunks' checksums, which
  // were checked at receipt (ImageReader::trust_page_data).
  bool page_data_checked = false;
};
using HeldImages = std::vector<HeldImage>;

// Opens the chain below `top` (opened from `top_path`) and resolves its
// pages into it (ImageReader::adopt_chain). Nothing happens for a full
// image. Throws std::runtime_error with one line naming the image and its
// parent when a parent is missing, different (checksum mismatch), not an
// image of one process, or too deep; FormatError for a corrupt link.
// Returns the chain, `top` first, its full image last.
// `held`: see HeldImage (nullptr: parents are files).
std::vector<ChainLink> follow_chain(ImageReader& top, const std::string& top_path, const HeldImages* held = nullptr);

// What follow_chain would report for the chain, for `ckpt inspect`: the
// same checks, the same result, `top` itself untouched.
std::vector<ChainLink> describe_chain(const ImageReader& top, const std::string& top_path);

// Every ancestor's page data section checksum (restore --check, verify).
void verify_chain_page_data(const ImageReader& top);

}  // namespace ckpt::format
