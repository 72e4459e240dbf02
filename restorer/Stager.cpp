// Staging of memory contents (see Stager.h).
#include "restorer/Stager.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "format/Hex.h"
#include "format/Validate.h"
#include "restorer/PageWriter.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

using format::hex;

using format::Vma;
using format::VmaKind;

static void map_at(uint64_t addr, const Vma& v, int prot, int flags, int fd) {
  void* r = mmap(reinterpret_cast<void*>(addr), v.size(), prot, flags | MAP_FIXED, fd, off_t(v.pgoff));
  if (r == MAP_FAILED)
    throw RestoreError("cannot stage the memory area at " + hex(v.start) + " (" + std::string(vma_kind_name(v.kind)) +
                       (v.file.path.empty() ? "" : " " + v.file.path) + "): " + std::strerror(errno));
}

void stage_memory(const format::ImageReader& reader, const MachineFit& fit, const AddressPlan& plan,
                  const PreparedFiles& files) {
  const format::Image& image = reader.image();
  const std::vector<size_t> chunk_vma = format::chunk_vmas(image);
  std::vector<bool> has_pages(image.vmas.size(), false);
  for (size_t vi : chunk_vma) has_pages[vi] = true;
  // Map every area, writable where pages are to be laid over.
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    const Vma& v = image.vmas[i];
    if (!plan.staged[i]) continue;
    int prot = int(v.prot) | (has_pages[i] ? PROT_READ | PROT_WRITE : 0);
    switch (v.kind) {
      case VmaKind::AnonPrivate:
      case VmaKind::Heap:
      case VmaKind::Stack:
        map_at(plan.staged[i], v, prot,
               MAP_PRIVATE | MAP_ANONYMOUS | ((v.flags & format::kVmaGrowsDown) ? MAP_GROWSDOWN : 0) |
                   ((v.flags & format::kVmaNoReserve) ? MAP_NORESERVE : 0),
               -1);
        break;
      case VmaKind::FilePrivate:
        map_at(plan.staged[i], v, prot, MAP_PRIVATE | ((v.flags & format::kVmaNoReserve) ? MAP_NORESERVE : 0),
               fit.file_fds[i]);
        break;
      case VmaKind::FileShared: map_at(plan.staged[i], v, prot, MAP_SHARED, fit.file_fds[i]); break;
      case VmaKind::AnonShared:
      case VmaKind::MemfdShared: map_at(plan.staged[i], v, prot, MAP_SHARED, files.objects.at(v.file.ino)); break;
      case VmaKind::DeletedShared:  // the recreated file (DeletedFiles.h)
        map_at(plan.staged[i], v, prot, MAP_SHARED, files.deleted.at(v.file.ino));
        break;
      case VmaKind::DeletedPrivate: {
        // Through a read-only description, as exec and most loaders map:
        // a mapping keeps its file open, and one open for writing would
        // count as a writer (the kernel refuses such a file as an exe).
        int ro = ::open(("/proc/self/fd/" + std::to_string(files.deleted.at(v.file.ino))).c_str(), O_RDONLY | O_CLOEXEC);
        if (ro < 0)
          throw RestoreError("cannot reopen the deleted file " + v.file.path + " to map it: " + std::strerror(errno));
        try {
          map_at(plan.staged[i], v, prot, MAP_PRIVATE | ((v.flags & format::kVmaNoReserve) ? MAP_NORESERVE : 0), ro);
        } catch (...) {
          ::close(ro);
          throw;
        }
        ::close(ro);
        break;
      }
      default: throw RestoreError(std::string("cannot stage a ") + vma_kind_name(v.kind) + " area");
    }
  }
  // VMA flags that madvise and mlock set; they move with the area.
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    const Vma& v = image.vmas[i];
    if (!plan.staged[i] || !v.flags) continue;
    void* at = reinterpret_cast<void*>(plan.staged[i]);
    static const struct {
      uint32_t flag;
      int advice;
    } advice[] = {{format::kVmaDontFork, MADV_DONTFORK},   {format::kVmaDontDump, MADV_DONTDUMP},
                  {format::kVmaWipeOnFork, MADV_WIPEONFORK}, {format::kVmaHugePage, MADV_HUGEPAGE},
                  {format::kVmaNoHugePage, MADV_NOHUGEPAGE}, {format::kVmaMergeable, MADV_MERGEABLE}};
    for (const auto& a : advice)
      if ((v.flags & a.flag) && madvise(at, v.size(), a.advice) != 0 && a.flag != format::kVmaMergeable)
        throw RestoreError("cannot apply madvise flags to the area at " + hex(v.start) + ": " + std::strerror(errno));
  }
  // Fill: a lazy area is left empty (the page server brings its pages in);
  // each other chunk is read (raw, in pieces) or decompressed into a buffer
  // of the worker's and written into its staged place by the kernel
  // (PageWriter), on every core: chunks are independent, so workers take
  // the next one from a shared counter, each with its own zstd context.
  std::vector<const format::PageChunk*> todo;
  std::vector<uint8_t*> dest;
  uint64_t bytes = 0;
  for (size_t ci = 0; ci < image.chunks.size(); ++ci) {
    const format::PageChunk& c = image.chunks[ci];
    const size_t vi = chunk_vma[ci];
    if (plan.is_lazy(vi)) continue;
    todo.push_back(&c);
    dest.push_back(reinterpret_cast<uint8_t*>(plan.staged[vi] + (c.vaddr - image.vmas[vi].start)));
    bytes += c.size();
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_lock;
  auto work = [&] {
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    std::vector<uint8_t> scratch, pages;
    PageWriter out;
    for (size_t ci; !failed && (ci = next++) < todo.size();) {
      try {
        uint8_t* to = dest[ci];
        out.populate(to, todo[ci]->size());
        reader.read_chunk(*todo[ci], dctx.get(), scratch, pages,
                          [&](uint64_t at, const uint8_t* data, size_t n) { out.write(to + at, data, n); });
      } catch (...) {
        std::lock_guard<std::mutex> g(error_lock);
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
  };
  // Small images are not worth a thread; large ones get one worker per core.
  unsigned workers = bytes < (8u << 20) ? 1 : std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  std::vector<std::thread> helpers;
  for (unsigned w = 1; w < workers; ++w) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
  if (error) std::rethrow_exception(error);
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    const Vma& v = image.vmas[i];
    if (!plan.staged[i]) continue;
    if (has_pages[i] && mprotect(reinterpret_cast<void*>(plan.staged[i]), v.size(), int(v.prot)) != 0)
      throw RestoreError("cannot protect the staged area for " + hex(v.start) + ": " + std::strerror(errno));
    // Locked last, once the contents are in place (mlock faults every page in).
    if ((v.flags & format::kVmaLocked) && mlock(reinterpret_cast<void*>(plan.staged[i]), v.size()) != 0)
      throw RestoreError("cannot lock the area at " + hex(v.start) + " in memory (RLIMIT_MEMLOCK?): " +
                         std::strerror(errno));
  }
}

}  // namespace ckpt::restorer
