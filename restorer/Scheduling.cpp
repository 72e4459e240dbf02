// Scheduling of the restored process (see Scheduling.h).
#include "restorer/Scheduling.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "format/Image.h"
#include "restorer/RestoreError.h"
#include "x86/SchedAttr.h"
#include "x86/Syscall.h"

namespace ckpt::restorer {

namespace {

using x86::kIoprioWhoProcess;
using x86::SchedAttr;
constexpr size_t kMaskWords = 128;  // 8192 CPUs, as the dumper reads them

// What one task reads of its own scheduling: raw system calls only (it
// also runs in the CLONE_VM child).
struct Reading {
  long policy, flags, priority, nice, ioprio, slack;
  uint64_t mask[kMaskWords];
};

void read_own(Reading* r) {
  SchedAttr a{};
  r->policy = x86::syscall4(SYS_sched_getattr, 0, long(&a), sizeof a, 0) == 0 ? long(a.sched_policy) : -1;
  r->flags = long(a.sched_flags & format::kSchedResetOnFork);
  r->priority = a.sched_priority;
  // getpriority's raw call returns 20 - nice.
  long p = x86::syscall2(SYS_getpriority, PRIO_PROCESS, 0);
  r->nice = p < 0 ? 100 : 20 - p;
  r->ioprio = x86::syscall2(SYS_ioprio_get, kIoprioWhoProcess, 0);
  r->slack = x86::syscall5(SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0);
  for (uint64_t& w : r->mask) w = 0;
  if (x86::syscall3(SYS_sched_getaffinity, 0, sizeof r->mask, long(r->mask)) < 0) r->mask[0] = 0;
}

bool matches(const Reading& r, const format::Scheduling& s, const char** what) {
  *what = nullptr;
  for (size_t i = 0; i < kMaskWords && !*what; ++i)
    if (r.mask[i] != (i < s.affinity.size() ? s.affinity[i] : 0)) *what = "CPU affinity";
  if (!*what && r.ioprio != long(s.ioprio)) *what = "I/O priority";
  if (!*what && r.nice != s.nice) *what = "nice value";
  if (!*what && (r.policy != long(s.policy) || r.priority != long(s.rt_priority) || r.flags != long(s.flags)))
    *what = "scheduling policy";
  if (!*what && r.slack != long(s.timer_slack_ns)) *what = "timer slack";
  return !*what;
}

bool real_time(uint32_t policy) { return policy == SCHED_FIFO || policy == SCHED_RR; }

// The calls, in an order that works: affinity and I/O priority first, the
// nice value, the policy, then the timer slack (a real-time task ignores
// PR_SET_TIMERSLACK and has none, and one that leaves a real-time policy
// gets its "default" slack, which is 0 for a task forked by a real-time
// parent: a launcher run under SCHED_FIFO, e.g. by `chrt -f`, must set the
// slack once it has the saved normal policy). Returns 0, or the step (1-5)
// that failed with its error in *err; raw system calls only.
long set_own(const format::Scheduling& s, const uint64_t* mask, long* err) {
  SchedAttr a{};
  a.size = sizeof a;
  a.sched_policy = s.policy;
  a.sched_flags = s.flags;
  a.sched_nice = s.nice;
  a.sched_priority = s.rt_priority;
  long step = 1, r = x86::syscall3(SYS_sched_setaffinity, 0, kMaskWords * 8, long(mask));
  if (r == 0) step = 2, r = x86::syscall3(SYS_ioprio_set, kIoprioWhoProcess, 0, long(s.ioprio));
  if (r == 0) step = 4, r = x86::syscall3(SYS_setpriority, PRIO_PROCESS, 0, s.nice);
  if (r == 0) step = 5, r = x86::syscall3(SYS_sched_setattr, 0, long(&a), 0);
  if (r == 0 && !real_time(s.policy) && s.timer_slack_ns)
    step = 3, r = x86::syscall5(SYS_prctl, PR_SET_TIMERSLACK, long(s.timer_slack_ns), 0, 0, 0);
  *err = r < 0 ? -r : 0;
  return r == 0 ? 0 : step;
}

struct Trial {
  const format::Scheduling* s;
  const uint64_t* mask;
  long step, error;
  Reading after;
};

int try_scheduling(void* arg) {
  auto* t = static_cast<Trial*>(arg);
  t->step = set_own(*t->s, t->mask, &t->error);
  read_own(&t->after);
  x86::syscall1(SYS_exit, 0);
  return 0;
}

std::vector<uint64_t> full_mask(const format::Scheduling& s) {
  std::vector<uint64_t> m(kMaskWords, 0);
  for (size_t i = 0; i < s.affinity.size() && i < kMaskWords; ++i) m[i] = s.affinity[i];
  return m;
}

const char* const kSteps[] = {"", "CPU affinity", "I/O priority", "timer slack", "nice value", "scheduling policy"};

}  // namespace

void check_scheduling(const format::Image& image) {
  if (!image.scheduling) return;  // validation requires it
  const format::Scheduling& s = *image.scheduling;
  static Reading own;
  read_own(&own);
  const char* differs;
  if (matches(own, s, &differs)) return;  // usually: the caller's own
  std::vector<uint64_t> mask = full_mask(s);
  static Trial trial;
  trial = Trial{&s, mask.data(), 0, 0, {}};
  static std::vector<uint8_t> stack(64 * 1024);
  pid_t child = clone(try_scheduling, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD, &trial);
  if (child < 0) throw RestoreError(std::string("cannot try the saved scheduling: ") + std::strerror(errno));
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string saved = "the process was scheduled with " + format::scheduling_text(s);
  if (trial.step)
    throw RestoreError(saved + "; its " + kSteps[trial.step] + " cannot be set here (" + std::strerror(int(trial.error)) + ")" +
                       (trial.step == 1   ? " (a CPU it names is missing or not allowed)"
                        : real_time(s.policy) || s.nice < 0 ? " (it needs CAP_SYS_NICE or a higher RLIMIT_RTPRIO/RLIMIT_NICE)"
                                                            : ""));
  if (!matches(trial.after, s, &differs))
    throw RestoreError(saved + "; here its " + differs + " comes out different" +
                       (std::strcmp(differs, "CPU affinity") == 0 ? " (a CPU it names is missing here)" : ""));
}

void apply_scheduling(const format::Image& image) {
  if (!image.scheduling) return;
  const format::Scheduling& s = *image.scheduling;
  Reading own;
  read_own(&own);
  const char* differs;
  if (matches(own, s, &differs)) return;
  std::vector<uint64_t> mask = full_mask(s);
  long err = 0;
  if (long step = set_own(s, mask.data(), &err))
    throw RestoreError(std::string("cannot set the saved ") + kSteps[step] + ": " + std::strerror(int(err)));
}

}  // namespace ckpt::restorer
