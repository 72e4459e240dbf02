// Writes an image to a file descriptor, front to back in one pass: header,
// metadata sections, page data (chunk by chunk, as the dumper reads memory),
// page index, trailer; then the header again with the trailer's offset.
// The caller owns the file (temporary name, fsync, rename: dumper/ImageFile).
// To a descriptor that is not a regular file (a pipe, a socket) it writes
// the stream encoding instead (format/ImageStream.h): nothing is sought
// back; the two late headers go into an end record that end_stream() sends
// last, and a private memfd mirrors everything but the page contents so
// that the image can still be read back and checked (readable_fd()).
#pragma once

#include <cstdint>
#include <vector>

#include "format/Checksum.h"
#include "format/Image.h"
#include "format/Layout.h"
#include "format/Limits.h"

struct ZSTD_CCtx_s;

namespace ckpt::format {

struct Compression {
  ChunkEncoding encoding = ChunkEncoding::Zstd;
  int level = 3;
};

// What the writer does with a chunk that compresses, chosen for restore
// speed (docs/format.md §6.1, docs/benchmarks.md "zstd against raw"). A
// compressed chunk costs its decompression at restore (about 1-1.5 GB/s a
// core for ordinary data), a raw one a copy from the page cache (about
// 5 GB/s with its checksum): so a chunk is kept compressed only where it
// shrinks to at most 1/kMinRatio of its size; below that it is stored raw,
// faster to restore from any source faster than about 0.6 GB/s (the page
// cache, an SSD).
inline constexpr uint64_t kMinRatio = 2;
// At levels up to kFastLevel (the default's) literals are not Huffman-coded:
// 16-20 % faster decompression of program memory (python3, a JVM) for 1-4 %
// larger chunks. Higher levels are asked for size: they keep it.
inline constexpr int kFastLevel = 5;

class ImageWriter {
 public:
  ImageWriter(int fd, Compression compression);
  ~ImageWriter();
  ImageWriter(const ImageWriter&) = delete;
  ImageWriter& operator=(const ImageWriter&) = delete;

  // A single process (a tree of one): its tree, process, mm, vmas and
  // threads sections; call once, first.
  void write_metadata(const Image& image);
  // A process tree: the tree section, then each live member's sections
  // (their headers' flags hold the member's index); `members[i]` is
  // member i's records (nullptr for a zombie). Call once, first.
  void write_tree_metadata(const ProcessTree& tree, const std::vector<const Image*>& members);
  // Pages added from now on belong to member `index` (0 at first). All
  // members' pages go into the one page data section, each member's in
  // ascending address order.
  void begin_member(uint32_t index);
  // Appends `npages` pages at `vaddr` as one or more chunks (split at
  // chunk_pages()). Call in ascending address order after write_metadata.
  void add_pages(uint64_t vaddr, const void* pages, uint64_t npages);
  // Records `npages` pages at `vaddr` as inherited from the parent member
  // (ChunkEncoding::Inherited: no bytes stored), split likewise; same order.
  void add_inherited(uint64_t vaddr, uint64_t npages);
  // Page index, trailer, final header. Throws on any I/O error.
  void finish();

  // The most pages the next chunk holds, once `pages_written` pages are in
  // the image: kSmallChunkPages for the first kSmallChunkSpan pages, then
  // kMaxChunkPages (the format's limit). Restore decompresses chunks on
  // every core, a chunk on one: small chunks let even a small image
  // (a 1 MiB heap) use them all, large ones keep big images' index short
  // and their compression ratio (zstd compresses each chunk alone: 256 KiB
  // chunks made 4.5 % larger images of text than 1 MiB ones).
  static constexpr uint32_t kSmallChunkPages = 64;
  static constexpr uint64_t kSmallChunkSpan = 1024;
  static uint32_t chunk_pages(uint64_t pages_written) {
    return pages_written < kSmallChunkSpan ? kSmallChunkPages : kMaxChunkPages;
  }

  // A stream: sends the end record finish() prepared (only once the caller
  // has checked the image: a stream without it is refused by its reader).
  // A file: nothing.
  void end_stream();
  // A descriptor that reads as the finished image's file would, but for
  // page contents in a stream (left as holes): for checking it.
  int readable_fd() const { return shadow_ >= 0 ? shadow_ : fd_; }
  bool streaming() const { return shadow_ >= 0; }

  uint64_t bytes_written() const { return offset_; }
  uint64_t pages_written() const { return pages_; }
  // Member `index`'s chunks added so far, in order (a child member's
  // inherited pages are found against its parent's: dumper/SharedPages.h).
  const std::vector<PageChunk>& chunks(uint32_t index = 0) const { return chunks_.at(index); }

 private:
  void write(const void* p, size_t n);
  void pad_to(uint64_t alignment);
  // Writes the pending bytes, then `extra` (not copied) after them.
  void flush(const void* extra = nullptr, size_t extra_size = 0);
  void section(SectionType type, const std::vector<uint8_t>& payload, uint32_t member = 0);
  void begin_page_data();

  int fd_;
  Compression compression_;
  ZSTD_CCtx_s* cctx_ = nullptr;
  std::vector<uint8_t> buffer_;   // pending small pieces not yet written
  std::vector<uint8_t> scratch_;  // compression output
  uint64_t offset_ = 0;           // logical end of what has been written
  uint64_t pages_ = 0;
  std::vector<TrailerEntry> entries_;
  std::vector<std::vector<PageChunk>> chunks_;  // per member
  std::vector<bool> live_;                     // per member: has a page index
  uint32_t member_ = 0;
  bool in_page_data_ = false;
  uint64_t page_data_header_ = 0;
  StreamingChecksum page_data_sum_;
  int shadow_ = -1;                  // a stream's mirror (see above)
  std::vector<uint8_t> stream_end_;  // a stream's end record, once finished
};

}  // namespace ckpt::format
