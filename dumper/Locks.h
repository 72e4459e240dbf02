// The file locks held through one open file description, from the "lock:"
// lines of its fdinfo (the kernel lists there exactly the locks whose file
// is this description: POSIX locks of the process taken through it, and its
// own OFD locks, flock locks and lease). Anything that is not a plain held
// lock (a lease being broken, an NFS delegation) is refused.
#pragma once

#include <sys/types.h>

#include <vector>

#include "dumper/FdInfo.h"
#include "format/Image.h"

namespace ckpt::dumper {

std::vector<format::FileLock> read_locks(pid_t pid, int fd, const FdInfo& info);

}  // namespace ckpt::dumper
