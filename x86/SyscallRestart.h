// What the kernel does with a system call interrupted by a stop that the
// thread never returns from: a checkpointed thread caught inside a call must
// resume as if no handler had run, so the restorer applies the same rules.
#pragma once

#include <cstdint>

#include "x86/Registers.h"

namespace ckpt::x86 {

inline constexpr int64_t kERESTARTSYS = -512;
inline constexpr int64_t kERESTARTNOINTR = -513;
inline constexpr int64_t kERESTARTNOHAND = -514;
inline constexpr int64_t kERESTART_RESTARTBLOCK = -516;

enum class RestartAction {
  None,         // not in a system call, or the call had completed
  Restart,      // rip -= 2, rax = orig_rax: the call runs again
  Interrupted,  // the call returns -EINTR
};

inline constexpr uint64_t kSysPoll = 7;
inline constexpr uint64_t kSysFutex = 202;
inline constexpr uint64_t kFutexWaitBitset = 9;  // takes an absolute deadline
inline constexpr uint64_t kFutexCmdMask = ~uint64_t(128 | 256);  // without FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME

// Decision for ERESTART_RESTARTBLOCK (nanosleep, clock_nanosleep, poll,
// futex with a timeout): the kernel's restart block, which holds the time
// left, dies with the process, and restarting the original call would sleep
// its whole timeout again. We return -EINTR, as CRIU does: the remaining
// time was already written to nanosleep's `rem`, so a caller that loops on
// EINTR finishes exactly on time. The exceptions are the calls that use a
// restart block but lose nothing by starting again, which are restarted as
// the kernel would have done: poll without a timeout, and
// FUTEX_WAIT_BITSET, whose deadline is absolute. The choice is the same on
// every restore.
inline RestartAction restart_action(const UserRegs& r) {
  if (int64_t(r.orig_rax) < 0) return RestartAction::None;
  switch (int64_t(r.rax)) {
    case kERESTARTSYS:
    case kERESTARTNOINTR:
    case kERESTARTNOHAND: return RestartAction::Restart;
    case kERESTART_RESTARTBLOCK:
      if (r.orig_rax == kSysPoll && int32_t(r.rdx) < 0) return RestartAction::Restart;
      if (r.orig_rax == kSysFutex && (r.rsi & kFutexCmdMask) == kFutexWaitBitset) return RestartAction::Restart;
      return RestartAction::Interrupted;
    default: return RestartAction::None;
  }
}

// The registers the thread resumes with.
inline UserRegs resume_registers(UserRegs r) {
  switch (restart_action(r)) {
    case RestartAction::Restart:
      r.rax = r.orig_rax;
      r.rip -= 2;  // the 2-byte `syscall` instruction
      break;
    case RestartAction::Interrupted: r.rax = uint64_t(-4); break;  // -EINTR
    case RestartAction::None: break;
  }
  r.orig_rax = uint64_t(-1);
  return r;
}

// The registers of a thread that a signal with a handler reaches the moment
// it resumes, as the kernel's signal delivery leaves an interrupted call
// (handle_signal): -ERESTARTNOHAND and -ERESTART_RESTARTBLOCK return
// -EINTR, -ERESTARTSYS too unless the handler has SA_RESTART, and
// -ERESTARTNOINTR restarts. (The restorer queues such a signal itself: the
// terminal's SIGWINCH. A program waiting in select() for its terminal
// then sees EINTR and looks at the flag its handler set, as it would after
// a real resize.)
inline UserRegs handler_registers(UserRegs r, bool sa_restart) {
  if (int64_t(r.orig_rax) >= 0) {
    switch (int64_t(r.rax)) {
      case kERESTARTSYS:
        if (sa_restart) return resume_registers(r);
        [[fallthrough]];
      case kERESTARTNOHAND:
      case kERESTART_RESTARTBLOCK:
        r.rax = uint64_t(-4);  // -EINTR
        r.orig_rax = uint64_t(-1);
        return r;
      default: break;
    }
  }
  return resume_registers(r);
}

}  // namespace ckpt::x86
