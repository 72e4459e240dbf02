// Scheduling state of a stopped process (see Scheduling.h).
#include "dumper/Scheduling.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "dumper/Tracee.h"
#include "x86/SchedAttr.h"

namespace ckpt::dumper {

namespace {

using x86::kIoprioWhoProcess;
using x86::kSchedDeadline;
using x86::SchedAttr;
constexpr size_t kMaskBytes = 1024;  // 8192 CPUs

[[noreturn]] void refuse(pid_t pid, pid_t tid, const std::string& why) {
  throw DumpError("pid " + std::to_string(pid) + ": thread " + std::to_string(tid) + " " + why);
}

format::Scheduling read_thread(pid_t pid, pid_t tid) {
  format::Scheduling s;
  SchedAttr attr{};
  if (syscall(SYS_sched_getattr, tid, &attr, sizeof attr, 0) != 0)
    refuse(pid, tid, std::string("cannot be asked how it is scheduled (sched_getattr): ") + std::strerror(errno));
  if (attr.sched_policy == uint32_t(kSchedDeadline))
    refuse(pid, tid, "runs under SCHED_DEADLINE, which ckpt does not carry (its threads could not be created again)");
  // Without CONFIG_UCLAMP_TASK both read 0; the defaults are 0 and 1024.
  if (attr.sched_util_max != 0 && (attr.sched_util_min != 0 || attr.sched_util_max != 1024))
    refuse(pid, tid, "has utilization clamps (" + std::to_string(attr.sched_util_min) + "-" +
                         std::to_string(attr.sched_util_max) + "), which ckpt does not carry");
  s.policy = attr.sched_policy;
  s.flags = uint32_t(attr.sched_flags) & format::kSchedResetOnFork;
  s.rt_priority = attr.sched_priority;
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, id_t(tid));
  if (nice == -1 && errno) refuse(pid, tid, std::string("cannot be asked its nice value: ") + std::strerror(errno));
  s.nice = nice;
  const long io = syscall(SYS_ioprio_get, kIoprioWhoProcess, tid);
  if (io < 0) refuse(pid, tid, std::string("cannot be asked its I/O priority: ") + std::strerror(errno));
  s.ioprio = uint32_t(io);
  std::vector<uint64_t> mask(kMaskBytes / 8);
  if (syscall(SYS_sched_getaffinity, tid, kMaskBytes, mask.data()) < 0)
    refuse(pid, tid, std::string("cannot be asked its CPU affinity: ") + std::strerror(errno));
  while (!mask.empty() && mask.back() == 0) mask.pop_back();
  s.affinity = std::move(mask);
  return s;  // the timer slack is asked by the thread itself (check_timer_slack)
}

bool same(const format::Scheduling& a, const format::Scheduling& b) {
  return a.policy == b.policy && a.flags == b.flags && a.nice == b.nice && a.rt_priority == b.rt_priority &&
         a.ioprio == b.ioprio && a.timer_slack_ns == b.timer_slack_ns && a.affinity == b.affinity;
}

}  // namespace

void check_timer_slack(pid_t pid, pid_t tid, uint64_t slack, format::Scheduling& s, bool leader) {
  if (leader) s.timer_slack_ns = slack;
  else if (slack != s.timer_slack_ns)
    refuse(pid, tid, "has a timer slack of " + std::to_string(slack) + " ns, the thread group's leader " +
                         std::to_string(s.timer_slack_ns) + " ns; ckpt gives every restored thread the leader's");
}

format::Scheduling read_scheduling(pid_t pid, const std::vector<pid_t>& tids) {
  const pid_t leader = tids.empty() ? pid : tids.front();
  format::Scheduling s = read_thread(pid, leader);
  if ((s.flags & format::kSchedResetOnFork) && tids.size() > 1)
    refuse(pid, leader, "has SCHED_RESET_ON_FORK and the process has other threads, which a restore creates with "
                        "the leader's settings: reset on fork would make theirs differ");
  for (size_t i = 1; i < tids.size(); ++i) {
    format::Scheduling t = read_thread(pid, tids[i]);
    if (!same(s, t))
      refuse(pid, tids[i], "is scheduled unlike the thread group's leader (" + format::scheduling_text(t) + " against " +
                               format::scheduling_text(s) + "); ckpt gives every restored thread the leader's");
  }
  return s;
}

}  // namespace ckpt::dumper
