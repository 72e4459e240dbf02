// Staging of memory contents (see Stager.h).
#include "restorer/Stager.h"

#include "common/Progress.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "format/Hex.h"
#include "format/Validate.h"
#include "restorer/HugeBlocks.h"
#include "restorer/PageWriter.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

using format::hex;

using format::Vma;
using format::VmaKind;

// Linux 6.11+ (uapi mman-common.h); Debian 12's headers are older.
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

// Linux 6.13+ (uapi mman-common.h).
constexpr int kMadvGuardInstall = 102;

// MAP_HUGETLB with the page size (MAP_HUGE_SHIFT 26: log2 of the size).
static int huge_flags(const Vma& v) {
  return MAP_HUGETLB | (((v.flags & format::kVmaHuge1G) ? 30 : 21) << 26) |
         ((v.flags & format::kVmaNoReserve) ? MAP_NORESERVE : 0);
}

static void map_at(uint64_t addr, const Vma& v, int prot, int flags, int fd) {
  void* r = mmap(reinterpret_cast<void*>(addr), v.size(), prot, flags | MAP_FIXED, fd, off_t(v.pgoff));
  if (r == MAP_FAILED)
    throw RestoreError("cannot stage the memory area at " + hex(v.start) + " (" + std::string(vma_kind_name(v.kind)) +
                       (v.file.path.empty() ? "" : " " + v.file.path) + "): " + std::strerror(errno));
}

// The madvise flags of a VMA, on its staged area at `at`: all of them, or
// (`huge_only`) just MADV_HUGEPAGE, which staging gives an area only once
// its pages are in: given before, a chunk filling half a 2 MiB block would
// fault in the whole block as a huge page, pages that were not present.
static void apply_advice(const Vma& v, uint64_t at_addr, bool huge_only = false) {
  if (!v.flags) return;
  void* at = reinterpret_cast<void*>(at_addr);
  static const struct {
    uint32_t flag;
    int advice;
  } advice[] = {{format::kVmaDontFork, MADV_DONTFORK},   {format::kVmaDontDump, MADV_DONTDUMP},
                {format::kVmaWipeOnFork, MADV_WIPEONFORK}, {format::kVmaHugePage, MADV_HUGEPAGE},
                {format::kVmaNoHugePage, MADV_NOHUGEPAGE}, {format::kVmaMergeable, MADV_MERGEABLE},
                {format::kVmaSeqRead, MADV_SEQUENTIAL},    {format::kVmaRandRead, MADV_RANDOM}};
  for (const auto& a : advice)
    if ((v.flags & a.flag) && huge_only == (a.flag == format::kVmaHugePage) &&
        madvise(at, v.size(), a.advice) != 0 && a.flag != format::kVmaMergeable)
      throw RestoreError("cannot apply madvise flags to the area at " + hex(v.start) + ": " + std::strerror(errno));
}

// Guard pages go in once the contents are (installing one zaps the page
// under it); they move with the area when the trampoline mremaps it.
static void install_guards(const Vma& v, uint64_t at) {
  for (const format::GuardRange& g : v.guards)
    if (madvise(reinterpret_cast<void*>(at + (g.start - v.start)), g.end - g.start, kMadvGuardInstall) != 0)
      throw RestoreError("cannot install the guard pages " + hex(g.start) + "-" + hex(g.end) + ": " + std::strerror(errno));
}

// Locked last, once the contents are in place (mlock faults every page in).
static void lock_area(const Vma& v, uint64_t at) {
  if ((v.flags & format::kVmaLocked) && mlock(reinterpret_cast<void*>(at), v.size()) != 0)
    throw RestoreError("cannot lock the area at " + hex(v.start) + " in memory (RLIMIT_MEMLOCK?): " + std::strerror(errno));
}

