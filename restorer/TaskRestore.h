// The process-wide state of format::TaskState on the restoring side: what
// this machine must accept (checked in phase 1, before anything changes)
// and what the launcher sets on itself just before the point of no return
// (cwd, umask, rlimits, personality, comm, prctl flags), since the process
// it becomes keeps them. Signals, timers and the LDT are the trampoline's.
#pragma once

#include <string>

#include "format/Image.h"
#include "trampoline/Plan.h"

namespace ckpt::restorer {

// Throws RestoreError on the first thing the kernel would refuse later.
void check_task(const format::Image& image);

// The resource limits the trampoline sets last (trampoline/Plan.h): each
// saved limit that differs from the caller's, tried on a child first; a
// hard limit above the caller's that the caller may not raise is clamped,
// never raised. Fills out[r] and bit r of *mask; returns warnings (one line
// each). Throws RestoreError if even the clamped limit would be refused.
std::string plan_rlimits(const format::Image& image, trampoline::Rlimit* out, uint32_t* mask);

// Sets the rest of the state on this process (cwd, umask, personality,
// comm, prctl flags) just before the point of no return. Returns warnings.
std::string apply_process_state(const format::Image& image);

}  // namespace ckpt::restorer
