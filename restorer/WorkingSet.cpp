// restore --lazy's learned working set (see WorkingSet.h).
#include "restorer/WorkingSet.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "format/Checksum.h"
#include "format/FormatError.h"
#include "format/Hex.h"
#include "format/Limits.h"
#include "format/Printable.h"
#include "restorer/PageWriter.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

using format::kPageSize;
using format::PageRun;

std::string working_set_path(const std::string& image_path) { return image_path + ".ws"; }

void check_working_set(const format::WorkingSet& ws, const format::Image& image, const std::vector<bool>& lazy) {
  // Both lists are sorted: one pass over the runs, each found by binary search.
  for (size_t i = 0; i < ws.runs.size(); ++i) {
    const PageRun& r = ws.runs[i];
    auto it = std::upper_bound(image.vmas.begin(), image.vmas.end(), r.start,
                               [](uint64_t a, const format::Vma& v) { return a < v.start; });
    const uint64_t end = r.start + r.pages * kPageSize;
    bool inside = it != image.vmas.begin();
    if (inside) {
      const size_t vi = size_t(it - image.vmas.begin()) - 1;
      inside = vi < lazy.size() && lazy[vi] && end <= image.vmas[vi].end;
    }
    if (!inside)
      throw format::FormatError(format::kWorkingSetHeader + i * 16,
                                "run " + std::to_string(i) + " (" + format::hex(r.start) + "-" + format::hex(end) +
                                    ") is not inside one lazy area of the image");
  }
}

std::optional<format::WorkingSet> load_working_set(const std::string& image_path, const format::ImageReader& reader,
                                                   const std::vector<bool>& lazy) {
  const std::string path = working_set_path(image_path);
  auto ignored = [&](const std::string& why) {
    std::fprintf(stderr, "restore: %s ignored: %s; restoring as plain --lazy\n", format::printable(path).c_str(),
                 format::printable(why).c_str());
    return std::nullopt;
  };
  // O_NONBLOCK: a FIFO put there must not hang the restore; only a regular file is read.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    return ignored(std::strerror(errno));
  }
  struct stat st;
  std::vector<uint8_t> bytes;
  const uint64_t most = format::kWorkingSetHeader + uint64_t(format::kMaxWorkingSetRuns) * 16 + 8;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return ignored("not a regular file");
  }
  if (uint64_t(st.st_size) > most) {
    ::close(fd);
    return ignored(std::to_string(st.st_size) + " bytes, more than a working set can hold (" + std::to_string(most) + ")");
  }
  bytes.resize(size_t(st.st_size));
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got, off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += size_t(n);
  }
  ::close(fd);
  if (got != bytes.size()) return ignored("cannot read it whole");
  try {
    format::WorkingSet ws = format::decode_working_set(bytes);
    if (ws.image_id != format::image_identity(reader))
      return ignored("it was learned on another image (its image id " + format::hex(ws.image_id) + ", this image's " +
                     format::hex(format::image_identity(reader)) + "); `restore --lazy --learn` records a new one");
    check_working_set(ws, reader.image(), lazy);
    return ws;
  } catch (const format::FormatError& e) {
    return ignored(std::string("bad working set ") + e.what());
  }
}

namespace {

// One piece of the batch: the parts [from, to) of one chunk's pages that
// the set names (or, with no chunk, a run of never-saved pages), at their
// staged addresses.
struct Piece {
  uint64_t from, to;
  uint8_t* staged;
};
struct Job {
  const format::PageChunk* chunk = nullptr;  // nullptr: zeros
  std::vector<Piece> pieces;
};

// The image's file mapped read-only, so that a raw chunk is checked and
// copied straight from the page cache (no read into a buffer first).
struct MappedImage {
  const uint8_t* base = nullptr;
  size_t size = 0;
  explicit MappedImage(const format::ImageReader& reader) : size(size_t(reader.file_size())) {
    void* m = size ? mmap(nullptr, size, PROT_READ, MAP_SHARED, reader.fd(), 0) : MAP_FAILED;
    base = m == MAP_FAILED ? nullptr : static_cast<const uint8_t*>(m);
  }
  ~MappedImage() {
    if (base) munmap(const_cast<uint8_t*>(base), size);
  }
};

}  // namespace

