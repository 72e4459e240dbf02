// Test-only fault points in the dumper's dangerous sequences (seizing,
// syscall injection, detaching), so that end-to-end tests can stop ckpt at
// a chosen step deterministically instead of racing a timer:
//
//   CKPT_FAULT=kill CKPT_FAULT_AT=N  ckpt raises SIGKILL at the Nth point
//   CKPT_FAULT=fail CKPT_FAULT_AT=N  the Nth point that may fail throws, as
//                                    a failed ptrace request would
//   CKPT_FAULT=stop CKPT_FAULT_AT=N  ckpt stops itself (SIGSTOP) at the Nth
//                                    point, for a test to act, then SIGCONT it
//   CKPT_FAULT=trace                 each point is named on stderr as reached
//   CKPT_FAULT=wait CKPT_FAULT_AT=N  the thread reaching the Nth point creates
//     CKPT_FAULT_FILE=PATH           PATH and waits until it is removed, while
//                                    ckpt's other threads go on (a test acts
//                                    on the target meanwhile, then removes it)
//   CKPT_FAULT=time                  each point and each time_point is named
//                                    on stderr with the milliseconds since
//                                    the first (for tracing where a freeze
//                                    goes; time points are not counted)
//
// CKPT_FAULT_AT may also name the point ("dump: tcp frozen"): the first point
// of that name, for points whose number depends on the process dumped.
//
// Points are counted from 1 across the whole run, in the order reached.
// Without CKPT_FAULT the cost is one load and branch per point. Used by
// tests/e2e/check_dumper_killed.sh and check_target_intact.sh.
#pragma once

namespace ckpt::x86 {

// `may_throw`: false where an exception cannot be taken (destructors):
// there only CKPT_FAULT=kill acts.
void fault_point(const char* where, bool may_throw = true);

// A step worth timing: named with a timestamp under CKPT_FAULT=time only,
// never counted as a fault point (so the numbers of those stay put).
void time_point(const char* where);

}  // namespace ckpt::x86
