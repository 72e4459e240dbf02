// POSIX timers (timer_create) of a stopped process: which exist and how
// they notify, from /proc/PID/timers, and when each fires next, from
// timer_gettime injected into the process (only it can ask). A timer
// restore could not create again exactly is refused here, naming it.
#pragma once

#include <sys/types.h>

#include <vector>

#include "format/Image.h"
#include "x86/RemoteSyscall.h"

namespace ckpt::dumper {

// Every timer of `pid`, sorted by id; `rs` injects into one of its threads
// and `buf` is scratch memory there. Throws DumpError for a timer whose
// clock restore could not give it again.
std::vector<format::PosixTimer> read_posix_timers(pid_t pid, x86::RemoteSyscall& rs, uint64_t buf);

// Throws DumpError for a SIGEV_THREAD_ID timer whose thread is not one of `threads`.
void check_timer_targets(pid_t pid, const std::vector<format::PosixTimer>& timers,
                         const std::vector<format::ThreadState>& threads);

}  // namespace ckpt::dumper
