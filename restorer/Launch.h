// Phase 4, the point of no return: block signals, unregister the launcher's
// own rseq area, copy the trampoline blob, its Plan and the thread's signal
// frame into the home, and jump. Everything that could fail has been
// checked before this is called.
#pragma once

#include "format/ImageReader.h"
#include "restorer/AddressPlan.h"
#include "restorer/Descriptors.h"
#include "restorer/MachineCheck.h"
#include "restorer/Terminal.h"

namespace ckpt::restorer {

struct HomeLayout;  // computed by home_size()

// Bytes the home needs for this image (blob, plan, frame, stack).
uint64_t home_size(const format::Image& image);
// Bytes the vdso group needs as scratch when its saved place overlaps its
// current one (0 when it can move directly).
uint64_t vdso_scratch_size(const format::Image& image, const VdsoGroup& vdso);

// A member of a restored tree: where its resume barrier is (trampoline/Plan.h).
struct TreeLaunch {
  bool root = true;           // the root keeps restore's fds 0-2; another member closes what it does not use
  bool member = false;        // a member of a tree: the barrier's two fds below are kept open
  int arrive_fd = -1, resume_fd = -1;
  uint32_t wait_count = 0;    // the root: how many other live members to wait for
};

struct LaunchOptions {
  bool verbose = false;
  TreeLaunch tree;
  int uffd = -1;        // restore --lazy: the userfaultfd the lazy areas are registered with
  int lazy_go_fd = -1;  // and the page server's start pipe (LazyPages.h)
  bool saved_tids = false;  // restore --pid-ns: every thread is created with its saved id (PidNamespace.h)
  // The user's terminal: its settings applied as the last step before the
  // point of no return (Terminal.h); only the process restore becomes.
  Terminal* terminal = nullptr;
  bool sigwinch = false;  // a SIGWINCH left pending: in the terminal's saved foreground group (Terminal::sigwinch)
};

// The checks launch() makes on staged memory and on the resource limits,
// without changing anything: run before any file-system side effect
// (prepare_fds), so that launch() itself has nothing left to refuse.
// Throws RestoreError.
void check_launch(const format::Image& image, const MachineFit& fit, const AddressPlan& plan);

// The part of check_launch that needs no staged memory (glibc's cached
// tid in writable, backed memory), for restore --check.
void check_launch_layout(const format::Image& image);


[[noreturn]] void launch(const format::Image& image, const MachineFit& fit, const AddressPlan& plan,
                         const PreparedFiles& files, const LaunchOptions& options);

}  // namespace ckpt::restorer
