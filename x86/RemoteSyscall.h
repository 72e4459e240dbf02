// System calls injected into a thread stopped under ptrace, for state only
// the process itself can read (signal handlers, LDT, timers, alternate
// stack, clear-child-tid, prctl getters). RAII, as in rr's
// AutoRemoteSyscalls: the destructor unmaps the scratch memory it mapped and
// puts every register back exactly, so the thread resumes as if nothing had
// happened (a system call it was interrupted in still restarts).
//
// The caller must guarantee the thread is in a ptrace-stop and stays traced
// for the object's lifetime, and that `syscall_insn` is the address of a
// `syscall` instruction (0f 05) mapped executable in the tracee.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "x86/Registers.h"

namespace ckpt::x86 {

class RemoteSyscallError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RemoteSyscall {
 public:
  RemoteSyscall(pid_t tid, uint64_t syscall_insn);
  ~RemoteSyscall();
  RemoteSyscall(const RemoteSyscall&) = delete;
  RemoteSyscall& operator=(const RemoteSyscall&) = delete;

  // Runs one system call in the tracee; returns the kernel's raw result
  // (negative errno on failure). Throws RemoteSyscallError only when the
  // tracee cannot be driven (it died, or did not stop as expected).
  long call(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0);
  // A scratch buffer of `kScratchSize` bytes in the tracee, mapped on first use.
  uint64_t scratch();
  // Copies `len` bytes from the tracee.
  void read(uint64_t addr, void* out, size_t len) const;

  static constexpr size_t kScratchSize = 64 * 1024;

 private:
  pid_t tid_;
  uint64_t insn_;
  UserRegs saved_;
  uint64_t scratch_ = 0;
  bool dirty_ = false;  // registers changed since the constructor
  // Signals dequeued for delivery while we stepped the thread; queued
  // again by the destructor so the process still receives them.
  std::vector<siginfo_t> intercepted_;
};

// Finds a `syscall` instruction in `code` (bytes at address `base`); 0 if none.
uint64_t find_syscall_instruction(const uint8_t* code, size_t size, uint64_t base);

}  // namespace ckpt::x86
