// inotify descriptors at dump: each watch of /proc/PID/fdinfo/N ("inotify
// wd:... ino:... sdev:... mask:... f_handle:...") is resolved to a path by
// opening its file handle (open_by_handle_at on a mount of that file
// system; root only) and checked by inode. Refused, naming the fd and the
// wd: a watch whose file has no path any more, a watch that cannot be
// resolved, and unread events in the queue (they are not carried; the
// queue is measured with FIONREAD on a pidfd_getfd copy of the fd, which
// reads nothing).
#pragma once

#include <sys/types.h>

#include "format/Image.h"

namespace ckpt::dumper {

// Fills f.watches (sorted by wd) for the target's inotify fd `fd`. Throws DumpError.
void read_inotify(pid_t pid, int fd, format::FdEntry& f);

}  // namespace ckpt::dumper
