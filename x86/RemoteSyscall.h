// System calls injected into a thread stopped under ptrace, for state only
// the process itself can read (signal handlers, LDT, timers, alternate
// stack, clear-child-tid, prctl getters). RAII, as in rr's
// AutoRemoteSyscalls: the destructor unmaps the scratch memory it mapped and
// puts every register and the signal mask back exactly, so the thread
// resumes as if nothing had happened (a system call it was interrupted in
// still restarts).
//
// Safe against the dumper's death at any moment (docs/architecture.md,
// "Syscall injection"): each call runs through syscall-stops (never a
// single-step, whose SIGTRAP would be forced on the thread), with every
// signal blocked, from a `syscall; ret` sequence whose `ret` pops the
// address of a `mov $15, %rax; syscall` (rt_sigreturn) sequence, over a
// signal frame written below the thread's red zone that holds its original
// registers, mask and XSAVE state. Should the tracer vanish while the
// registers are changed, the kernel lets the thread go on by itself: it
// finishes the injected call and returns through that frame to exactly
// where it was.
//
// The caller must guarantee the thread is in a ptrace-stop (an interrupt
// stop) and stays traced for the object's lifetime. The constructor sets
// PTRACE_O_TRACESYSGOOD on it (replacing other options).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "x86/ProcMaps.h"
#include "x86/Registers.h"

namespace ckpt::x86 {

class RemoteSyscallError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where injected calls run, in the tracee's code. Each address is checked
// against the tracee's memory before use.
struct InjectionSite {
  uint64_t syscall_ret = 0;  // `syscall; ret` (0f 05 c3)
  uint64_t sigreturn = 0;    // `mov $15, %rax; syscall`
  uint64_t syscall = 0;      // any `syscall` (0f 05): the fallback without a safety frame
};

class RemoteSyscall {
 public:
  RemoteSyscall(pid_t tid, const InjectionSite& site);
  // Only a `syscall` instruction: no safety frame (a dumper that dies while
  // a call runs leaves the thread at that instruction).
  RemoteSyscall(pid_t tid, uint64_t syscall_insn) : RemoteSyscall(tid, InjectionSite{0, 0, syscall_insn}) {}
  ~RemoteSyscall();
  RemoteSyscall(const RemoteSyscall&) = delete;
  RemoteSyscall& operator=(const RemoteSyscall&) = delete;

  // Runs one system call in the tracee; returns the kernel's raw result
  // (negative errno on failure). Throws RemoteSyscallError only when the
  // tracee cannot be driven (it died, or did not stop as expected).
  long call(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0);

  // Independent calls, run in order; returns each one's raw result. With
  // the safety frame and at least kBatchMin calls, they run as one batch
  // (x86/InjectedBatch.h) at a cost of about two stops instead of two per
  // call; else, or where the tracee refuses an executable area, one by
  // one through call(). Nothing a call returns can steer a later one.
  struct Call {
    long nr;
    long args[6];
  };
  std::vector<long> call_batch(const std::vector<Call>& calls);
  static constexpr size_t kBatchMin = 8;
  // A scratch buffer of `kScratchSize` bytes in the tracee: below the
  // safety frame when the thread's stack has room (its bytes are put back
  // at the end), else mapped on first use and unmapped at the end.
  uint64_t scratch();
  // Copies `len` bytes from the tracee.
  void read(uint64_t addr, void* out, size_t len) const;
  // Whether the calls run with the safety frame (false: the fallback).
  bool guarded() const { return frame_addr_ != 0; }

  static constexpr size_t kScratchSize = 64 * 1024;

 private:
  enum class Stop { Interrupt, SyscallEnter, SyscallExit, Running };  // Running: in a batch
  void begin();
  void resume_and_wait(Stop want);
  void finish() noexcept;
  long run_call(UserRegs r, long nr);
  bool prepare_batch();
  const std::vector<MapsEntry>& maps();
  void run_tail();
  void run_batch(const Call* calls, size_t n, std::vector<long>& results);
  void wait_interrupt_stop();
  void keep_signal(int status);
  void block_signals();
  bool stop_batch();
  void forget_thread() noexcept;

  pid_t tid_;
  InjectionSite site_;
  uint64_t insn_ = 0;  // where calls run: site_.syscall_ret when guarded, else site_.syscall
  UserRegs saved_;
  uint64_t saved_mask_ = 0;
  Stop at_ = Stop::Interrupt;
  bool dirty_ = false;  // registers or mask changed since the constructor
  uint64_t scratch_ = 0;
  bool scratch_on_stack_ = false;  // below the frame, not mapped
  // The safety frame, and the stack bytes it and a scratch buffer below it
  // cover from `covered_at_` (put back at the end).
  uint64_t frame_addr_ = 0;
  uint64_t covered_at_ = 0;
  std::vector<uint8_t> covered_;
  // The batch area mapped in the tracee (0: none).
  uint64_t batch_area_ = 0;
  bool batch_refused_ = false;
  // The thread's own seccomp filters are suspended while ckpt holds it
  // (PTRACE_O_SUSPEND_SECCOMP): single calls only, so that the thread never
  // runs code of its own, nor batch code left to itself, without them.
  bool seccomp_suspended_ = false;
  int32_t dumper_pid_ = 0;  // ckpt's pid as the thread sees it, for the batch code's pidfd; 0: not visible
  std::vector<MapsEntry> maps_;
  bool maps_read_ = false;
  // The last call's raw result once its exit stop was reached.
  static constexpr long kNoResult = long(0x7ffe'dead'beef'0001);
  long last_result_ = kNoResult;
  // Signals that cannot be blocked (SIGSTOP) dequeued while the thread ran
  // an injected call; sent again by the destructor.
  std::vector<siginfo_t> intercepted_;
};

// A task's seccomp mode (0 none, 1 strict, 2 filter) and number of
// filters, from its /proc status text; -1 where unknown.
struct Seccomp {
  int mode = -1;
  long filters = -1;
};
Seccomp seccomp_of(const std::string& status);

// Whether /proc/TID/status text says the thread runs with a user shadow
// stack ("x86_Thread_features: shstk ...", kernels with
// CONFIG_X86_USER_SHADOW_STACK).
bool shadow_stack_enabled(const std::string& status);

// Finds a `syscall` instruction in `code` (bytes at address `base`); 0 if none.
uint64_t find_syscall_instruction(const uint8_t* code, size_t size, uint64_t base);
// Finds a `syscall; ret` sequence; 0 if none.
uint64_t find_syscall_ret(const uint8_t* code, size_t size, uint64_t base);

}  // namespace ckpt::x86