// Whether the blocks of area i that the image fills completely may be
// backed by huge pages (HugeBlocks.h) without anything the process
// can see changing but smaps' AnonHugePages: plain private anonymous memory
// (and the heap), not declined by the process (MADV_NOHUGEPAGE, the
// THP-disable prctl), not shared with KSM, not filled later (lazy) or kept
// from a parent, and staged where its 2 MiB alignment is its final one, so
// that the trampoline's mremap moves whole huge pages.
static bool may_use_huge_pages(const format::Image& image, size_t i, const AddressPlan& plan, const ChildPages* keep) {
  const Vma& v = image.vmas[i];
  if (v.kind != VmaKind::AnonPrivate && v.kind != VmaKind::Heap) return false;
  if (v.flags & (format::kVmaHugetlb | format::kVmaDroppable | format::kVmaNoHugePage | format::kVmaMergeable))
    return false;
  if (image.task.thp_disable || plan.is_lazy(i) || (keep && keep->keeps(i)) || !plan.staged[i]) return false;
  return v.size() >= kHugeBlock && (plan.staged[i] - v.start) % kHugeBlock == 0;
}

// How many threads fill the staged memory: one per core (at most 8), or
// one alone when the work would not pay for starting another. A compressed
// chunk counts kDecompressCost times its size (zstd decompresses at about
// 1.5 GB/s a core where the kernel copies pages at 10 or more), so a few
// MiB of compressed pages get every core where as much raw data does not.
static unsigned stage_workers(const std::vector<const format::PageChunk*>& todo) {
  constexpr uint64_t kDecompressCost = 8, kThreadWorth = 8u << 20;
  uint64_t work = 0;
  for (const format::PageChunk* c : todo) work += c->size() * (c->encoding == format::ChunkEncoding::Zstd ? kDecompressCost : 1);
  if (work < kThreadWorth || todo.size() < 2) return 1;
  return unsigned(std::min<size_t>(todo.size(), std::clamp(std::thread::hardware_concurrency(), 1u, 8u)));
}

void stage_outside(const format::Image& image, const AddressPlan& plan, const SysvSegments& sysv, const OwnFiles& own) {
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    const Vma& v = image.vmas[i];
    if (!plan.staged[i]) continue;
    if (v.kind == VmaKind::SysvShm) {
      sysv.attach(v, plan.staged[i]);
    } else if (v.kind == VmaKind::FileSharedOwn) {
      // The staged private copy becomes the new file's contents, then the
      // file is mapped over it.
      int fd = own.fd_for(v);
      const uint8_t* from = reinterpret_cast<const uint8_t*>(plan.staged[i]);
      if ((v.prot & PROT_READ) == 0 && mprotect(const_cast<uint8_t*>(from), v.size(), PROT_READ) != 0)
        throw RestoreError("cannot read the staged per-process file for " + hex(v.start) + ": " + std::strerror(errno));
      for (uint64_t done = 0; done < v.file.size;) {
        ssize_t n = pwrite(fd, from + done, size_t(v.file.size - done), off_t(done));
        if (n <= 0) throw RestoreError("cannot write " + own_file_path(v) + ": " + std::strerror(errno));
        done += uint64_t(n);
      }
      map_at(plan.staged[i], v, int(v.prot), MAP_SHARED, fd);
    } else {
      continue;
    }
    apply_advice(v, plan.staged[i]);
    apply_advice(v, plan.staged[i], true);
    install_guards(v, plan.staged[i]);
    lock_area(v, plan.staged[i]);
  }
}

void stage_memory(const format::ImageReader& reader, const MachineFit& fit, const AddressPlan& plan,
                  const PreparedFiles& files, Predecoder* pre) {
  stage_memory(reader, reader.image(), fit, plan, files, nullptr, pre);
}

