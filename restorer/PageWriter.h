// How staging makes room for saved pages before they are read in: the
// kernel makes a chunk's pages present in one call (MADV_POPULATE_WRITE),
// and the chunk is then read (pread of a raw chunk) or decompressed
// straight into them. No page fault is taken, and every byte is copied
// once. Where the kernel refuses the call (before Linux 5.14, or a seccomp
// filter), the reads fault the pages in instead. Blocks that are to hold
// huge pages already have them (HugeBlocks.h); populating them is a walk
// of their page table.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ckpt::restorer {

class PageWriter {
 public:
  // Makes [dest, dest + n) present and writable: the pages one chunk covers,
  // in an area staging mapped writable.
  void populate(uint8_t* dest, size_t n);

 private:
  bool populate_works_ = true;
};

}  // namespace ckpt::restorer
