// restore --lazy, the launcher's side: which areas are left to the page
// server, and starting that server before the point of no return.
//
// A lazy area is mapped empty (no pages read) and registered with a
// userfaultfd by the trampoline once it is in place; the page server
// (PageServer.h), a detached process, fills it on first touch and in the
// background. So the time until the program runs again no longer depends
// on how much memory it has. See docs/architecture.md, "Lazy restore".
#pragma once

#include <vector>

#include "format/ImageReader.h"

namespace ckpt::restorer {

// Per image VMA: whether it is lazy. Private anonymous memory (heap
// included) with saved pages, except what the launcher itself reads or
// writes before the point of no return (each thread's stack, where its
// resume frame goes; the areas holding the cached thread id, rseq areas and
// the resume gadgets), what the kernel reads without waiting for the server
// (the arguments and environment behind /proc/PID/cmdline and environ),
// executable areas (JIT code may hold rseq critical sections the launcher
// inspects), and areas whose kernel flags would touch or hide pages (mlock,
// MADV_DONTFORK, MADV_WIPEONFORK).
std::vector<bool> choose_lazy(const format::Image& image);

struct LazyPages {
  int uffd = -1;   // the launcher's copy; the trampoline registers the areas with it, then closes it
  int go_fd = -1;  // the trampoline writes one byte here once they are registered
  std::vector<bool> lazy;
};

// Creates the userfaultfd (with fork, mremap, munmap and MADV_DONTNEED
// events), proves here that registering an area works, and starts the page
// server: double-forked so that it is never the restored process's child,
// in a session of its own, holding only the image, the userfaultfd and
// stderr. Throws RestoreError if this kernel or this caller cannot.
LazyPages start_lazy_pages(const format::ImageReader& reader, std::vector<bool> lazy);

// Only proves that start_lazy_pages would work here (restore --check --lazy).
void check_lazy_pages();

}  // namespace ckpt::restorer
