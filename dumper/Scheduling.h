// Reads how the kernel schedules a process (format/Scheduling.h): policy,
// priority, nice, CPU affinity, I/O priority and timer slack of every
// thread. Refuses, naming the thread and the value, what a restore could
// not give back exactly: threads that differ from the leader (the restored
// threads all inherit the leader's), SCHED_DEADLINE, utilization clamps,
// and reset-on-fork in a process with more than one thread. The timer
// slack comes from the injected getters (TaskState.cpp).
#pragma once

#include <sys/types.h>

#include <vector>

#include "format/Scheduling.h"

namespace ckpt::dumper {

format::Scheduling read_scheduling(pid_t pid, const std::vector<pid_t>& tids);

// The timer slack, which only the thread itself may read without
// CAP_SYS_NICE (prctl(PR_GET_TIMERSLACK), injected: TaskState.cpp): the
// leader's is recorded, another thread's must equal it.
void check_timer_slack(pid_t pid, pid_t tid, uint64_t slack, format::Scheduling& s, bool leader);

}  // namespace ckpt::dumper
