// Streaming image writer (see ImageWriter.h, docs/format.md).
#include "format/ImageWriter.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_c_literalCompressionMode
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "format/ImageStream.h"
#include "format/Limits.h"
#include "format/InetSocket.h"
#include "format/Pty.h"
#include "format/Sections.h"

namespace ckpt::format {

// Small pieces (headers, metadata, padding) are gathered in buffer_; a piece
// of at least kDirectWrite bytes (a chunk of page data) goes to the file
// straight from the caller's memory, with whatever is pending in front of it.
static constexpr size_t kFlushThreshold = 1u << 20;
static constexpr size_t kDirectWrite = 64u << 10;

ImageWriter::ImageWriter(int fd, Compression compression) : fd_(fd), compression_(compression) {
  if (compression_.encoding == ChunkEncoding::Zstd) {
    cctx_ = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, compression_.level);
    // An experimental parameter (zstd 1.5+): a library without it refuses it,
    // and its frames are only a little slower to decompress. Any zstd
    // decoder reads the frames either way.
    if (compression_.level <= kFastLevel) ZSTD_CCtx_setParameter(cctx_, ZSTD_c_literalCompressionMode, ZSTD_ps_disable);
    scratch_.resize(ZSTD_compressBound(size_t(kMaxChunkPages) * kPageSize));
  }
  FileHeader h{};  // rewritten by finish()
  struct stat st;
  if (fstat(fd_, &st) != 0) throw std::system_error(errno, std::generic_category(), "stat of the image output");
  if (!S_ISREG(st.st_mode)) {
    shadow_ = memfd_create("ckpt-image-check", MFD_CLOEXEC);
    if (shadow_ < 0) throw std::system_error(errno, std::generic_category(), "creating a memfd for the stream's check");
    std::memcpy(h.magic, kStreamMagic.data(), 8);  // the rest comes in the end record
    h.version = kVersion;
  }
  write(&h, sizeof h);
}

ImageWriter::~ImageWriter() {
  ZSTD_freeCCtx(cctx_);
  if (shadow_ >= 0) ::close(shadow_);
}

static void pwrite_all(int fd, const void* p, size_t n, uint64_t at, const char* what) {
  auto c = static_cast<const uint8_t*>(p);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, c, n, off_t(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw std::system_error(errno, std::generic_category(), what);
    c += w, n -= size_t(w), at += uint64_t(w);
  }
}

void ImageWriter::write(const void* p, size_t n) {
  if (shadow_ >= 0 && !in_page_data_) pwrite_all(shadow_, p, n, offset_, "mirroring the image stream");
  offset_ += n;
  if (in_page_data_) page_data_sum_.update(p, n);
  if (n >= kDirectWrite) {
    flush(p, n);
    return;
  }
  auto c = static_cast<const uint8_t*>(p);
  buffer_.insert(buffer_.end(), c, c + n);
  if (buffer_.size() >= kFlushThreshold) flush();
}

