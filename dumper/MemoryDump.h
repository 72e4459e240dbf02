// Copies the target's saved pages into the image, in three steps so that
// the target is stopped only for the first two (docs/architecture.md, "The
// dump"):
//   plan  (stopped)  pagemap tells which pages exist in each VMA that takes
//                    pages (present or swapped; for private file mappings
//                    only those copied on write), and which a child shares
//                    with its parent (recorded as inherited, not read);
//   copy  (stopped)  every planned page is read into a buffer of ckpt's own
//                    (process_vm_readv, or /proc/PID/mem where protections
//                    forbid it or the page is mapped more than once), or,
//                    for a snapshot dump, the pages of write-protected
//                    areas are read after the target resumes (Snapshot.h);
//   write (running)  all-zero anonymous pages are left out (fresh anonymous
//                    memory is zero) and the rest goes to the writer,
//                    compressed there.
// When the machine lacks the memory for the buffer, the copy is skipped and
// `write` reads each batch itself, a batch at a time, while the target is
// still stopped (the old way: a longer freeze, never a failure).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "dumper/DirtyPages.h"
#include "dumper/SharedPages.h"
#include "format/Image.h"
#include "format/ImageWriter.h"

namespace ckpt::dumper {

struct MemoryStats {
  uint64_t pages_saved = 0;
  uint64_t zero_pages_skipped = 0;
  uint64_t pages_inherited = 0;  // recorded as the parent's (SharedPages.h), not read
};

// Pages planned for the image, contiguous in the target and in the buffer.
struct PageRun {
  uint64_t vaddr = 0;
  uint64_t npages = 0;
  uint64_t offset = 0;         // in the buffer (not for inherited runs)
  size_t vma = 0;              // index into the VMAs planned from
  bool inherited = false;      // the parent's pages: no data
  bool via_mem = false;        // read through /proc/PID/mem (see MemoryDump.cpp)
  bool skip_zero = false;      // anonymous memory: all-zero pages are left out
  // Contents copied before the freeze and unwritten since (an incremental
  // dump's precopy, DirtyPages.h): not read again, not in the buffer.
  const uint8_t* precopied = nullptr;
};

// Memory for the copies, mapped and first-touched before the tree is
// stopped, so that the page faults of a first touch (zeroing a gigabyte)
// are not part of the freeze. Sized from an estimate; a copy that does
// not fit in what is left maps memory of its own.
class CopyArena {
 public:
  CopyArena() = default;
  ~CopyArena();
  CopyArena(const CopyArena&) = delete;
  CopyArena& operator=(const CopyArena&) = delete;
  // Maps and populates `bytes` (best effort: a failure leaves it empty).
  void reserve(uint64_t bytes);
  // `bytes` of it, or nullptr when too little is left.
  uint8_t* take(uint64_t bytes);
  uint64_t size() const { return size_; }

 private:
  uint8_t* map_ = nullptr;
  uint64_t size_ = 0, used_ = 0;
};

// What a copy of `pid`'s pages will need at most, read before it is
// stopped: Rss + Swap of /proc/PID/smaps_rollup; 0 if unknown.
uint64_t estimate_copy_bytes(pid_t pid);

// One process's pages, from plan to writer.
class MemoryCopy {
 public:
  // Plans: reads the target's pagemap. The target must be stopped.
  // `parent_pages` (an incremental dump's, or nullptr): pages left out
  // because they are the parent image's (DirtyPages.h).
  // `scan`: private anonymous areas (without inherited pages) are planned
  // from PAGEMAP_SCAN's regions of present or swapped pages, one ioctl
  // instead of a pagemap entry per page; pagemap's "mapped once" bit is
  // not among its categories, so their pages are read through
  // /proc/PID/mem, which takes no pin (see MemoryDump.cpp). For a snapshot
  // (whose protected pages are read that way anyway) and an incremental
  // dump (which reads few pages); a kernel without PAGEMAP_SCAN gets the
  // pagemap.
  MemoryCopy(pid_t pid, const std::vector<format::Vma>& vmas, const InheritedPages* inherited,
             const ParentPages* parent_pages = nullptr, bool scan = false);
  ~MemoryCopy();
  MemoryCopy(const MemoryCopy&) = delete;
  MemoryCopy& operator=(const MemoryCopy&) = delete;

  pid_t pid() const { return pid_; }
  const std::vector<PageRun>& runs() const { return runs_; }
  // Bytes the buffer needs (every planned page but inherited ones).
  uint64_t bytes() const { return bytes_; }
  // The plan as chunks, for a child's find_inherited_pages while the tree is
  // stopped (zero pages included: write() drops a child's inherited pages
  // its parent turned out not to save, which are zero as well).
  std::vector<format::PageChunk> planned_chunks() const;

  // Maps the buffer, from `arena` if it has room (throws DumpError if it cannot).
  void allocate(CopyArena* arena = nullptr);
  bool allocated() const { return buffer_ != nullptr; }
  const uint8_t* data(const PageRun& r) const { return r.precopied ? r.precopied : buffer_ + r.offset; }
  // Reads run `i` (or `npages` of it from page `from`) into the buffer.
  // `same_mm`: only through mem_fd(), never by pid (a running target may exec).
  void copy(size_t i, uint64_t from = 0, uint64_t npages = ~0ull, bool same_mm = false);
  // Allocates, then reads every run (the runs read directly, many to a
  // process_vm_readv).
  void copy_all(CopyArena* arena = nullptr);
  // The fd of /proc/PID/mem opened while stopped: it keeps reading this very
  // address space, and fails once it is gone (exit, exec).
  int mem_fd() const { return mem_; }

  // Hands the pages to the writer, in address order. Without a buffer the
  // pages are read batch by batch now (the target must still be stopped).
  // `parent_chunks`: the parent member's chunks as written (a child's).
  // `written` is called after each batch.
  MemoryStats write(format::ImageWriter& writer, const std::function<void()>& written,
                    const std::vector<format::PageChunk>* parent_chunks);

 private:
  pid_t pid_;
  int pagemap_ = -1, mem_ = -1;
  std::vector<PageRun> runs_;
  uint64_t bytes_ = 0;
  uint8_t* map_ = nullptr;
  uint8_t* buffer_ = nullptr;  // in map_, aligned for huge pages
  size_t map_size_ = 0;
};

// Bytes of memory the machine can give ckpt now (MemAvailable); 0 if unknown.
uint64_t memory_available();

// Reads `len` bytes at `addr` of `pid` (used for the vdso too).
void read_remote(pid_t pid, int mem_fd, uint64_t addr, void* out, size_t len);

}  // namespace ckpt::dumper
