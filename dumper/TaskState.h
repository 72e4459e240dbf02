// Reads what only the stopped process itself can tell, or what /proc and
// ptrace report beside its memory: signal dispositions, pending signals,
// interval timers, the LDT, the alternate stack, clear-child-tid, glibc's
// cached thread id, and cwd/umask/rlimits/personality/prctl settings.
#pragma once

#include "dumper/Tracee.h"
#include "format/Image.h"
#include "x86/RemoteSyscall.h"

namespace ckpt::dumper {

// Fills image.task and the per-thread extras of image.threads[0]; the
// thread's registers must already be in image.threads[0]. Uses syscall
// injection (x86/RemoteSyscall) at `site`.
// `subreaper`, if given, receives PR_GET_CHILD_SUBREAPER.
void read_task_state(const Tracee& tracee, const x86::InjectionSite& site, format::Image& image,
                     uint32_t* subreaper = nullptr);

}  // namespace ckpt::dumper
