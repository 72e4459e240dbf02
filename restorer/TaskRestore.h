// The process-wide state of format::TaskState on the restoring side: what
// this machine must accept (checked in phase 1, before anything changes)
// and what the launcher sets on itself just before the point of no return
// (cwd, umask, rlimits, personality, comm, prctl flags), since the process
// it becomes keeps them. Signals, timers and the LDT are the trampoline's.
#pragma once

#include <string>

#include "format/Image.h"

namespace ckpt::restorer {

// Throws RestoreError on the first thing the kernel would refuse later.
void check_task(const format::Image& image);

// Sets the state on this process. Returns warnings (one line each) for
// what could only be approximated: a hard limit above the caller's is
// clamped, never raised.
std::string apply_process_state(const format::Image& image);

}  // namespace ckpt::restorer
