// A timerfd's clock, period, time left, absolute/cancel-on-set flags and
// unread expirations. A periodic timer that expired and was not read yet
// has a stale expiry in the kernel (fdinfo shows 0 left) until someone reads
// it or asks timerfd_gettime, which moves it onto its next period and adds
// the missed periods to its ticks, exactly as the process's own next read
// would. The dumper does that through its own copy of the descriptor
// (pidfd_getfd), so the time left and the tick count it saves are exact.
#pragma once

#include <sys/types.h>

#include "dumper/FdInfo.h"
#include "format/Image.h"

namespace ckpt::dumper {

void read_timerfd(pid_t pid, format::FdEntry& f);

}  // namespace ckpt::dumper
