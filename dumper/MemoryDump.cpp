// Page selection and copying (see MemoryDump.h).
#include "dumper/MemoryDump.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "format/Hex.h"
#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"
#include "format/Validate.h"

namespace ckpt::dumper {

using format::hex;

using format::kPageSize;
using format::Vma;
using format::VmaKind;

static constexpr uint64_t kPmPresent = 1ull << 63;
static constexpr uint64_t kPmSwapped = 1ull << 62;
static constexpr uint64_t kPmFile = 1ull << 61;
static constexpr uint64_t kPmExclusive = 1ull << 56;  // mapped by this process only
static constexpr uint64_t kPmGuard = 1ull << 58;  // a guard page (Linux 6.14+), reported swapped as well
static constexpr uint64_t kBatchPages = 1024;  // 4 MiB per read
static constexpr size_t kBatchBytes = kBatchPages * kPageSize;


// Through /proc/PID/mem: reads through protections for a tracer, and takes
// no pin on the pages (see read_pages for why that matters).
static void read_through_mem(pid_t pid, int mem_fd, uint64_t addr, void* out, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t r = pread(mem_fd, static_cast<char*>(out) + done, len - done, off_t(addr + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      throw DumpError("pid " + std::to_string(pid) + ": cannot read memory at " + hex(addr + done) + ": " +
                      (r < 0 ? std::strerror(errno) : "end of file"));
    done += size_t(r);
  }
}

void read_remote(pid_t pid, int mem_fd, uint64_t addr, void* out, size_t len) {
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n == ssize_t(len)) return;
  if (n < 0 && errno == ESRCH) throw DumpError("pid " + std::to_string(pid) + " exited during the dump");
  // PROT_NONE or otherwise unreadable.
  read_through_mem(pid, mem_fd, addr, out, len);
}

// Whether a page is all zero; stops at the first non-zero 64 bytes, so
// ordinary data costs a few loads and only zero pages are read whole.
static bool all_zero(const uint8_t* p) {
  for (size_t i = 0; i < kPageSize; i += 64) {
    uint64_t acc = 0;
    for (size_t j = 0; j < 64; j += 8) {
      uint64_t v;
      std::memcpy(&v, p + i + j, 8);
      acc |= v;
    }
    if (acc) return false;
  }
  return true;
}

namespace {

// Pages read from the target and waiting to be written: runs of saved
// pages, stored back to back in `data` (kBatchPages pages at most).
struct Batch {
  struct Run {
    uint64_t vaddr;
    uint64_t npages;
    size_t offset;  // in data
    bool inherited;  // the parent's pages: no data
  };
  uint8_t* data = nullptr;
  std::vector<Run> runs;
};

// The batches passed between the thread that reads the target and the one
// that writes the image, so that reading the next batch overlaps writing
// the last. kBatches buffers of 4 MiB, in one mapping that asks for huge
// pages: first-touching 12 MiB of small pages would cost thousands of page
// faults, more than the copying itself on a virtual machine.
class BatchQueue {
 public:
  static constexpr size_t kBatches = 3;  // one being read, one being written, one ready

  BatchQueue() {
    constexpr size_t kHuge = 2u << 20;
    map_size_ = kBatches * kBatchBytes + kHuge;
    void* m = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw DumpError(std::string("cannot allocate the copy buffers: ") + std::strerror(errno));
    map_ = static_cast<uint8_t*>(m);
    auto* aligned = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(map_) + kHuge - 1) & ~(kHuge - 1));
    madvise(aligned, kBatches * kBatchBytes, MADV_HUGEPAGE);  // a hint: small pages work too
    for (size_t i = 0; i < kBatches; ++i) {
      batches_[i].data = aligned + i * kBatchBytes;
      empty_.push_back(&batches_[i]);
    }
  }
  ~BatchQueue() { munmap(map_, map_size_); }
  BatchQueue(const BatchQueue&) = delete;
  BatchQueue& operator=(const BatchQueue&) = delete;

