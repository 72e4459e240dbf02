// Snapshot dumps (`ckpt dump --snapshot`): the tree is stopped only long
// enough to write-protect its private anonymous memory with a userfaultfd
// (TargetUffd.h) after its state is read and its pages planned
// (MemoryDump.h); then it runs again while ckpt copies those pages into
// the copy's buffer, each one before its first write after the freeze
// (the write faults, ckpt copies the page, then lifts the protection of
// that page), so the buffer holds memory exactly as it was at the freeze.
//
// Areas a userfaultfd cannot protect in sync mode, or whose pages another
// process could change behind the protection (shared memory, private file
// mappings' copied pages, hugetlb), are copied while the tree is stopped,
// as is every member that cannot have a userfaultfd (permissions: the
// caller says so in a warning). A member that gives memory back (munmap,
// madvise DONTNEED/FREE, mremap) before its pages there were copied, exits
// or execs during the copy fails the image, in one line; it runs on
// untouched either way.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "dumper/MemoryDump.h"
#include "format/Image.h"
#include "x86/RemoteSyscall.h"

namespace ckpt::dumper {

class Snapshot {
 public:
  Snapshot();
  // Stops the fault handler and closes every userfaultfd, which lifts any
  // protection left (the kernel unregisters the areas).
  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // While the member is stopped: allocates `copy`'s buffer, protects what
  // can be and copies the rest now. False, with `why`, when the member
  // cannot have a userfaultfd: nothing is changed, and the caller copies it
  // all (copy.copy_all()). `tid`: a stopped thread of it to inject through.
  bool protect(MemoryCopy& copy, const std::vector<format::Vma>& vmas, pid_t tid, const x86::InjectionSite& site,
               std::string* why);
  // Once the tree runs: handles write faults and copies every protected
  // page; returns when all are in the buffers. Throws DumpError when a page
  // could not be had as it was at the freeze.
  void run();
  // Pages copied ahead of the copier because the tree was about to write them.
  uint64_t pages_faulted() const;
  // Areas protect() could not register (another userfaultfd has them, e.g.
  // a --track keeper's) and so copied while the tree was stopped.
  size_t areas_copied_stopped() const { return areas_copied_stopped_; }

 private:
  struct Member;
  struct Shared;
  std::vector<std::unique_ptr<Member>> members_;
  std::unique_ptr<Shared> shared_;
  size_t areas_copied_stopped_ = 0;
};

}  // namespace ckpt::dumper
