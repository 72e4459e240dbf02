// POSIX timers on the restoring side: what this machine must offer to
// create each saved timer again with its id (checked in phase 1), and the
// trampoline's list of them (trampoline::TimerPlan), which creates them
// after the point of no return, once every thread exists.
#pragma once

#include "format/Image.h"
#include "trampoline/Plan.h"

namespace ckpt::restorer {

// Throws RestoreError when a saved timer could not be created here: the
// kernel cannot take given ids (PR_TIMER_CREATE_RESTORE_IDS, Linux 6.15),
// has no such clock, or an alarm clock needs CAP_WAKE_ALARM.
void check_posix_timers(const format::Image& image);

// One TimerPlan per saved timer into `out` (image.task.timers.size() entries).
void plan_posix_timers(const format::Image& image, trampoline::TimerPlan* out);

}  // namespace ckpt::restorer