  // Reading side. An empty batch to fill, or nullptr if the writer gave up.
  Batch* take_empty() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return cancelled_ || !empty_.empty(); });
    if (cancelled_) return nullptr;
    Batch* b = empty_.front();
    empty_.pop_front();
    b->runs.clear();
    return b;
  }
  void put_full(Batch* b) { push(full_, b); }
  // No more batches; `error` is why reading stopped early, if it did.
  void close(std::exception_ptr error) {
    std::lock_guard lock(mutex_);
    closed_ = true;
    error_ = error;
    changed_.notify_all();
  }

  // Writing side. The next full batch in order, or nullptr when there are
  // no more (then error() tells whether reading failed).
  Batch* take_full() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return error_ || closed_ || !full_.empty(); });
    if (error_ || full_.empty()) return nullptr;
    Batch* b = full_.front();
    full_.pop_front();
    return b;
  }
  void put_empty(Batch* b) { push(empty_, b); }
  void cancel() {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    changed_.notify_all();
  }
  std::exception_ptr error() {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  void push(std::deque<Batch*>& to, Batch* b) {
    std::lock_guard lock(mutex_);
    to.push_back(b);
    changed_.notify_all();
  }

  uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  Batch batches_[kBatches];
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch*> empty_, full_;
  bool closed_ = false, cancelled_ = false;
  std::exception_ptr error_;
};

}  // namespace

