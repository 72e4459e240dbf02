// Image reader: structure first (header, trailer, sections), then metadata,
// then the semantic rules (Validate.cpp).
#include "format/ImageReader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>

#include "format/Checksum.h"
#include "format/FormatError.h"
#include "format/Hex.h"
#include "format/Layout.h"
#include "format/Limits.h"
#include "format/InetSocket.h"
#include "format/Pty.h"
#include "format/ImageStream.h"
#include "format/Sections.h"
#include "format/Validate.h"

namespace ckpt::format {

int open_image(const std::string& path) {
  if (path == "-") {  // standard input: a pipe, a socket or a file, never a terminal
    if (isatty(STDIN_FILENO))
      throw std::runtime_error("standard input is a terminal: '-' reads an image from a pipe, a socket or a file");
    return receive_image(STDIN_FILENO, "standard input");
  }
  int probe = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (probe < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(probe, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(probe);
    const char* kind = S_ISFIFO(st.st_mode)                          ? "a FIFO"
                       : S_ISDIR(st.st_mode)                         ? "a directory"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)  ? "a device"
                                                                     : "something else";
    throw std::runtime_error("cannot use " + path + " as an image: it is " + kind + ", not a regular file");
  }
  int fd = ::open(("/proc/self/fd/" + std::to_string(probe)).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  int e = errno;
  ::close(probe);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(e));
  return fd;
}

void ImageReader::read_exact(void* dst, size_t n, uint64_t offset, const char* what) const {
  for (const Window& w : windows_)
    if (offset >= w.offset && n <= w.bytes.size() && offset - w.offset <= w.bytes.size() - n) {
      std::memcpy(dst, w.bytes.data() + (offset - w.offset), n);
      return;
    }
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, static_cast<uint8_t*>(dst) + done, n - done, off_t(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw std::system_error(errno, std::generic_category(), std::string("reading ") + what);
    if (r == 0) throw FormatError(offset + done, std::string("image ends inside ") + what);
    done += size_t(r);
  }
}

// Beyond this a window saves nothing worth its memory.
static constexpr uint64_t kMaxWindow = 8u << 20;

void ImageReader::prefetch(uint64_t offset, uint64_t n) {
  if (n == 0 || n > kMaxWindow || offset > file_size_ || n > file_size_ - offset) return;  // the plain reads judge it
  Window w{offset, std::vector<uint8_t>(n)};
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, w.bytes.data() + done, n - done, off_t(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;  // the plain reads report it, with their own words
    done += size_t(r);
  }
  windows_.push_back(std::move(w));
}

std::vector<uint8_t> ImageReader::read_section(const SectionInfo& s) const {
  std::vector<uint8_t> buf(s.length);
  read_exact(buf.data(), buf.size(), s.payload(), section_name(s.type));
  if (checksum(buf.data(), buf.size()) != s.checksum)
    throw FormatError(s.offset, std::string(section_name(s.type)) + " section checksum mismatch (corrupted image)");
  return buf;
}

static std::atomic<uint64_t> g_reader_serial{0};

ImageReader::ImageReader(int fd) : fd_(fd), serial_(++g_reader_serial) {
  struct stat st;
  if (fstat(fd, &st) != 0) throw std::system_error(errno, std::generic_category(), "stat of the image");
  if (!S_ISREG(st.st_mode)) throw FormatError(0, "not a regular file");
  file_size_ = uint64_t(st.st_size);

  FileHeader h;
  if (file_size_ < sizeof h) throw FormatError(0, "file is too short to be an image (" + std::to_string(file_size_) + " bytes)");
  read_exact(&h, sizeof h, 0, "file header");
  if (std::memcmp(h.magic, kMagic.data(), 8) != 0) throw FormatError(0, "not a ckpt image (bad magic)");
  if (h.version < kOldestVersion || h.version > kVersion)
    throw FormatError(offsetof(FileHeader, version), "unsupported format version " + std::to_string(h.version) +
                                                         " (this build reads versions " + std::to_string(kOldestVersion) +
                                                         " and " + std::to_string(kVersion) + ")");
  if (h.checksum != checksum(&h, offsetof(FileHeader, checksum)))
    throw FormatError(offsetof(FileHeader, checksum), "file header checksum mismatch (corrupted or incomplete image)");
  if (h.machine != kMachineX86_64) throw FormatError(offsetof(FileHeader, machine), "image is not for x86-64");
  if (h.flags != 0) throw FormatError(offsetof(FileHeader, flags), "unknown header flags");
  if (h.reserved0 != 0 || h.reserved1 != 0) throw FormatError(offsetof(FileHeader, reserved0), "reserved header bytes are set");
  if (h.header_size != sizeof h) throw FormatError(offsetof(FileHeader, header_size), "unexpected header size");
  if (h.page_size != kPageSize) throw FormatError(offsetof(FileHeader, page_size), "unsupported page size");
  if (h.file_size != file_size_)
    throw FormatError(file_size_, "image is " + std::to_string(file_size_) + " bytes but its header says " +
                                      std::to_string(h.file_size) + " (truncated or extended)");
  if (h.trailer_offset < sizeof h || h.trailer_offset % 8 || h.trailer_offset > file_size_ - sizeof(TrailerHeader) - 8)
    throw FormatError(offsetof(FileHeader, trailer_offset), "trailer offset out of range");

  // The trailer at once: header, entries and checksum.
  prefetch(h.trailer_offset, file_size_ - h.trailer_offset);
  TrailerHeader th;
  read_exact(&th, sizeof th, h.trailer_offset, "trailer");
  if (std::memcmp(th.magic, kTrailerMagic.data(), 8) != 0) throw FormatError(h.trailer_offset, "bad trailer magic");
  if (th.count == 0 || th.count > kMaxSections || th.reserved != 0)
    throw FormatError(h.trailer_offset + 8, "bad section count");
  uint64_t trailer_size = sizeof th + uint64_t(th.count) * sizeof(TrailerEntry) + 8;
  if (h.trailer_offset + trailer_size != file_size_)
    throw FormatError(h.trailer_offset + 8, "trailer does not end at the end of the file");
  std::vector<TrailerEntry> entries(th.count);
  read_exact(entries.data(), entries.size() * sizeof(TrailerEntry), h.trailer_offset + sizeof th, "trailer");
  uint64_t tsum;
  read_exact(&tsum, 8, file_size_ - 8, "trailer checksum");
  StreamingChecksum expect;
  expect.update(&th, sizeof th);
  expect.update(entries.data(), entries.size() * sizeof(TrailerEntry));
  if (expect.digest() != tsum) throw FormatError(file_size_ - 8, "trailer checksum mismatch (corrupted image)");

  // The metadata at once: all that lies before the page data (and its
  // header), and all between the page data and the trailer. The entries
  // are not checked yet: a window that makes no sense is simply not read.
  for (const TrailerEntry& e : entries)
    if (e.type == uint32_t(SectionType::PageData) && e.offset >= sizeof h && e.offset <= h.trailer_offset &&
        e.length <= h.trailer_offset - e.offset) {
      prefetch(sizeof h, e.offset + sizeof(SectionHeader) - sizeof h);
      const uint64_t after = e.offset + sizeof(SectionHeader) + e.length;
      if (after < h.trailer_offset) prefetch(after, h.trailer_offset - after);
      break;
    }
  uint64_t prev_end = sizeof h;
  std::set<std::pair<uint32_t, uint32_t>> seen;  // (type, member)
  for (size_t i = 0; i < entries.size(); ++i) {
    const TrailerEntry& e = entries[i];
    uint64_t at = h.trailer_offset + sizeof th + i * sizeof(TrailerEntry);
    if ((e.type < 1 || e.type > kSectionTypeCount) && !section_type_is_optional(e.type)) throw FormatError(at, "unknown section type " + std::to_string(e.type));
    if (e.type == uint32_t(SectionType::Seccomp) && h.version < 6)
      throw FormatError(at, "seccomp section in a version-" + std::to_string(h.version) + " image (added in version 6)");
    auto type = SectionType(e.type);
    // Per-member sections carry the member's index in flags; the others 0.
    if (section_is_per_member(type) ? e.flags >= kMaxMembers : e.flags != 0)
      throw FormatError(at, std::string(section_name(type)) + " section has flags " + std::to_string(e.flags) +
                                (section_is_per_member(type) ? " (a member index beyond the limit)" : " (must be 0)"));
    if (!seen.insert({e.type, e.flags}).second)
      throw FormatError(at, std::string("duplicate ") + section_name(type) + " section" +
                                (section_is_per_member(type) ? " for member " + std::to_string(e.flags) : ""));
    if (e.offset < prev_end || e.offset % 8 || e.offset > h.trailer_offset - sizeof(SectionHeader) ||
        e.length > h.trailer_offset - e.offset - sizeof(SectionHeader))
      throw FormatError(at, std::string(section_name(type)) + " section lies outside its bounds");
    if (type != SectionType::PageData && e.length > kMaxMetadataSection)
      throw FormatError(at, std::string(section_name(type)) + " section is too large");
    SectionHeader sh;
    read_exact(&sh, sizeof sh, e.offset, "section header");
    if (sh.type != e.type || sh.length != e.length || sh.checksum != e.checksum || sh.flags != e.flags ||
        sh.reserved != 0)
      throw FormatError(e.offset, std::string(section_name(type)) + " section header does not match the trailer");
    sections_.push_back({type, e.offset, e.length, e.checksum, e.flags});
    prev_end = e.offset + sizeof sh + e.length;
  }

  // The tree first: it says how many members there are and which are live.
  // An image without one is a tree of one live member.
  for (const SectionInfo& s : sections_)
    if (s.type == SectionType::Tree) {
      std::vector<uint8_t> p = read_section(s);
      tree_ = decode_tree(p.data(), p.size(), s.payload());
    }
  const bool has_tree = !tree_.members.empty();
  if (!has_tree) tree_.members.resize(1);
  members_.resize(tree_.members.size());
  if (!seen.count({uint32_t(SectionType::PageData), 0}))
    throw FormatError(h.trailer_offset, "missing page_data section");
  for (uint32_t m = 0; m < members_.size(); ++m) {
    const bool live = tree_.members[m].state == kMemberLive;
    for (uint32_t t = 1; t <= kSectionTypeCount; ++t) {
      if (t == uint32_t(SectionType::PageData)) continue;
      if (live && !seen.count({t, m}))
        throw FormatError(h.trailer_offset, std::string("missing ") + section_name(SectionType(t)) + " section" +
                                                (m ? " of member " + std::to_string(m) : ""));
    }
  }

  // Each member's sockets are kept apart from its files, whichever comes first.
  std::vector<std::vector<InetSocket>> inet_sockets(members_.size());
  for (const SectionInfo& s : sections_) {
    if (s.type == SectionType::PageData || s.type == SectionType::Tree) continue;
    if (s.member >= members_.size() || tree_.members[s.member].state != kMemberLive)
      throw FormatError(s.offset, std::string(section_name(s.type)) + " section of member " + std::to_string(s.member) +
                                      ", which the tree does not list as a live member");
    std::vector<uint8_t> p = read_section(s);
    Image& img = members_[s.member];
    switch (s.type) {
      case SectionType::Process: img.process = decode_process(p.data(), p.size(), s.payload()); break;
      case SectionType::Mm: img.mm = decode_mm(p.data(), p.size(), s.payload()); break;
      case SectionType::Vmas: img.vmas = decode_vmas(p.data(), p.size(), s.payload()); break;
      case SectionType::Threads: img.threads = decode_threads(p.data(), p.size(), s.payload()); break;
      case SectionType::PageIndex: img.chunks = decode_page_index(p.data(), p.size(), s.payload()); break;
      case SectionType::Task: img.task = decode_task(p.data(), p.size(), s.payload()); break;
      case SectionType::Files: {  // (whichever of files and unix_sockets comes first)
        std::vector<UnixSocket> sockets = std::move(img.files.unix_sockets);
        img.files = decode_files(p.data(), p.size(), s.payload());
        img.files.unix_sockets = std::move(sockets);
        break;
      }
      case SectionType::SysvShm: img.sysv_shm = decode_sysv_shm(p.data(), p.size(), s.payload()); break;
      case SectionType::UnixSockets: img.files.unix_sockets = decode_unix_sockets(p.data(), p.size(), s.payload()); break;
      case SectionType::InetSockets: inet_sockets[s.member] = decode_inet_sockets(p.data(), p.size(), s.payload()); break;
      case SectionType::Tcp: img.tcp = decode_tcp_connections(p.data(), p.size(), s.payload()); break;
      case SectionType::Ptys: img.ptys = decode_ptys(p.data(), p.size(), s.payload()); break;
      case SectionType::Terminal: img.terminal = decode_terminal(p.data(), p.size(), s.payload()); break;
      case SectionType::Scheduling: img.scheduling = decode_scheduling(p.data(), p.size(), s.payload()); break;
      case SectionType::Credentials: img.credentials = decode_credentials(p.data(), p.size(), s.payload()); break;
      case SectionType::Seccomp: img.seccomp = decode_seccomp(p.data(), p.size(), s.payload()); break;
      case SectionType::Parent:
        if (s.member != 0 || members_.size() > 1)
          throw FormatError(s.offset, "parent section in a process tree (incremental images are of one process)");
        img.parent = decode_parent_link(p.data(), p.size(), s.payload());
        break;
      case SectionType::PageData:
      case SectionType::Tree: break;
    }
  }
  for (uint32_t m = 0; m < members_.size(); ++m) members_[m].files.inet_sockets = std::move(inet_sockets[m]);
  if (!has_tree) tree_.members[0].pid = members_[0].process.pid;
  for (uint32_t m = 0; m < members_.size(); ++m) {
    if (tree_.members[m].state != kMemberLive) continue;
    std::vector<SectionInfo> own;
    for (const SectionInfo& s : sections_)
      if (s.member == m || !section_is_per_member(s.type)) own.push_back(s);
    // A child's inherited chunks are checked against its parent, which comes
    // before it (validate_tree refuses any other order).
    const int32_t p = tree_.members[m].parent;
    const Image* parent = p >= 0 && uint32_t(p) < m && tree_.members[p].state == kMemberLive ? &members_[p] : nullptr;
    validate_image(members_[m], own, m == 0, parent);
  }
  validate_tree(tree_, members_, sections_);
  for (const SectionInfo& s : sections_)
    if (s.type == SectionType::Parent) validate_parent_link(members_[0], s.offset);
  windows_.clear();
  windows_.shrink_to_fit();
}

const SectionInfo& ImageReader::page_data() const {
  for (const SectionInfo& s : sections_)
    if (s.type == SectionType::PageData) return s;
  throw FormatError(0, "missing page_data section");  // unreachable: checked at construction
}

static FormatError chunk_checksum_mismatch(const PageChunk& c) {
  return FormatError(c.offset, "page data checksum mismatch for the chunk at " + hex(c.vaddr));
}

// A compressed chunk: read, checked, and decompressed into `dest` (c.size() bytes).
void ImageReader::decompress_chunk(const PageChunk& c, void* dest, ZSTD_DCtx_s* dctx,
                                   std::vector<uint8_t>& scratch) const {
  scratch.resize(c.stored_size);
  read_exact(scratch.data(), c.stored_size, c.offset, "page data");
  if (!page_data_trusted_ && checksum(scratch.data(), c.stored_size) != c.checksum) throw chunk_checksum_mismatch(c);
  size_t n = ZSTD_decompressDCtx(dctx, dest, c.size(), scratch.data(), c.stored_size);
  if (ZSTD_isError(n))
    throw FormatError(c.offset, std::string("page data does not decompress: ") + ZSTD_getErrorName(n));
  if (n != c.size())
    throw FormatError(c.offset, "chunk decompresses to " + std::to_string(n) + " bytes, not the declared " +
                                    std::to_string(c.size()));
}

// An inherited chunk has no bytes of its own: a caller that reads one has
// missed that its pages are the parent member's.
static void refuse_inherited(const PageChunk& c) {
  if (c.inherited())
    throw FormatError(c.offset, "the chunk at " + hex(c.vaddr) + " holds its parent's pages, not bytes of its own");
}

// A chunk resolved through a chain (restorer/ImageChain.h): the whole
// stored chunk of the image that holds it is read and checked, and only
// this chunk's pages of it are kept.
const ImageReader& ImageReader::holder(const PageChunk& c) const {
  if (c.source == 0) return *this;
  if (c.source > ancestors_.size())
    throw FormatError(c.offset, "the chunk at " + hex(c.vaddr) + " names image " + std::to_string(c.source) +
                                    " of a chain of " + std::to_string(ancestors_.size() + 1));
  return *ancestors_[c.source - 1];
}

static PageChunk stored_chunk(const PageChunk& c) {
  PageChunk s = c;
  s.vaddr = c.vaddr - uint64_t(c.skip) * kPageSize;
  s.npages = c.stored_npages;
  s.source = s.skip = s.stored_npages = 0;
  return s;
}

namespace {

// The stored chunks last read for resolved pieces, shared by the threads
// that stage a chain. A chain splits a stored chunk into as many pieces as
// the newer images cut it (the pages written since are theirs): without
// this, each piece read and checked the whole stored chunk again, and a
// restore of a chain whose writes were scattered (a migration's final
// image, in its downtime) read its memory many times over. Now each
// stored chunk is read and checked once while it is among the
// kDecodedChunks used last (the stager's workers take the pieces in
// address order, so those of one chunk come together, between pieces of
// other chunks); a thread that needs one another is reading waits for it.
// A piece that is a whole stored chunk is read straight, not kept. Keyed by the holder's serial (a reader's address
// may be reused by the next one) and the stored chunk's offset, size and
// checksum: the bytes kept are exactly those whose checksum was checked.
struct DecodedChunk {
  uint64_t holder = 0, offset = 0, stored_size = 0, checksum = 0;
  std::vector<uint8_t> pages;
  bool ready = false, failed = false;  // under ChunkCache::lock
};
constexpr size_t kDecodedChunks = 8;
struct ChunkCache {
  std::mutex lock;
  std::condition_variable settled;
  std::vector<std::shared_ptr<DecodedChunk>> entries;  // least recently used first
};
ChunkCache& chunk_cache() {
  static ChunkCache cache;
  return cache;
}

}  // namespace

void ImageReader::read_resolved(const PageChunk& c, ZSTD_DCtx_s* dctx, std::vector<uint8_t>& scratch,
                                std::vector<uint8_t>& pages, const ChunkSink& sink) const {
  const PageChunk s = stored_chunk(c);
  if (c.skip > s.npages || c.npages > s.npages - c.skip)
    throw FormatError(c.offset, "the chunk at " + hex(c.vaddr) + " lies outside the chunk that holds it");
  const ImageReader& h = holder(c);
  auto read = [&](uint8_t* into) {
    try {
      if (into) h.read_chunk(s, into, dctx, scratch);
      else h.read_chunk(s, dctx, scratch, pages, sink);  // the whole stored chunk: straight to the sink
    } catch (const FormatError& e) {
      if (c.source == 0) throw;
      throw std::runtime_error("the image " + ancestor_paths_.at(c.source - 1) + " below it in its chain is corrupt: " +
                               e.what());
    }
  };
  // A piece that is its whole stored chunk is its only reader: nothing to keep.
  if (c.skip == 0 && c.npages == s.npages) return read(nullptr);
  ChunkCache& cache = chunk_cache();
  std::shared_ptr<DecodedChunk> e;
  bool mine = false;
  {
    std::unique_lock<std::mutex> g(cache.lock);
    for (size_t i = 0; i < cache.entries.size(); ++i) {
      const auto& x = cache.entries[i];
      if (x->holder == h.serial_ && x->offset == s.offset && x->stored_size == s.stored_size && x->checksum == s.checksum) {
        e = x;
        cache.entries.erase(cache.entries.begin() + long(i));
        cache.entries.push_back(e);  // the most recently used last: the oldest goes first
        break;
      }
    }
    if (e) {
      cache.settled.wait(g, [&] { return e->ready || e->failed; });
    } else {
      e = std::make_shared<DecodedChunk>();
      e->holder = h.serial_, e->offset = s.offset, e->stored_size = s.stored_size, e->checksum = s.checksum;
      cache.entries.push_back(e);
      if (cache.entries.size() > kDecodedChunks) cache.entries.erase(cache.entries.begin());
      mine = true;
    }
  }
  if (!mine && !e->failed) return sink(0, e->pages.data() + uint64_t(c.skip) * kPageSize, c.size());
  if (!mine) {  // the thread that read it found it bad: read it here too, for the error
    pages.resize(s.size());
    read(pages.data());
    return sink(0, pages.data() + uint64_t(c.skip) * kPageSize, c.size());
  }
  try {
    e->pages.resize(s.size());
    read(e->pages.data());
  } catch (...) {
    std::lock_guard<std::mutex> g(cache.lock);
    e->failed = true;
    cache.entries.erase(std::remove(cache.entries.begin(), cache.entries.end(), e), cache.entries.end());
    cache.settled.notify_all();
    throw;
  }
  {
    std::lock_guard<std::mutex> g(cache.lock);
    e->ready = true;
  }
  cache.settled.notify_all();
  sink(0, e->pages.data() + uint64_t(c.skip) * kPageSize, c.size());
}

void ImageReader::adopt_chain(std::vector<PageChunk> chunks, std::vector<std::shared_ptr<const ImageReader>> ancestors,
                              std::vector<std::string> paths) {
  members_.at(0).chunks = std::move(chunks);
  ancestors_ = std::move(ancestors);
  ancestor_paths_ = std::move(paths);
}

void ImageReader::read_chunk(const PageChunk& c, void* dest, ZSTD_DCtx_s* dctx, std::vector<uint8_t>& scratch) const {
  refuse_inherited(c);
  if (c.resolved()) {
    // A raw piece of an image whose page data was checked whole and cannot
    // change: only its own pages are read, straight into place.
    const ImageReader& h = holder(c);
    const PageChunk s = stored_chunk(c);
    if (h.page_data_trusted_ && c.encoding == ChunkEncoding::Raw && s.stored_size == s.size() && c.skip <= s.npages &&
        c.npages <= s.npages - c.skip) {
      h.read_exact(dest, c.size(), s.offset + uint64_t(c.skip) * kPageSize, "page data");
      return;
    }
    // A piece that is its whole stored chunk: straight into place too (checked as always).
    if (c.skip == 0 && c.npages == s.npages) {
      try {
        h.read_chunk(s, dest, dctx, scratch);
      } catch (const FormatError& e) {
        if (c.source == 0) throw;
        throw std::runtime_error("the image " + ancestor_paths_.at(c.source - 1) + " below it in its chain is corrupt: " +
                                 e.what());
      }
      return;
    }
    std::vector<uint8_t> pages;
    read_resolved(c, dctx, scratch, pages,
                  [&](uint64_t at, const uint8_t* data, size_t n) { std::memcpy(static_cast<uint8_t*>(dest) + at, data, n); });
    return;
  }
  if (c.encoding == ChunkEncoding::Raw) {
    read_exact(dest, c.stored_size, c.offset, "page data");
    if (!page_data_trusted_ && checksum(dest, c.stored_size) != c.checksum) throw chunk_checksum_mismatch(c);
    return;
  }
  decompress_chunk(c, dest, dctx, scratch);
}

std::unique_ptr<uint8_t[]> ImageReader::read_chunk_ahead(const PageChunk& c, ZSTD_DCtx_s* dctx,
                                                         std::vector<uint8_t>& scratch) const noexcept {
  std::unique_ptr<uint8_t[]> pages(new (std::nothrow) uint8_t[c.size()]);
  if (!pages) return nullptr;
  try {
    read_chunk(c, pages.get(), dctx, scratch);
  } catch (...) {
    return nullptr;
  }
  return pages;
}

void ImageReader::read_chunk(const PageChunk& c, ZSTD_DCtx_s* dctx, std::vector<uint8_t>& scratch,
                             std::vector<uint8_t>& pages, const ChunkSink& sink) const {
  refuse_inherited(c);
  if (c.resolved()) return read_resolved(c, dctx, scratch, pages, sink);
  if (c.encoding == ChunkEncoding::Raw) {
    scratch.resize(std::min<uint64_t>(c.stored_size, kChunkPiece));
    StreamingChecksum sum;
    for (uint64_t at = 0; at < c.stored_size;) {
      size_t n = size_t(std::min<uint64_t>(scratch.size(), c.stored_size - at));
      read_exact(scratch.data(), n, c.offset + at, "page data");
      sum.update(scratch.data(), n);
      sink(at, scratch.data(), n);
      at += n;
    }
    if (sum.digest() != c.checksum) throw chunk_checksum_mismatch(c);
    return;
  }
  pages.resize(c.size());
  decompress_chunk(c, pages.data(), dctx, scratch);
  sink(0, pages.data(), pages.size());
}

void ImageReader::verify_page_data() const {
  const SectionInfo& s = page_data();
  StreamingChecksum sum;
  std::vector<uint8_t> buf(std::min<uint64_t>(s.length, 8u << 20));
  for (uint64_t done = 0; done < s.length;) {
    size_t n = size_t(std::min<uint64_t>(buf.size(), s.length - done));
    read_exact(buf.data(), n, s.payload() + done, "page data");
    sum.update(buf.data(), n);
    done += n;
  }
  if (sum.digest() != s.checksum) throw FormatError(s.offset, "page_data section checksum mismatch (corrupted image)");
}

void ImageReader::verify_chunks() const {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  std::vector<uint8_t> scratch, pages;
  for (const Image& m : members_)
    for (const PageChunk& c : m.chunks)
      if (!c.inherited()) read_chunk(c, dctx.get(), scratch, pages, [](uint64_t, const uint8_t*, size_t) {});
}

}  // namespace ckpt::format
