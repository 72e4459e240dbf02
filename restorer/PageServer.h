// restore --lazy's page server: a process of its own, detached from the
// restored one, that fills the restored process's lazy areas through a
// userfaultfd. A page is brought in when the program first touches it
// (missing-page fault), and meanwhile every chunk is copied in the
// background, so the server's work ends soon whatever the program does.
//
// It keeps the restored memory exactly as if it had been there all along:
// pages the program drops (MADV_DONTNEED, munmap) are never filled from the
// image again; areas it moves (mremap) are followed; a fork gets its own
// userfaultfd, and the child is served the pages its parent had not yet
// received at the fork. docs/architecture.md, "Lazy restore", has the
// protocol; the kernel's side is Documentation/admin-guide/mm/userfaultfd.rst.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "format/ImageReader.h"

namespace ckpt::restorer {

class NetworkPages;

struct PageServerSetup {
  int uffd = -1;         // registered by the trampoline, for the restored process's mm
  int go_fd = -1;        // read end: one byte once the areas are registered, EOF if the restore ended before
  pid_t target = 0;      // the restored process (restore's own pid), for messages
  int target_pidfd = -1; // the restored process: the only way it is signalled or watched
  const volatile sig_atomic_t* finish_now = nullptr;  // set by SIGTERM/HUP/INT: copy everything now, then exit
  std::vector<format::Vma> areas;  // the lazy areas as saved, sorted by address
  unsigned prefetch_delay_ms = 0;  // background copying starts this long after the go byte (tests)
  bool verbose = false;            // on stderr: what was learned; faults served, when the server ends
  // restore --lazy --learn: record the saved pages the restored process
  // faults on, from its start until it goes idle (no new fault for
  // learn_idle_ms after its first one, or learn_limit_ms in all, or its
  // end), then write them as ws_name in ws_dir_fd (WorkingSet.h). While it
  // learns, a fault gets only its own page and background copying waits,
  // so that every page touched is seen.
  bool learn = false;
  int ws_dir_fd = -1;
  std::string ws_name, ws_shown;   // IMAGE.ws's base name; the path as the user gave it, for messages
  uint64_t image_id = 0;
  unsigned learn_idle_ms = 250;
  // A working set was brought in before the program ran: background
  // copying waits until the program goes idle by the same rule (counted
  // from the start if it never faults); faults are served meanwhile.
  bool hold_until_idle = false;
  unsigned learn_limit_ms = 60000;
  // A post-copy migration (NetworkPages.h): a chunk's bytes come over the
  // connection (ensure) before the image is read for them; told at the end.
  NetworkPages* pages = nullptr;
};

// Runs the server and exits the process (status 0 when every area is
// filled or gone; 1 after killing because the image's page data proved
// corrupt). Never returns.
//
// A corrupt chunk (its checksum, or its decoding, fails when the server
// reads it) ends every process whose memory the server can no longer
// complete: the restored process (through its pidfd) and each fork of it,
// found through the thread that a fault of that fork names (the thread
// waits in that very fault; a pidfd of it is taken then). Until each
// served address space has been killed or has ended, the server stays and
// keeps its userfaultfd open, and kills any process that faults on it:
// closing it would let the missing pages read as zeros.
//
// SIGTERM, SIGHUP and SIGINT make it finish at once: background copying
// starts without delay and the server exits when everything is copied.
[[noreturn]] void serve_pages(const format::ImageReader& reader, const PageServerSetup& setup);

}  // namespace ckpt::restorer
