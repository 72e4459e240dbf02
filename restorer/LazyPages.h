// restore --lazy, the launcher's side: which areas are left to the page
// server, and starting that server before the point of no return.
//
// A lazy area is mapped empty (no pages read) and registered with a
// userfaultfd by the trampoline once it is in place; the page server
// (PageServer.h), a detached process, fills it on first touch and in the
// background. So the time until the program runs again no longer depends
// on how much memory it has. See docs/architecture.md, "Lazy restore".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
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
// MADV_WIPEONFORK; MADV_DONTFORK areas are lazy).
std::vector<bool> choose_lazy(const format::Image& image);

// A page server on its way: started before the image is even read (its
// own start-up overlaps the launcher's), committed once the lazy areas are
// chosen, confirmed just before the point of no return.
struct LazyPages {
  bool learn = false, verbose = false;  // told to the server with the areas' digest
  std::string image_path;               // whose IMAGE.ws, if there is one, makes the server hold back copying
  int uffd = -1;   // the launcher's copy; the trampoline registers the areas with it, then closes it
  int go_fd = -1;  // the launcher writes the areas' digest here, the trampoline one byte to start serving
  ~LazyPages();    // closing go_fd unstarted lets the server exit quietly
  pid_t middle_ = -1;
  uint8_t* spawn_area_ = nullptr;
};

// What the server is asked to do besides serving (restore --learn, --verbose).
struct PageServerOptions {
  bool learn = false;    // record the pages the program touches until it goes idle, into IMAGE.ws (WorkingSet.h)
  bool verbose = false;  // say what was recorded and how many faults were served, on stderr
};

// Creates the userfaultfd (with fork, mremap, munmap and MADV_DONTNEED
// events), proves here that registering an area works, and starts the page
// server: this restore run again in its server mode, in a session of its
// own, never the restored process's child, holding only the image, the
// userfaultfd, the start pipe and stderr. Throws RestoreError if this kernel
// or this caller cannot.
std::unique_ptr<LazyPages> start_page_server(int image_fd, const std::string& image_path,
                                             PageServerOptions options = {});

// Tells the server which areas are lazy (as a digest it checks against its
// own reading of the image).
void commit_lazy_areas(LazyPages& lp, const format::Image& image, const std::vector<bool>& lazy);

// Waits until the server runs (not until it is ready: faults wait for it);
// throws RestoreError if it could not be started.
void confirm_page_server(LazyPages& lp);

// Only proves that start_page_server would work here (restore --check --lazy).
void check_lazy_pages();

// `restore --page-server PID IMAGE` (internal; started by start_page_server
// with fds 3 the image, 4 the userfaultfd, 5 the start pipe, 6 a pidfd of
// the restored process, 7 the image's directory when learning): waits for the
// areas' digest (EOF: the restore stopped before, exit 0), reads and
// validates the image again, checks that it chooses the same lazy areas,
// and serves (PageServer.h) once the trampoline says go. If it cannot, it
// kills the restored process PID and says why in one line.
int run_page_server(int argc, char** argv);

}  // namespace ckpt::restorer
