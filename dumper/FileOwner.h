// Who receives an open file description's SIGIO/SIGURG (F_GETOWN_EX) and
// which signal it is (F_GETSIG), read through the dumper's own copy of the
// description. The process itself (or its main thread) is carried over as
// the restored process; any other owner (another process, a process group,
// another thread, whose ids mean nothing after restore) is refused.
#pragma once

#include <sys/types.h>

#include "format/Image.h"

namespace ckpt::dumper {

// `tgid`: the target; fills f.owner and f.owner_signal.
void read_file_owner(pid_t tgid, format::FdEntry& f);

}  // namespace ckpt::dumper