void stage_memory(const format::ImageReader& reader, const format::Image& image, const MachineFit& fit,
                  const AddressPlan& plan, const PreparedFiles& files, const ChildPages* keep, Predecoder* pre) {
  const std::vector<size_t> chunk_vma = format::chunk_vmas(image);
  std::vector<bool> has_pages(image.vmas.size(), false);
  for (size_t vi : chunk_vma) has_pages[vi] = true;
  // Map every area, writable where pages are to be laid over.
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    const Vma& v = image.vmas[i];
    if (!plan.staged[i]) continue;
    int prot = int(v.prot) | (has_pages[i] ? PROT_READ | PROT_WRITE : 0);
    if (keep && keep->keeps(i)) {
      // The parent's copy, already here: made writable for the child's own
      // chunks (mprotect shares on), then the pages the child has no chunk
      // for are discarded, before any is written.
      if (mprotect(reinterpret_cast<void*>(plan.staged[i]), v.size(), prot) != 0)
        throw RestoreError("cannot open the inherited area at " + hex(v.start) + " for writing: " + std::strerror(errno));
      discard_uncovered(image, i, plan.staged[i]);
      continue;
    }
    switch (v.kind) {
      case VmaKind::AnonPrivate:
        if (v.flags & format::kVmaHugetlb) {
          map_at(plan.staged[i], v, prot, MAP_PRIVATE | MAP_ANONYMOUS | huge_flags(v), -1);
          break;
        }
        if (v.flags & format::kVmaDroppable) {  // its own mapping type: the kernel may free its pages under pressure
          map_at(plan.staged[i], v, prot, MAP_DROPPABLE | MAP_ANONYMOUS, -1);
          break;
        }
        [[fallthrough]];
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
      case VmaKind::MemfdPrivate:
      case VmaKind::AnonSharedPrivate:
        map_at(plan.staged[i], v, prot, MAP_PRIVATE | ((v.flags & format::kVmaNoReserve) ? MAP_NORESERVE : 0),
               files.objects.at(v.file.ino));
        break;
      case VmaKind::SysvShm: break;  // attached by stage_outside, after every check: its reservation stays
      // Filled here as private memory, moved into its new file by stage_outside.
      case VmaKind::FileSharedOwn: map_at(plan.staged[i], v, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1); break;
      case VmaKind::HugetlbShared: map_at(plan.staged[i], v, prot, MAP_SHARED | MAP_ANONYMOUS | huge_flags(v), -1); break;
      case VmaKind::DevZeroPrivate: {
        int zero = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
        if (zero < 0) throw RestoreError(std::string("cannot open /dev/zero: ") + std::strerror(errno));
        try {
          map_at(plan.staged[i], v, prot, MAP_PRIVATE | ((v.flags & format::kVmaNoReserve) ? MAP_NORESERVE : 0), zero);
        } catch (...) {
          ::close(zero);
          throw;
        }
        ::close(zero);
        break;
      }
      case VmaKind::AnonShared:
      case VmaKind::MemfdShared: {
        // Without "mw" the object was open read-only where it was mapped (or
        // write-sealed): map it through a read-only descriptor, so that the
        // area cannot be made writable now either.
        int fd = files.objects.at(v.file.ino), ro = -1;
        if (!(v.flags & format::kVmaMayWrite) && !(v.prot & PROT_WRITE)) {
          ro = ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC);
          if (ro < 0)
            throw RestoreError("cannot reopen the shared memory for " + hex(v.start) + " read-only: " +
                               std::strerror(errno));
          fd = ro;
        }
        map_at(plan.staged[i], v, prot, MAP_SHARED, fd);
        if (ro >= 0) ::close(ro);
        break;
      }
      case VmaKind::DeletedShared:  // the recreated file (DeletedFiles.h)
      case VmaKind::DeletedPrivate: {
        // Through a read-only description unless the area may be made
        // writable and shared ("mw"), as the process's own was: a mapping
        // keeps its file open, and one open for writing counts as a writer
        // (the kernel refuses such a file as an exe).
        const bool writable = v.kind == VmaKind::DeletedShared && ((v.flags & format::kVmaMayWrite) || (v.prot & PROT_WRITE));
        if (writable) {
          map_at(plan.staged[i], v, prot, MAP_SHARED, files.deleted.at(v.file.ino));
          break;
        }
        int ro = ::open(("/proc/self/fd/" + std::to_string(files.deleted.at(v.file.ino))).c_str(), O_RDONLY | O_CLOEXEC);
        if (ro < 0)
          throw RestoreError("cannot reopen the deleted file " + v.file.path + " to map it: " + std::strerror(errno));
        try {
          map_at(plan.staged[i], v, prot,
                 v.kind == VmaKind::DeletedShared ? MAP_SHARED
                                                  : MAP_PRIVATE | ((v.flags & format::kVmaNoReserve) ? MAP_NORESERVE : 0),
                 ro);
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
  for (size_t i = 0; i < image.vmas.size(); ++i)
    if (plan.staged[i] && image.vmas[i].kind != VmaKind::SysvShm) apply_advice(image.vmas[i], plan.staged[i]);
  // Fill: a lazy area is left empty (the page server brings its pages in);
  // each other chunk is made present (PageWriter) and read (raw) or
  // decompressed (zstd) straight into its staged place, on every core:
  // chunks are independent, so workers take the next item from a shared
  // counter, each with its own zstd context.
  std::vector<const format::PageChunk*> todo;
  std::vector<uint8_t*> dest;
  std::vector<bool> huge_area(image.vmas.size(), false);
  for (size_t i = 0; i < image.vmas.size(); ++i) huge_area[i] = may_use_huge_pages(image, i, plan, keep);
  // The 2 MiB blocks of such areas that runs of adjacent chunks fill
  // completely get huge pages before anything is written (HugeBlocks.h).
  std::vector<uint64_t> huge;
  uint64_t run_start = 0, run_end = 0;
  size_t run_vma = SIZE_MAX;
  auto close_run = [&] {
    if (run_vma == SIZE_MAX || !huge_area[run_vma]) return;
    for (uint64_t at = (run_start + kHugeBlock - 1) & ~(kHugeBlock - 1); at + kHugeBlock <= run_end; at += kHugeBlock)
      huge.push_back(at);
  };
  for (size_t ci = 0; ci < image.chunks.size(); ++ci) {
    const format::PageChunk& c = image.chunks[ci];
    const size_t vi = chunk_vma[ci];
    if (plan.is_lazy(vi) || c.inherited()) continue;  // inherited: the parent's copy is kept (ChildPages.h)
    const uint64_t to = plan.staged[vi] + (c.vaddr - image.vmas[vi].start);
    todo.push_back(&c);
    dest.push_back(reinterpret_cast<uint8_t*>(to));
    if (vi != run_vma || to != run_end) {  // chunks are in address order: runs of adjacent ones
      close_run();
      run_vma = vi;
      run_start = to;
    }
    run_end = to + c.size();
  }
  close_run();
  std::sort(huge.begin(), huge.end());  // staged areas need not be in address order
  const unsigned workers = stage_workers(todo);
  if (pre) pre->stop();  // from here on every core is staging's
  give_huge_pages(huge, workers);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_lock;
  auto work = [&] {
    // Made when the first compressed chunk comes: an image of raw pages needs none.
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(nullptr, ZSTD_freeDCtx);
    std::vector<uint8_t> scratch;
    PageWriter out;
    for (size_t ci; !failed && (ci = next++) < todo.size();) {
      try {
        out.populate(dest[ci], todo[ci]->size());
        if (pre && pre->take(*todo[ci], dest[ci])) {  // decompressed before staging began: copied
          common::progress_add(todo[ci]->size());
          continue;
        }
        if (!dctx && todo[ci]->encoding == format::ChunkEncoding::Zstd) dctx.reset(ZSTD_createDCtx());
        reader.read_chunk(*todo[ci], dest[ci], dctx.get(), scratch);
        common::progress_add(todo[ci]->size());  // the progress line, if one is shown (restorer/StageProgress.h)
      } catch (...) {
        std::lock_guard<std::mutex> g(error_lock);
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  for (unsigned w = 1; w < workers; ++w) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
  if (pre) pre->finish();
  if (error) std::rethrow_exception(error);
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    const Vma& v = image.vmas[i];
    if (!plan.staged[i]) continue;
    if (v.kind == VmaKind::SysvShm) continue;  // stage_outside
    if (v.kind != VmaKind::FileSharedOwn) {  // those in stage_outside
      apply_advice(v, plan.staged[i], true);
      install_guards(v, plan.staged[i]);
    }
    if (has_pages[i] && mprotect(reinterpret_cast<void*>(plan.staged[i]), v.size(), int(v.prot)) != 0)
      throw RestoreError("cannot protect the staged area for " + hex(v.start) + ": " + std::strerror(errno));
    if (v.kind != VmaKind::FileSharedOwn) lock_area(v, plan.staged[i]);  // that one in stage_outside
  }
}

}  // namespace ckpt::restorer
