// Gives the restored process the scheduling it had (format/Scheduling.h).
// check_scheduling (phase 1, no side effects): where the saved values
// differ from the launcher's, they are tried on a CLONE_VM|CLONE_VFORK child
// and read back there; a value this machine or this caller cannot give
// exactly (a CPU it lacks, a real-time policy without CAP_SYS_NICE, a nice
// value below RLIMIT_NICE) is refused, naming it. apply_scheduling (just
// before the point of no return): the same calls on the launcher itself,
// whose threads the trampoline creates inherit them.
#pragma once

#include <string>

namespace ckpt::format {
struct Image;
}

namespace ckpt::restorer {

void check_scheduling(const format::Image& image);
void apply_scheduling(const format::Image& image);

}  // namespace ckpt::restorer
