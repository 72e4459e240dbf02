// How many bytes of memory a dump of a process (and its descendants) will
// read, estimated before it starts, for the progress line's time left.
// An estimate only: pages found all-zero are skipped and the processes run
// until they are stopped.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace ckpt::dumper {

// The anonymous, shared-memory and swapped-out memory (RssAnon + RssShmem
// + VmSwap of /proc/PID/status) of `pid` and, unless `single`, of every
// descendant. 0 when nothing can be read.
uint64_t estimate_dump_bytes(pid_t pid, bool single);

}  // namespace ckpt::dumper