// The reading thread: walks the VMAs that take pages through pagemap, reads
// the wanted pages into batches and leaves out all-zero anonymous pages.
static void read_pages(pid_t pid, const std::vector<Vma>& vmas, const InheritedPages* inherited, BatchQueue& queue,
                       MemoryStats& stats, const ParentPages* parent_pages) {
  const std::string proc = "/proc/" + std::to_string(pid);
  ScopedFd pagemap(::open((proc + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC));
  ScopedFd mem(::open((proc + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
  if (pagemap.get() < 0 || mem.get() < 0)
    throw DumpError("pid " + std::to_string(pid) + ": cannot open its pagemap or mem: " + std::strerror(errno));

  std::vector<uint64_t> entries(kBatchPages);
  for (const Vma& v : vmas) {
    if (!format::vma_kind_takes_pages(v.kind)) continue;
    // Pages still the file's or object's are not saved, and a zero page copied
    // on write differs from what lies beneath it, so it is kept.
    const bool file_backed = v.kind == VmaKind::FilePrivate || format::vma_kind_is_private_object(v.kind) ||
                             v.kind == VmaKind::DeletedPrivate;
    // Shared memory saved as pages: no copy-on-write to break, read at full speed.
    const bool shared_kind = v.kind == VmaKind::FileSharedOwn || v.kind == VmaKind::HugetlbShared;
    for (uint64_t base = v.start; base < v.end; base += kBatchBytes) {
      uint64_t npages = std::min<uint64_t>(kBatchPages, (v.end - base) / kPageSize);
      size_t bytes = npages * 8;
      if (pread(pagemap.get(), entries.data(), bytes, off_t(base / kPageSize * 8)) != ssize_t(bytes))
        throw DumpError("pid " + std::to_string(pid) + ": cannot read pagemap at " + hex(base) + " (did it exit?)");
      // Pages worth saving, as runs [i, j). A guard page holds nothing and cannot be read.
      auto guarded = [&](uint64_t i) {
        uint64_t a = base + i * kPageSize;
        auto g = std::upper_bound(v.guards.begin(), v.guards.end(), a,
                                  [](uint64_t x, const format::GuardRange& r) { return x < r.end; });
        return g != v.guards.end() && g->start <= a;
      };
      // A per-process file is saved whole, up to its size, present or not (it is read through the mapping).
      const uint64_t own_end = v.start + (v.file.size + kPageSize - 1) / kPageSize * kPageSize;
      // Pages the child shares with its parent are recorded, not read.
      auto from_parent = [&](uint64_t i) { return inherited && inherited->contains(base + i * kPageSize); };
      auto wanted = [&](uint64_t i) {
        uint64_t e = entries[i];
        if (from_parent(i)) return false;
        if (parent_pages && parent_pages->contains(base + i * kPageSize)) return false;  // the parent image's
        if ((e & kPmGuard) || (!v.guards.empty() && guarded(i))) return false;
        if (v.kind == VmaKind::FileSharedOwn) return base + i * kPageSize < own_end;
        if (e & kPmSwapped) return true;
        if (!(e & kPmPresent)) return false;
        return !file_backed || !(e & kPmFile);  // a private file page still in the page cache is the file's
      };
      Batch* batch = nullptr;
      size_t filled = 0;
      for (uint64_t i = 0; i < npages;) {
        if (from_parent(i)) {
          uint64_t j = i;
          while (j < npages && from_parent(j)) ++j;
          if (!batch && !(batch = queue.take_empty())) return;
          batch->runs.push_back({base + i * kPageSize, j - i, 0, true});
          i = j;
          continue;
        }
        if (!wanted(i)) {
          ++i;
          continue;
        }
        uint64_t j = i;
        while (j < npages && wanted(j)) ++j;
        if (!batch && !(batch = queue.take_empty())) return;  // the writer gave up
        uint8_t* buf = batch->data + filled;
        // process_vm_readv pins the pages it reads, and since Linux 5.19 the
        // kernel first gives the reader's target a copy of its own of every
        // anonymous page it still shares copy-on-write (a read-only pin of a
        // shared page must not see the other's later writes): reading a tree
        // that way would leave each member holding a private copy of what
        // fork made it share, several times the memory, and no page frame in
        // common for a child to inherit (SharedPages.h). Pages mapped more
        // than once are read through /proc/PID/mem, which takes no pin.
        for (uint64_t k = i; k < j;) {
          const bool shared = (entries[k] & kPmPresent) && !(entries[k] & kPmExclusive) && !shared_kind;
          uint64_t m = k + 1;
          while (m < j && ((entries[m] & kPmPresent) && !(entries[m] & kPmExclusive) && !shared_kind) == shared) ++m;
          uint8_t* to = buf + (k - i) * kPageSize;
          if (shared) read_through_mem(pid, mem.get(), base + k * kPageSize, to, (m - k) * kPageSize);
          else read_remote(pid, mem.get(), base + k * kPageSize, to, (m - k) * kPageSize);
          k = m;
        }
        // Split the run at all-zero pages of anonymous memory.
        for (uint64_t k = i; k < j;) {
          if (!file_backed && all_zero(buf + (k - i) * kPageSize)) {
            ++stats.zero_pages_skipped;
            ++k;
            continue;
          }
          uint64_t m = k + 1;
          while (m < j && (file_backed || !all_zero(buf + (m - i) * kPageSize))) ++m;
          batch->runs.push_back({base + k * kPageSize, m - k, filled + (k - i) * kPageSize, false});
          k = m;
        }
        filled += (j - i) * kPageSize;
        i = j;
      }
      if (batch && batch->runs.empty()) queue.put_empty(batch);
      else if (batch) queue.put_full(batch);
    }
  }
}

MemoryStats dump_memory(pid_t pid, const std::vector<Vma>& vmas, format::ImageWriter& writer,
                        const std::function<void()>& written, const InheritedPages* inherited,
                        const ParentPages* from_parent) {
  MemoryStats stats;
  BatchQueue queue;
  std::thread reader([&] {
    std::exception_ptr error;
    try {
      read_pages(pid, vmas, inherited, queue, stats, from_parent);
    } catch (...) {
      error = std::current_exception();
    }
    queue.close(error);
  });
  try {
    while (Batch* b = queue.take_full()) {
      for (const Batch::Run& r : b->runs) {
        if (r.inherited) {
          writer.add_inherited(r.vaddr, r.npages);
          stats.pages_inherited += r.npages;
          continue;
        }
        writer.add_pages(r.vaddr, b->data + r.offset, r.npages);
        stats.pages_saved += r.npages;
      }
      queue.put_empty(b);
      written();
    }
  } catch (...) {
    queue.cancel();
    reader.join();
    throw;
  }
  reader.join();
  if (std::exception_ptr e = queue.error()) std::rethrow_exception(e);
  return stats;
}

}  // namespace ckpt::dumper
