// The working set a `restore --lazy --learn` recorded: which saved pages of
// an image's lazy areas the restored process touched before it first went
// idle. Kept beside the image (IMAGE.ws), never in it: the image stays
// read-only and shareable, and a working set is only a hint, so a bad or
// stale one costs speed, never correctness. docs/format.md, "Working-set
// file", specifies every field; this is its encoder and decoder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/ImageReader.h"

namespace ckpt::format {

// A run of saved pages: [start, start + pages * 4096).
struct PageRun {
  uint64_t start = 0;
  uint64_t pages = 0;
};

struct WorkingSet {
  uint64_t image_id = 0;      // image_identity() of the image it was learned on
  std::vector<PageRun> runs;  // sorted by start, disjoint, not adjacent, none empty
  uint64_t page_count() const;
};

inline constexpr char kWorkingSetMagic[8] = {'C', 'K', 'P', 'T', 'W', 'S', '\n', '\0'};
inline constexpr uint32_t kWorkingSetVersion = 1;
inline constexpr size_t kWorkingSetHeader = 40;  // bytes before the runs

// What ties a working set to one image: xxh3 over every section's type,
// length and checksum (the section table as read). Any change to any byte
// the image's checksums cover changes it.
uint64_t image_identity(const ImageReader& reader);

std::vector<uint8_t> encode_working_set(const WorkingSet& ws);
// Checks framing, magic, version, checksum, limits (format/Limits.h) and the
// order of the runs; throws FormatError naming the offset. Whether the runs
// lie in the image's lazy areas is the restorer's check (restorer/WorkingSet.h).
WorkingSet decode_working_set(const std::vector<uint8_t>& bytes);

}  // namespace ckpt::format
