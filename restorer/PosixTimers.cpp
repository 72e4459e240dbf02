// POSIX timers: checks and the trampoline's plan (see PosixTimers.h).
#include "restorer/PosixTimers.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "restorer/RestoreError.h"

namespace ckpt::restorer {

static constexpr int kPrTimerCreateRestoreIds = 77, kRestoreIdsGet = 2;

static bool has_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

void check_posix_timers(const format::Image& image) {
  const auto& timers = image.task.timers;
  if (timers.empty()) return;
  if (prctl(kPrTimerCreateRestoreIds, kRestoreIdsGet, 0, 0, 0) < 0)
    throw RestoreError("the image has " + std::to_string(timers.size()) +
                       " POSIX timers, and this kernel cannot create them with their ids "
                       "(PR_TIMER_CREATE_RESTORE_IDS needs Linux 6.15)");
  for (const format::PosixTimer& t : timers) {
    timespec res;
    // A CPU clock of the process itself is probed as this process's own.
    if (syscall(SYS_clock_getres, t.clock, &res) != 0)
      throw RestoreError("POSIX timer " + std::to_string(t.id) + " uses clock " + std::to_string(t.clock) +
                         ", which this machine lacks: " + std::strerror(errno));
    if ((t.clock == CLOCK_REALTIME_ALARM || t.clock == CLOCK_BOOTTIME_ALARM) && !has_capability(CAP_WAKE_ALARM))
      throw RestoreError("POSIX timer " + std::to_string(t.id) + " uses an alarm clock, which needs CAP_WAKE_ALARM");
  }
}

void plan_posix_timers(const format::Image& image, trampoline::TimerPlan* out) {
  std::vector<std::pair<int32_t, int32_t>> index;  // tid -> thread index
  for (size_t i = 0; i < image.threads.size(); ++i) index.emplace_back(image.threads[i].tid, int32_t(i));
  std::sort(index.begin(), index.end());
  for (const format::PosixTimer& t : image.task.timers) {
    trampoline::TimerPlan& p = *out++;
    std::memset(&p, 0, sizeof p);
    p.id = t.id;
    p.clock = t.clock;
    p.signo = t.signo;
    p.notify = t.notify;
    p.sigev_value = t.sigev_value;
    p.target = -1;
    auto it = std::lower_bound(index.begin(), index.end(), std::make_pair(t.target_tid, int32_t(0)));
    if (t.target_tid && it != index.end() && it->first == t.target_tid) p.target = it->second;
    p.interval_sec = t.interval_ns / 1000000000, p.interval_nsec = t.interval_ns % 1000000000;
    p.value_sec = t.value_ns / 1000000000, p.value_nsec = t.value_ns % 1000000000;
  }
}

}  // namespace ckpt::restorer
