// The kernel's struct sched_attr (linux/sched/types.h, SCHED_ATTR_SIZE_VER1)
// and the ioprio "who" constant, which glibc does not declare: the dumper
// reads them (dumper/Scheduling.cpp), the restorer sets them
// (restorer/Scheduling.cpp).
#pragma once

#include <cstdint>

namespace ckpt::x86 {

struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;  // utilization clamps; both 0 without CONFIG_UCLAMP_TASK
};
static_assert(sizeof(SchedAttr) == 56);

inline constexpr int kSchedDeadline = 6;     // SCHED_DEADLINE
inline constexpr int kIoprioWhoProcess = 1;  // IOPRIO_WHO_PROCESS

}  // namespace ckpt::x86
