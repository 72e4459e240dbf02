// File locks held again by the restored process (format FileLock).
//
// OFD locks, flock locks and leases belong to an open file description, so
// the launcher takes them on the description it creates, which the
// restored process then holds. POSIX locks belong to the process and are
// dropped whenever it closes *any* fd of the file, which the trampoline does
// while it moves fds to their numbers; so the launcher only reserves each
// range with an OFD lock of the same type on a description of its own (a
// placeholder, which conflicts with every other process's lock exactly as
// the POSIX lock would), and the trampoline takes the POSIX lock after its
// last close, which also closes the placeholder.
//
// Any lock someone else holds now is refused before the point of no return,
// naming the file: by check_locks (restore --check: probes without taking
// anything for long) and by take_locks (which takes them).
#pragma once

#include <vector>

#include "format/Image.h"
#include "trampoline/Plan.h"

namespace ckpt::restorer {

void check_locks(const format::FdEntry& f);

// `fd`: the launcher's fd of f's recreated description; `base`: lowest fd
// number placeholders may take. Appends the trampoline's POSIX locks to
// `posix` and returns the placeholder fds (closed by the trampoline).
std::vector<int> take_locks(const format::FdEntry& f, int fd, int base, std::vector<trampoline::PosixLock>& posix);

}  // namespace ckpt::restorer
