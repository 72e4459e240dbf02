// A process seized with ptrace for the duration of a dump. The constructor
// seizes and stops it (PTRACE_SEIZE + PTRACE_INTERRUPT, no PTRACE_O_EXITKILL,
// so a dumper that dies leaves it running); the destructor detaches it,
// handing back any signal the stop consumed, exactly as it was. kill()
// ends it while it is still stopped, for --kill.
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
  x86::UserRegs registers() const;
  // The XSAVE area (standard format) and the feature mask it was saved with.
  std::vector<uint8_t> xsave(uint64_t* xfeatures) const;
  uint64_t signal_mask() const;
  struct Rseq {
    uint64_t address;
    uint32_t length, flags, signature;
  };
  Rseq rseq() const;
  // get_robust_list(): the head and length the thread registered.
  void robust_list(uint64_t* head, uint64_t* len) const;
  // The signal the stop took out of the queue before the dump could see it
  // (si_signo 0: none). It goes back to the process at detach, and into the
  // image as pending.
  const siginfo_t& consumed_signal() const { return consumed_info_; }
  // SIGKILL while stopped: the process never runs another instruction.
  void kill();

 private:
  pid_t pid_;
  bool attached_ = false;
  int pending_signal_ = 0;  // consumed by a signal-delivery-stop; re-sent at detach
  siginfo_t consumed_info_{};
};

}  // namespace ckpt::dumper
