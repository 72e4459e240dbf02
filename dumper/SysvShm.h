// System V shared memory (shmget/shmat) attached by the target: each
// attachment is a VMA of kind sysv-shm, named "/SYSV<key> (deleted)" in
// maps with the segment's id as its inode; each segment (key, id, mode,
// owner, size, contents) is saved once. Refused, naming it: a segment also
// attached by another process (its contents could not stay shared), an
// attachment that is not whole (partly unmapped or split by mprotect), and
// a target in another IPC namespace than the dumper.
#pragma once

#include <sys/types.h>

#include <vector>

#include "format/Image.h"

namespace ckpt::dumper {

std::vector<format::SysvSegment> read_sysv_shm(pid_t pid, const std::vector<format::Vma>& vmas);

}  // namespace ckpt::dumper
