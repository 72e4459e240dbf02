// Where the C library keeps the calling thread's id (glibc's cached tid in
// its thread descriptor). A process made with a raw clone3 (a tree's
// member, or the root of restore --pid-ns) must have its own id written
// there (CLONE_CHILD_SETTID), as fork() does, or raise() and owner-checking
// mutexes in it would use its parent's.
#pragma once

#include <cstdint>

namespace ckpt::restorer {

// The slot's address in this thread's descriptor, or nullptr when the id
// is not found exactly once in the first 2 KiB past the thread pointer
// (the dumper finds a target's the same way). The offset is found once,
// at the first call, and kept: call it early, while this thread's id is a
// distinctive number (not 1, as it is for a pid namespace's init), so that
// the processes forked later find their slot at the same offset.
int32_t* cached_tid_slot();

}  // namespace ckpt::restorer
