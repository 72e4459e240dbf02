// CLOCK_MONOTONIC and CLOCK_BOOTTIME across a checkpoint. A restored
// process continues from the values it saw at the dump, not from the
// host's: restore moves itself, before the point of no return, into a new
// time namespace whose offsets make both clocks read the saved values at
// that moment (so the time the image spent on disk, a reboot or another
// machine do not show). CLOCK_REALTIME and the CPU clocks are not
// namespaced: they cannot move. See docs/architecture.md, "Clocks".
#pragma once

#include <string>

#include "format/Image.h"

namespace ckpt::restorer {

struct ClockPlan {
  bool time_namespace = false;  // enter one (enter_time_namespace) before launching
  std::string warning;          // one line, for stderr, when the clocks jump ahead
};

// Phase 1, no side effects. A time namespace needs CAP_SYS_ADMIN (and
// CAP_SYS_TIME for its offsets). Without one (no privilege, no kernel
// support, or `host_clocks`), the host's clocks are kept: a jump ahead is
// what any stopped process sees and is allowed (with a warning unless
// asked for), but clocks that would go back are refused: no monotonic
// clock ever does that to a program.
ClockPlan plan_clocks(const format::Image& image, bool host_clocks);

// Creates the namespace, sets its offsets from this moment's host clocks
// and joins it. This process must be single-threaded (the kernel insists)
// and its memory not shared with another process. Throws RestoreError.
void enter_time_namespace(const format::Image& image);

}  // namespace ckpt::restorer
