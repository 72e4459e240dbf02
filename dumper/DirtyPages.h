// Write tracking for incremental dumps (docs/architecture.md, "Incremental
// dumps"). The kernel here has no soft-dirty bit (CONFIG_MEM_SOFT_DIRTY is
// off), so tracking is userfaultfd write-protection in asynchronous mode
// (UFFD_FEATURE_WP_ASYNC, Linux 6.7+): the trackable areas of the process
// (format::vma_is_trackable) are registered with a userfaultfd made in the
// process's own mm and write-protected; the process's first write to a page
// then only clears the page's protection bit, with no fault delivered to
// anyone; PAGEMAP_SCAN reports the pages whose bit is clear (PAGE_IS_WRITTEN)
// and protects them again in the same walk.
//
// The registration lives as long as the userfaultfd: between dumps a small
// keeper process (`ckpt-track`, forked by `ckpt dump --track`) holds it, so
// that the process itself holds no extra fd; it answers on an abstract Unix
// socket named after the process's pid and start time, only to its own user
// (or root), and exits when the process does or when a dump without --track
// ends the chain. The keeper also remembers the trailer checksum of the last
// image whose dump re-armed the tracking: only that image can be a --parent.
//
// What tracking cannot see is saved whole: areas of any other kind, areas
// not registered (new since the last dump, moved by mremap, replaced by
// MAP_FIXED, or registered with another userfaultfd by the process itself:
// PAGEMAP_SCAN refuses them as not write-protect-async), and pages outside
// the parent's trackable areas.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dumper/ScopedFd.h"
#include "dumper/SharedPages.h"
#include "format/Image.h"
#include "x86/RemoteSyscall.h"

namespace ckpt::dumper {

// What an incremental dump needs of its parent image: its identity and its
// areas. From a file (`open`), or from the report of the dump that wrote it
// (DumpReport::as_parent), for a caller that chains dumps in one process.
struct ParentRef {
  std::string path;        // absolute
  uint64_t checksum = 0;   // its trailer checksum (format::image_checksum)
  uint32_t depth = 0;      // images below it (0: a full image)
  std::vector<format::Vma> vmas;
  // Throws DumpError naming the file when it is missing, not an image or
  // a process tree.
  static ParentRef open(const std::string& path);
};

// Before the freeze of an incremental dump, the pages written since the
// parent are protected again and copied while the process runs; the
// freeze then copies only those written since (DirtyTracker::precopy).
struct Precopy {
  struct Range {
    uint64_t start = 0, end = 0, offset = 0;  // [start, end) of the process, at `offset` in `data`
  };
  std::vector<PageRange> written;  // written since the parent and protected again (sorted)
  // Without a page then (the scan put a protection marker there, which a
  // later scan reports as an unwritten page: it is not the parent's).
  std::vector<PageRange> absent;
  std::vector<Range> copied;       // of those, the pages in `data` (sorted, adjacent ones merged)
  std::unique_ptr<uint8_t[]> data;
  // A scan failed part-way: pages it protected again are no longer known
  // as written, so the freeze takes no page as the parent's.
  bool lost = false;
};

// Pages whose contents are the parent's (sorted, disjoint runs), and
// those written since it (present or swapped): a write gave the process a
// page of its own, which a read that pins it cannot unshare (MemoryDump.h).
struct ParentPages {
  std::vector<PageRange> runs;
  std::vector<PageRange> written;
  bool is_written(uint64_t start, uint64_t end) const;
  // Pages whose contents at the freeze are those the precopy copied
  // (unwritten since), and the precopy itself (or nullptr).
  std::vector<PageRange> precopied;
  const Precopy* precopy = nullptr;
  // Where the contents of [start, end) are in precopy->data, if all there; else nullptr.
  const uint8_t* precopied_data(uint64_t start, uint64_t end) const;
  bool contains(uint64_t addr) const;
  uint64_t pages() const;
};

class DirtyTracker {
 public:
  // Starts tracking `pid` (stopped, all threads): a userfaultfd made in it
  // by one injected call through `site`, taken over with pidfd_getfd and
  // closed there again. Throws DumpError when the kernel or the process
  // cannot (seccomp, no WP_ASYNC).
  static std::unique_ptr<DirtyTracker> start(pid_t pid, const x86::InjectionSite& site);
  // The tracking a keeper holds for `pid` (running or stopped), which must
  // go on from `parent`. Throws DumpError, naming why, when there is no
  // keeper for this very process or it last armed for another image. The
  // keeper forgets its image from now on, until keep() or a failure before
  // the re-arm (the destructor tells it again then).
  static std::unique_ptr<DirtyTracker> from_keeper(pid_t pid, const ParentRef& parent);
  ~DirtyTracker();
  DirtyTracker(const DirtyTracker&) = delete;
  DirtyTracker& operator=(const DirtyTracker&) = delete;

