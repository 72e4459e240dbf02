// Reads and checks an image: header, trailer, every section header and
// checksum, every metadata field against format/Limits.h, and the semantic
// rules of docs/format.md (Validate.h). Page data is read chunk by chunk on
// demand, each chunk checked against its own checksum and declared size.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "format/Image.h"

struct ZSTD_DCtx_s;

namespace ckpt::format {

struct SectionInfo {
  SectionType type;
  uint64_t offset;    // of the SectionHeader
  uint64_t length;    // payload bytes
  uint64_t checksum;
  uint32_t member = 0;  // per-member sections: the member's index (the header's flags); else 0
  uint64_t payload() const { return offset + 32; }
};

// Opens an image file for reading, read-only and close-on-exec. The path is
// looked at through O_PATH first (which never blocks and runs no driver's
// open): anything but a regular file (a FIFO would hang the open, a device
// would act) is refused with std::runtime_error before it is opened; the
// real open goes through that descriptor, so it reaches the file checked.
// "-" is standard input: an image or an image stream read to its end into
// memory (format/ImageStream.h); a terminal there is refused.
int open_image(const std::string& path);

class ImageReader {
 public:
  // Throws FormatError (with the offending offset) on any inconsistency;
  // std::system_error on I/O errors. Does not read page data.
  explicit ImageReader(int fd);

  // The root's records (member 0): all a single-process image has.
  const Image& image() const { return members_[0]; }
  // The process tree and each member's own records (a zombie's are empty).
  const ProcessTree& tree() const { return tree_; }
  const Image& member(size_t i) const { return members_.at(i); }
  size_t member_count() const { return members_.size(); }
  const std::vector<SectionInfo>& sections() const { return sections_; }
  const SectionInfo& page_data() const;
  uint64_t file_size() const { return file_size_; }
  int fd() const { return fd_; }

  // Reads chunk `c` into `dest` (c.size() bytes). `dctx` is a zstd
  // decompression context owned by the calling thread; `scratch` a buffer it
  // may grow. Checks the checksum and that the chunk decodes to exactly
  // c.size() bytes (a chunk can never expand past its declared size).
  // An inherited chunk has no bytes: reading one throws.
  void read_chunk(const PageChunk& c, void* dest, ZSTD_DCtx_s* dctx, std::vector<uint8_t>& scratch) const;
  // The same read and checks into a buffer of its own, for a thread that
  // reads ahead of another: null where the chunk cannot be read, is
  // corrupt or memory is short (the other reader reads it again and
  // reports it).
  std::unique_ptr<uint8_t[]> read_chunk_ahead(const PageChunk& c, ZSTD_DCtx_s* dctx,
                                              std::vector<uint8_t>& scratch) const noexcept;
  // The same read and checks, but the pages go to `sink(at, data, n)` (`at`:
  // their offset in the chunk), in order, rather than to one destination: a
  // raw chunk in pieces of at most kChunkPiece bytes read through `scratch`,
  // a compressed one whole, decompressed into `pages`. Kept by the caller
  // from chunk to chunk, the buffers' pages are touched once however many
  // chunks pass through them. The sink sees the pages before the checksum
  // is known: if this throws, what it was given is not the image's.
  using ChunkSink = std::function<void(uint64_t at, const uint8_t* data, size_t n)>;
  static constexpr size_t kChunkPiece = 64 * 1024;
  void read_chunk(const PageChunk& c, ZSTD_DCtx_s* dctx, std::vector<uint8_t>& scratch, std::vector<uint8_t>& pages,
                  const ChunkSink& sink) const;
  // Checks the checksum of the whole page data section.
  void verify_page_data() const;
  // For a caller that has run verify_page_data() on a descriptor whose
  // bytes cannot change since (a sealed memfd: a migration's pre-copy
  // round, restorer/ImageSource.h): chunks are then read without their
  // checksum again (raw or compressed: verify_chunks checked every one at
  // receipt), and a chain's raw pieces of them alone, not their whole
  // stored chunk.
  void trust_page_data() { page_data_trusted_ = true; }
  // Reads every chunk as staging would (its checksum, and its decompression
  // into exactly its declared size), keeping nothing: what `restore --check`
  // must refuse that staging would.
  void verify_chunks() const;

  // An incremental image's chain, resolved (restorer/ImageChain.h): the
  // root's chunks become `chunks` (its own, and the pages it takes from
  // its ancestors, PageChunk::resolved()), read from `ancestors` (the
  // parent first), which this reader keeps open.
  // `paths`: where each ancestor was found, for errors in its page data.
  void adopt_chain(std::vector<PageChunk> chunks, std::vector<std::shared_ptr<const ImageReader>> ancestors,
                   std::vector<std::string> paths);
  const std::vector<std::shared_ptr<const ImageReader>>& ancestors() const { return ancestors_; }
  const std::vector<std::string>& ancestor_paths() const { return ancestor_paths_; }

 private:
  const ImageReader& holder(const PageChunk& c) const;
  void read_resolved(const PageChunk& c, ZSTD_DCtx_s* dctx, std::vector<uint8_t>& scratch, std::vector<uint8_t>& pages,
                     const ChunkSink& sink) const;
  void read_exact(void* dst, size_t n, uint64_t offset, const char* what) const;
  // Reads [offset, offset + n) of the file in one call, so that the small
  // reads of the structure within it are served from memory (a small image
  // has some 25 of them: each a system call on restore's start-up path).
  // Only for the constructor: dropped when it returns.
  void prefetch(uint64_t offset, uint64_t n);
  struct Window {
    uint64_t offset;
    std::vector<uint8_t> bytes;
  };
  std::vector<Window> windows_;
  std::vector<uint8_t> read_section(const SectionInfo& s) const;
  void decompress_chunk(const PageChunk& c, void* dest, ZSTD_DCtx_s* dctx, std::vector<uint8_t>& scratch) const;

  int fd_;
  uint64_t file_size_ = 0;
  std::vector<SectionInfo> sections_;
  ProcessTree tree_;
  std::vector<Image> members_;
  std::vector<std::shared_ptr<const ImageReader>> ancestors_;
  std::vector<std::string> ancestor_paths_;
  // This reader's identity among all made in the process (never reused,
  // unlike its address): what read_resolved's chunk cache is keyed by.
  uint64_t serial_;
  bool page_data_trusted_ = false;  // trust_page_data()
};

}  // namespace ckpt::format