void bring_in_working_set(const format::ImageReader& reader, const AddressPlan& plan, const std::string& image_path,
                          bool verbose) {
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<format::WorkingSet> ws = load_working_set(image_path, reader, plan.lazy);
  if (!ws) return;
  const format::Image& image = reader.image();
  const std::vector<size_t> chunk_vma = format::chunk_vmas(image);
  const std::vector<PageRun>& runs = ws->runs;
  // Where the saved page `a` of VMA `vi` is staged, if that area may be
  // written here (it was saved writable: staging maps it so).
  auto staged = [&](size_t vi, uint64_t a) -> uint8_t* {
    const format::Vma& v = image.vmas[vi];
    if (!plan.is_lazy(vi) || !(v.prot & PROT_WRITE)) return nullptr;
    return reinterpret_cast<uint8_t*>(plan.staged[vi] + (a - v.start));
  };
  // The jobs: runs and chunks are both sorted by address, walked together.
  // What a run holds outside every chunk was never saved (zeros).
  std::vector<Job> jobs;
  Job zeros;
  uint64_t copy_pages = 0, zero_pages = 0;
  size_t ci = 0;
  for (const PageRun& r : runs) {
    const uint64_t end = r.start + r.pages * kPageSize;
    auto vma = std::upper_bound(image.vmas.begin(), image.vmas.end(), r.start,
                                [](uint64_t a, const format::Vma& v) { return a < v.start; });
    const size_t vi = size_t(vma - image.vmas.begin()) - 1;  // check_working_set: inside one lazy area
    while (ci < image.chunks.size() && image.chunks[ci].vaddr + image.chunks[ci].size() <= r.start) ++ci;
    for (uint64_t a = r.start; a < end;) {
      const format::PageChunk* c = ci < image.chunks.size() ? &image.chunks[ci] : nullptr;
      if (!c || c->vaddr >= end || a < c->vaddr) {
        const uint64_t b = c ? std::min(end, std::max(a + kPageSize, c->vaddr)) : end;
        if (uint8_t* to = staged(vi, a)) zeros.pieces.push_back({a, b, to}), zero_pages += (b - a) / kPageSize;
        a = b;
        continue;
      }
      const uint64_t b = std::min(end, c->vaddr + c->size());
      if (uint8_t* to = staged(chunk_vma[ci], a); to && !c->inherited()) {
        if (jobs.empty() || jobs.back().chunk != c) jobs.push_back({c, {}});
        jobs.back().pieces.push_back({a, b, to});
        copy_pages += (b - a) / kPageSize;
      }
      a = b;
      if (b == c->vaddr + c->size()) ++ci;
    }
  }
  // Zeros as a first read maps them: the zero page.
  for (const Piece& p : zeros.pieces) madvise(p.staged, p.to - p.from, MADV_POPULATE_READ);
  // Each chunk is checked whole (its checksum covers all of it), then only
  // the named pages are written; chunks are independent, so both cores work.
  MappedImage mapped(reader);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_lock;
  auto work = [&] {
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    std::vector<uint8_t> scratch, buffer;
    PageWriter out;
    for (size_t j; !failed && (j = next++) < jobs.size();) {
      const format::PageChunk& c = *jobs[j].chunk;
      try {
        const uint8_t* pages;
        if (c.encoding == format::ChunkEncoding::Raw && mapped.base && c.offset + c.stored_size <= mapped.size) {
          pages = mapped.base + c.offset;
          if (format::checksum(pages, c.stored_size) != c.checksum)
            throw format::FormatError(c.offset, "page data checksum mismatch for the chunk at " + format::hex(c.vaddr));
        } else {
          buffer.resize(c.size());
          reader.read_chunk(c, buffer.data(), dctx.get(), scratch);
          pages = buffer.data();
        }
        for (const Piece& p : jobs[j].pieces) {
          out.populate(p.staged, p.to - p.from);  // present first: the copy takes no fault
          std::memcpy(p.staged, pages + (p.from - c.vaddr), p.to - p.from);
        }
      } catch (...) {
        std::lock_guard<std::mutex> g(error_lock);
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  const unsigned workers = jobs.size() < 8 ? 1 : std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  for (unsigned w = 1; w < workers; ++w) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
  if (error) std::rethrow_exception(error);
  if (verbose) {
    uint64_t lazy_pages = 0, all_pages = 0;
    for (size_t i = 0; i < image.chunks.size(); ++i) {
      all_pages += image.chunks[i].npages;
      if (plan.is_lazy(chunk_vma[i])) lazy_pages += image.chunks[i].npages;
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "restore: working set %s: %llu pages copied and %llu zero pages mapped (of %llu in %zu runs, "
                 "from %zu chunks) before the program runs, in %.1f ms; the lazy areas hold %llu of the image's %llu "
                 "saved pages\n", format::printable(working_set_path(image_path)).c_str(),
                 (unsigned long long)copy_pages, (unsigned long long)zero_pages, (unsigned long long)ws->page_count(),
                 runs.size(), jobs.size(), ms, (unsigned long long)lazy_pages, (unsigned long long)all_pages);
  }
}

void write_working_set(int dir_fd, const std::string& name, const format::WorkingSet& ws) {
  const std::vector<uint8_t> bytes = format::encode_working_set(ws);
  const std::string tmp = name + ".tmp." + std::to_string(getpid());
  int fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += size_t(n);
  }
  const int err = done == bytes.size() ? (fsync(fd) == 0 ? 0 : errno) : (errno ? errno : EIO);
  ::close(fd);
  if (err || ::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    const int why = err ? err : errno;
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    throw std::runtime_error("cannot write " + name + ": " + std::strerror(why));
  }
}

}  // namespace ckpt::restorer
