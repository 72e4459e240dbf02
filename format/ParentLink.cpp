// Parent record of an incremental image (see ParentLink.h, docs/format.md).
#include "format/ParentLink.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "format/Codec.h"
#include "format/FormatError.h"
#include "format/Hex.h"
#include "format/Image.h"
#include "format/ImageReader.h"
#include "format/Limits.h"

namespace ckpt::format {

// u32 path length + path, u64 checksum, u32 depth, u32 run count, then per
// run u64 vaddr, u64 npages.
std::vector<uint8_t> encode_parent_link(const ParentLink& link) {
  ByteWriter w;
  w.str(link.path);
  w.u64(link.checksum);
  w.u32(link.depth);
  w.u32(uint32_t(link.runs.size()));
  for (const ParentRun& r : link.runs) {
    w.u64(r.vaddr);
    w.u64(r.npages);
  }
  return w.bytes();
}

ParentLink decode_parent_link(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  ParentLink link;
  link.path = r.str("parent path", kMaxStringLength);
  link.checksum = r.u64("parent checksum");
  const uint64_t depth_at = r.offset();
  link.depth = r.u32("chain depth");
  if (link.depth < 1 || link.depth > kMaxChainDepth)
    throw FormatError(depth_at, "chain depth " + std::to_string(link.depth) + " out of range 1.." +
                                    std::to_string(kMaxChainDepth));
  link.runs.resize(r.count("parent run count", kMaxParentRuns, 16));
  for (ParentRun& run : link.runs) {
    run.vaddr = r.u64("parent run address");
    run.npages = r.u64("parent run page count");
  }
  r.expect_end("parent section");
  return link;
}

bool vma_is_trackable(const Vma& v) {
  const bool anon = v.kind == VmaKind::AnonPrivate || v.kind == VmaKind::Heap || v.kind == VmaKind::Stack;
  return anon && !(v.flags & (kVmaHugetlb | kVmaDroppable));
}

uint64_t image_checksum(const ImageReader& reader) {
  uint64_t sum = 0;
  ssize_t n = pread(reader.fd(), &sum, 8, off_t(reader.file_size() - 8));
  if (n != 8) throw std::system_error(n < 0 ? errno : EIO, std::generic_category(), "reading the trailer checksum");
  return sum;
}

void validate_parent_link(const Image& image, uint64_t at) {
  if (!image.parent) return;
  const ParentLink& link = *image.parent;
  if (link.path.empty() || link.path[0] != '/') throw FormatError(at, "parent path is not absolute");
  const std::vector<Vma>& vmas = image.vmas;
  const std::vector<PageChunk>& chunks = image.chunks;
  size_t vi = 0, ci = 0;
  uint64_t prev = 0;
  for (size_t i = 0; i < link.runs.size(); ++i) {
    const ParentRun& r = link.runs[i];
    auto bad = [&](const std::string& why) {
      throw FormatError(at, "parent run #" + std::to_string(i) + " at " + hex(r.vaddr) + ": " + why);
    };
    if (r.vaddr % kPageSize) bad("address not page-aligned");
    if (r.npages == 0 || r.vaddr >= kUserSpaceEnd || r.npages > (kUserSpaceEnd - r.vaddr) / kPageSize)
      bad("page count " + std::to_string(r.npages) + " out of range");
    if (r.vaddr < prev) bad("overlaps or is out of order with the previous run");
    const uint64_t end = r.vaddr + r.npages * kPageSize;
    prev = end;
    while (vi < vmas.size() && vmas[vi].end <= r.vaddr) ++vi;
    if (vi == vmas.size() || r.vaddr < vmas[vi].start || end > vmas[vi].end) bad("not inside one VMA");
    if (!vma_is_trackable(vmas[vi]))
      bad(std::string("inside a ") + vma_kind_name(vmas[vi].kind) + " VMA, whose pages are never the parent's");
    while (ci < chunks.size() && chunks[ci].vaddr + chunks[ci].size() <= r.vaddr) ++ci;
    if (ci < chunks.size() && chunks[ci].vaddr < end) bad("overlaps the image's own chunk at " + hex(chunks[ci].vaddr));
  }
}

}  // namespace ckpt::format
