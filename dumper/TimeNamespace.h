// The time namespace of a process being dumped, against the dumper's own:
// a process restored by ckpt (or started under `unshare -T`) reads
// CLOCK_MONOTONIC and CLOCK_BOOTTIME shifted by its namespace's offsets,
// so an absolute time read on the dumper's clock must be moved onto its.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstdint>

namespace ckpt::dumper {

// Nanoseconds to add to a reading of `clock` taken by the dumper to get
// the same instant on `pid`'s clock: its namespace's offset minus the
// dumper's (0 for clocks no namespace shifts). Throws DumpError when the
// offsets of the namespace `pid` lives in cannot be told (/proc shows
// those of the one its children get, and they differ).
int64_t clock_shift_ns(pid_t pid, clockid_t clock);

}  // namespace ckpt::dumper
