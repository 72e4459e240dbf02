// Making a damaged image self-consistent again: every checksum it carries
// recomputed, so that a reader gets past them to the decoders and the
// semantic rules. Used by the fuzzer (tests/fuzz/fuzz_image.cpp) and the
// structure-aware mutator (tests/tools/image_mutate.cpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "format/Checksum.h"
#include "format/Layout.h"
#include "format/Limits.h"
#include "format/Image.h"

namespace ckpt::tests {

// Rewrites, where the layout lets it find them, every chunk checksum, every
// section checksum (in the section header and its trailer entry), the
// trailer checksum, the header's file_size and the header checksum.
inline void repair_checksums(std::vector<uint8_t>& b) {
  using namespace format;
  const uint64_t size = b.size();
  if (size < sizeof(FileHeader)) return;
  FileHeader h;
  std::memcpy(&h, b.data(), sizeof h);
  h.file_size = size;
  uint64_t t = h.trailer_offset;
  if (t <= size && size - t >= sizeof(TrailerHeader) + 8) {
    TrailerHeader th;
    std::memcpy(&th, b.data() + t, sizeof th);
    uint64_t room = (size - t - sizeof th - 8) / sizeof(TrailerEntry);
    uint32_t n = uint32_t(std::min<uint64_t>(th.count, std::min<uint64_t>(room, kMaxSections)));
    auto entry_at = [&](uint32_t i) { return t + sizeof th + uint64_t(i) * sizeof(TrailerEntry); };
    auto payload_ok = [&](const TrailerEntry& e) {
      return e.offset <= size && size - e.offset >= sizeof(SectionHeader) &&
             e.length <= size - e.offset - sizeof(SectionHeader);
    };
    // Chunks first: the page index's own checksum covers theirs.
    for (uint32_t i = 0; i < n; ++i) {
      TrailerEntry e;
      std::memcpy(&e, b.data() + entry_at(i), sizeof e);
      if (e.type != uint32_t(SectionType::PageIndex) || !payload_ok(e) || e.length < 4) continue;
      uint64_t p = e.offset + sizeof(SectionHeader);
      uint32_t chunks;
      std::memcpy(&chunks, b.data() + p, 4);
      for (uint64_t k = 0; k < chunks && 4 + (k + 1) * 40 <= e.length; ++k) {
        uint64_t rec = p + 4 + k * 40, off, stored;
        std::memcpy(&off, b.data() + rec + 16, 8);
        std::memcpy(&stored, b.data() + rec + 24, 8);
        if (off > size || stored > size - off) continue;
        uint64_t sum = checksum(b.data() + off, stored);
        std::memcpy(b.data() + rec + 32, &sum, 8);
      }
    }
    for (uint32_t i = 0; i < n; ++i) {
      TrailerEntry e;
      std::memcpy(&e, b.data() + entry_at(i), sizeof e);
      if (!payload_ok(e)) continue;
      e.checksum = checksum(b.data() + e.offset + sizeof(SectionHeader), e.length);
      std::memcpy(b.data() + entry_at(i), &e, sizeof e);
      std::memcpy(b.data() + e.offset + offsetof(SectionHeader, checksum), &e.checksum, 8);
    }
    uint64_t tsum = checksum(b.data() + t, sizeof th + uint64_t(n) * sizeof(TrailerEntry));
    if (n == th.count) std::memcpy(b.data() + size - 8, &tsum, 8);
  }
  h.checksum = checksum(&h, offsetof(FileHeader, checksum));
  std::memcpy(b.data(), &h, sizeof h);
}

}  // namespace ckpt::tests
