// A process's seccomp filters, read for the image (format/Seccomp.h) when
// ckpt can carry them: every thread under the same chain, none handing
// calls to a supervisor, and ckpt itself able to read them (it needs
// CAP_SYS_ADMIN and no seccomp of its own, which is also what lets its
// injected calls pass by the filters: x86/RemoteSyscall.cpp). Filters a
// process shares with ckpt (its container's, which ckpt runs under too)
// are not read: restore must run under them as well, as before.
#pragma once

#include <sys/types.h>

#include <vector>

#include "format/Seccomp.h"

namespace ckpt::dumper {

// The chain to carry, oldest filter first; empty when there is none to
// carry. Throws DumpError naming the thread and the reason when the process
// has filters ckpt can neither carry nor share. Called with every thread
// stopped, before anything is injected.
std::vector<format::SeccompFilter> read_seccomp(pid_t pid, const std::vector<pid_t>& tids);

}  // namespace ckpt::dumper
