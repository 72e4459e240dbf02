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
//
// Write-protecting a gigabyte of small pages takes 10-20 ms, so the root
// is protected before the freeze (prepare): a brief stop makes its
// userfaultfd, then, while it runs, its private anonymous areas are
// registered and protected, each write fault meanwhile only lifting the
// protection of its page. In the freeze (protect) only what is not
// protected any more is: PAGEMAP_SCAN reports the pages without the
// protection bit (written since, or new), and those are protected again,
// so that at the release every planned page is protected exactly as if
// all of it had been protected in the freeze.
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
  // Before the freeze, with `uffd` made in `pid` (now running again):
  // registers and protects the areas of `vmas` that can be, and lifts the
  // protection of each page written before the freeze (a thread of ckpt's).
  void prepare(pid_t pid, int uffd, const std::vector<format::Vma>& vmas);
  // No protection is lifted any more; write faults left waiting are
  // answered once the copy runs. Called by protect, in the freeze, once
  // ckpt has written what it writes into the member (injected calls'
  // frames, put back): a write of ckpt's after it would wait forever.
  void freeze();
  // The features a snapshot's userfaultfd needs.
  static uint64_t features();
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
  std::unique_ptr<Member> prepared_;  // the root's, protected before the freeze
  std::unique_ptr<Shared> shared_;
  size_t areas_copied_stopped_ = 0;
};

}  // namespace ckpt::dumper
