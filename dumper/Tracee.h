// A process seized with ptrace for the duration of a dump: every thread of
// it. The constructor seizes and stops each thread (PTRACE_SEIZE +
// PTRACE_INTERRUPT, no PTRACE_O_EXITKILL, so a dumper that dies leaves the
// process running), rescanning /proc/PID/task until no new thread appears;
// a signal a thread was taking as it was stopped is delivered, not held
// back. Threads are seized with PTRACE_O_TRACESYSGOOD (syscall injection
// relies on it). The destructor detaches every thread; kill() ends the
// process while it is stopped.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "x86/Registers.h"

namespace ckpt::dumper {

// A dump failure a person can act on: one line, naming the pid.
class DumpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Tracee {
 public:
  explicit Tracee(pid_t pid);
  ~Tracee();
  Tracee(const Tracee&) = delete;
  Tracee& operator=(const Tracee&) = delete;

  pid_t pid() const { return pid_; }
  // The stopped threads, the thread group leader (tid == pid) first. A
  // thread that was already exiting when the dump began is left out.
  std::vector<pid_t> tids() const;

  x86::UserRegs registers(pid_t tid) const;
  // The XSAVE area (standard format) and the feature mask it was saved with.
  std::vector<uint8_t> xsave(pid_t tid, uint64_t* xfeatures) const;
  uint64_t signal_mask(pid_t tid) const;
  struct Rseq {
    uint64_t address;
    uint32_t length, flags, signature;
  };
  Rseq rseq(pid_t tid) const;
  // get_robust_list(): the head and length the thread registered.
  void robust_list(pid_t tid, uint64_t* head, uint64_t* len) const;
  // SIGKILL while stopped: the process never runs another instruction.
  void kill();
  // Detaches now (as the destructor would): every thread resumes. Nothing
  // may be read from it after.
  void release();

 private:
  struct Thread {
    pid_t tid;
  };
  // Seizes and stops one thread; false if it vanished (exited) meanwhile.
  bool seize(pid_t tid);

  pid_t pid_;
  std::vector<Thread> threads_;
  bool attached_ = false;
};

}  // namespace ckpt::dumper