void ImageWriter::flush(const void* extra, size_t extra_size) {
  iovec iov[2] = {{buffer_.data(), buffer_.size()}, {const_cast<void*>(extra), extra_size}};
  iovec* next = iov;
  int count = 2;
  for (;;) {
    while (count > 0 && next->iov_len == 0) ++next, --count;
    if (count == 0) break;
    ssize_t n = ::writev(fd_, next, count);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {  // a non-blocking pipe or socket (shared with whoever set it so): wait
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    if (n < 0) throw std::system_error(errno, std::generic_category(), "writing the image");
    for (size_t done = size_t(n); done > 0;) {  // a short write: skip what went out
      size_t step = done < next->iov_len ? done : next->iov_len;
      next->iov_base = static_cast<uint8_t*>(next->iov_base) + step;
      next->iov_len -= step;
      done -= step;
      if (next->iov_len == 0) ++next, --count;
    }
  }
  buffer_.clear();
}

void ImageWriter::pad_to(uint64_t alignment) {
  static const uint8_t zeros[kPageSize] = {};
  uint64_t pad = (alignment - offset_ % alignment) % alignment;
  write(zeros, pad);
}

void ImageWriter::section(SectionType type, const std::vector<uint8_t>& payload, uint32_t member) {
  if (payload.size() > kMaxMetadataSection)
    throw std::runtime_error(std::string("the ") + section_name(type) + " section would exceed the format's limit of " +
                             std::to_string(kMaxMetadataSection >> 20) + " MiB");
  pad_to(8);
  SectionHeader h{uint32_t(type), member, payload.size(), checksum(payload.data(), payload.size()), 0};
  entries_.push_back({h.type, member, offset_, h.length, h.checksum});
  write(&h, sizeof h);
  write(payload.data(), payload.size());
}

void ImageWriter::write_metadata(const Image& image) {
  ProcessTree tree;
  tree.members.resize(1);
  tree.members[0].pid = image.process.pid;
  write_tree_metadata(tree, {&image});
}

void ImageWriter::write_tree_metadata(const ProcessTree& tree, const std::vector<const Image*>& members) {
  section(SectionType::Tree, encode_tree(tree));
  chunks_.assign(members.size(), {});
  live_.assign(members.size(), false);
  for (uint32_t i = 0; i < members.size(); ++i) {
    const Image* image = members[i];
    if (!image) continue;
    live_[i] = true;
    section(SectionType::Process, encode_process(image->process), i);
    section(SectionType::Mm, encode_mm(image->mm), i);
    section(SectionType::Task, encode_task(image->task), i);
    section(SectionType::Files, encode_files(image->files), i);
    section(SectionType::Vmas, encode_vmas(image->vmas), i);
    section(SectionType::Threads, encode_threads(image->threads), i);
    if (!image->sysv_shm.empty()) section(SectionType::SysvShm, encode_sysv_shm(image->sysv_shm), i);
    if (!image->files.unix_sockets.empty())
      section(SectionType::UnixSockets, encode_unix_sockets(image->files.unix_sockets), i);
    if (!image->files.inet_sockets.empty())
      section(SectionType::InetSockets, encode_inet_sockets(image->files.inet_sockets), i);
    if (!image->tcp.empty()) section(SectionType::Tcp, encode_tcp_connections(image->tcp), i);
    if (!image->ptys.empty()) section(SectionType::Ptys, encode_ptys(image->ptys), i);
    if (image->terminal) section(SectionType::Terminal, encode_terminal(*image->terminal), i);
    if (image->scheduling) section(SectionType::Scheduling, encode_scheduling(*image->scheduling), i);
    if (image->credentials) section(SectionType::Credentials, encode_credentials(*image->credentials), i);
    if (!image->seccomp.empty()) section(SectionType::Seccomp, encode_seccomp(image->seccomp), i);
    if (image->parent) section(SectionType::Parent, encode_parent_link(*image->parent), i);
  }
  begin_page_data();
}

void ImageWriter::begin_member(uint32_t index) {
  if (index >= chunks_.size() || !live_[index]) throw std::logic_error("pages for a member without records");
  member_ = index;
}

void ImageWriter::begin_page_data() {
  pad_to(8);
  page_data_header_ = offset_;
  SectionHeader h{uint32_t(SectionType::PageData), 0, 0, 0, 0};  // length and checksum patched in finish()
  write(&h, sizeof h);
  in_page_data_ = true;
}

void ImageWriter::add_pages(uint64_t vaddr, const void* pages, uint64_t npages) {
  auto bytes = static_cast<const uint8_t*>(pages);
  while (npages > 0) {
    const uint32_t most = chunk_pages(pages_);
    uint32_t n = uint32_t(npages < most ? npages : most);
    size_t raw_size = size_t(n) * kPageSize;
    PageChunk c;
    c.vaddr = vaddr;
    c.npages = n;
    const void* stored = bytes;
    size_t stored_size = raw_size;
    if (cctx_) {
      size_t z = ZSTD_compress2(cctx_, scratch_.data(), scratch_.size(), bytes, raw_size);
      if (ZSTD_isError(z)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(z));
      if (z * kMinRatio <= raw_size) {  // else stored raw, page-aligned: faster to restore (kMinRatio)
        stored = scratch_.data();
        stored_size = z;
        c.encoding = ChunkEncoding::Zstd;
      }
    }
    if (c.encoding == ChunkEncoding::Raw) pad_to(kPageSize);
    c.offset = offset_;
    c.stored_size = stored_size;
    c.checksum = checksum(stored, stored_size);
    write(stored, stored_size);
    chunks_[member_].push_back(c);
    pages_ += n;
    vaddr += raw_size;
    bytes += raw_size;
    npages -= n;
  }
}

void ImageWriter::add_inherited(uint64_t vaddr, uint64_t npages) {
  while (npages > 0) {
    uint32_t n = uint32_t(npages < kMaxChunkPages ? npages : kMaxChunkPages);
    PageChunk c;
    c.vaddr = vaddr;
    c.npages = n;
    c.encoding = ChunkEncoding::Inherited;
    chunks_[member_].push_back(c);
    vaddr += uint64_t(n) * kPageSize;
    npages -= n;
  }
}

void ImageWriter::finish() {
  // Close the page data section: its header gets the final length and checksum.
  in_page_data_ = false;
  SectionHeader pd{uint32_t(SectionType::PageData), 0, offset_ - page_data_header_ - sizeof(SectionHeader),
                   page_data_sum_.digest(), 0};
  entries_.push_back({pd.type, 0, page_data_header_, pd.length, pd.checksum});
  for (uint32_t i = 0; i < chunks_.size(); ++i)
    if (live_[i]) section(SectionType::PageIndex, encode_page_index(chunks_[i]), i);

  pad_to(8);
  uint64_t trailer_offset = offset_;
  TrailerHeader th{};
  std::memcpy(th.magic, kTrailerMagic.data(), 8);
  th.count = uint32_t(entries_.size());
  StreamingChecksum tsum;
  tsum.update(&th, sizeof th);
  write(&th, sizeof th);
  for (const TrailerEntry& e : entries_) {
    tsum.update(&e, sizeof e);
    write(&e, sizeof e);
  }
  uint64_t tcheck = tsum.digest();
  write(&tcheck, sizeof tcheck);
  flush();

  FileHeader h{};
  std::memcpy(h.magic, kMagic.data(), 8);
  h.version = kVersion;
  h.machine = kMachineX86_64;
  h.header_size = sizeof(FileHeader);
  h.trailer_offset = trailer_offset;
  h.file_size = offset_;
  h.page_size = kPageSize;
  h.checksum = checksum(&h, offsetof(FileHeader, checksum));
  if (shadow_ >= 0) {
    if (ftruncate(shadow_, off_t(offset_)) != 0)
      throw std::system_error(errno, std::generic_category(), "sizing the image stream's mirror");
    pwrite_all(shadow_, &pd, sizeof pd, page_data_header_, "mirroring the image stream");
    pwrite_all(shadow_, &h, sizeof h, 0, "mirroring the image stream");
    StreamEnd end{};
    std::memcpy(end.magic, kStreamEndMagic.data(), 8);
    end.page_data_offset = page_data_header_;
    end.page_data = pd;
    end.header = h;
    end.checksum = checksum(&end, offsetof(StreamEnd, checksum));
    auto b = reinterpret_cast<const uint8_t*>(&end);
    stream_end_.assign(b, b + sizeof end);
    return;
  }
  pwrite_all(fd_, &pd, sizeof pd, page_data_header_, "writing the image header");
  pwrite_all(fd_, &h, sizeof h, 0, "writing the image header");
}

void ImageWriter::end_stream() {
  if (shadow_ < 0) return;
  if (stream_end_.empty()) throw std::logic_error("end_stream before finish");
  flush(stream_end_.data(), stream_end_.size());
  stream_end_.clear();
}

}  // namespace ckpt::format
