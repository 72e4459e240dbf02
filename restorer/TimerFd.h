// timerfds recreated with their clock, period, time left (or absolute
// expiry for TFD_TIMER_ABSTIME timers, re-armed absolute, with
// TFD_TIMER_CANCEL_ON_SET if they had it) and unread expirations
// (TFD_IOC_SET_TICKS, which exists only with CONFIG_CHECKPOINT_RESTORE:
// check_timerfds probes it before the point of no return).
#pragma once

#include "format/Image.h"

namespace ckpt::restorer {

void check_timerfds(const format::Image& image);  // throws RestoreError
int make_timerfd(const format::FdEntry& f);        // throws RestoreError

}  // namespace ckpt::restorer
