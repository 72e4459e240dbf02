// How staging puts saved pages into the staged areas: through the kernel
// rather than with stores of restore's own. The kernel first makes a chunk's
// pages present in one call (MADV_POPULATE_WRITE), then copies the data
// into them (process_vm_writev on this very process). Neither takes a page
// fault, and restore itself never touches the staged pages, so the first
// access from user space is the restored program's, as in any fresh
// process. On a virtual machine that makes each first touch expensive this
// is several times cheaper than faulting every page in with a store, and
// on any machine it saves the per-page fault. Where the kernel refuses
// either call (before Linux 5.14, or a seccomp filter), plain stores do the
// same job.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace ckpt::restorer {

class PageWriter {
 public:
  // Makes [dest, dest + n) present and writable: the pages one chunk covers,
  // in an area staging mapped writable.
  void populate(uint8_t* dest, size_t n);
  // Copies n bytes from src to dest, inside such an area.
  void write(uint8_t* dest, const uint8_t* src, size_t n);

 private:
  bool populate_works_ = true, vm_writev_works_ = true;
  // This process, asked when the writer is made: a member launcher of a tree
  // is a fork of its parent's, and a pid remembered there (a function's
  // static, once) made every child write its pages into its parent.
  const pid_t self_ = getpid();
};

}  // namespace ckpt::restorer