  pid_t pid() const { return pid_; }
  // The checksum of the image the tracking goes on from (0: none yet).
  uint64_t last_checksum() const { return last_; }

  // Before the freeze, changing nothing: the bytes of the pages present or
  // swapped in the trackable areas of `vmas` that the process has written
  // since the last arm (every page of an area not registered). Only an
  // estimate of the next copy (the process runs on, and areas of other
  // kinds are saved whole), to size the memory it is copied into; 0 when
  // the scan fails.
  uint64_t written_bytes(const std::vector<format::Vma>& vmas) const;
  // In the freeze: which pages of `vmas` are the parent's (present or
  // swapped, trackable here and in the parent, registered, not written
  // since the last arm), and what is left to read: `vmas` with each
  // registered area cut down to the 4 MiB windows that hold written pages,
  // for dump_memory, which leaves the parent's pages out and applies its
  // usual rules to the rest. Every
  // registered area is protected again; the keeper's image is stale from
  // here until keep().
  struct Collected {
    ParentPages from_parent;
    std::vector<format::Vma> to_read;
  };
  Collected collect(const std::vector<format::Vma>& vmas, const ParentRef& parent, const Precopy* precopy = nullptr);
  // Before the freeze, while the process runs: protects again and copies
  // the pages of the registered areas (`registered`: [start, end) of the
  // areas smaps showed with "uw") inside the parent's trackable areas that
  // were written since the parent. A dump that fails before collect lifts
  // that protection again (they show as written, as they were) and the
  // keeper's image stays the base; if a scan failed part-way, the tracking ends.
  std::unique_ptr<Precopy> precopy(const std::vector<format::Vma>& parent_vmas,
                                   const std::vector<PageRange>& registered);
  // In the freeze, after collect (or alone for a first dump): registers
  // and protects the trackable areas of `vmas` not registered yet. Returns
  // how many could not be (they are saved whole by the next dump).
  size_t arm(const std::vector<format::Vma>& vmas);
  // After the image is committed: tracking goes on from that image, held
  // by a keeper (started now if there is none).
  void keep(uint64_t image_checksum);
  // The same for a caller that holds this object between dumps itself
  // (chains dumped in one process): no keeper.
  void went_on_from(uint64_t image_checksum) {
    settled_ = true;
    last_ = image_checksum;
  }
  // After the image is committed, without --track: tracking ends (the
  // keeper exits; the last reference to the userfaultfd closes with this
  // object, and the kernel drops the registration and the protection).
  void stop();

 private:
  DirtyTracker(pid_t pid, int uffd, int pidfd, uint64_t start_time);
  pid_t pid_;
  ScopedFd uffd_, pidfd_;
  uint64_t start_time_;
  uint64_t last_ = 0;
  bool from_keeper_ = false, rearmed_ = false, settled_ = false;
  std::vector<PageRange> undo_;  // a precopy's protection, lifted if the dump fails before collect
  bool undo_lost_ = false;
};

}  // namespace ckpt::dumper
