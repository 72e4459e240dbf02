// Syscall injection by single-stepping one `syscall` instruction (see
// RemoteSyscall.h). After the step the thread sits in a SIGTRAP
// signal-delivery-stop; when it is finally resumed without that signal, the
// kernel's signal path runs the usual restart logic on the registers put back
// here, so an interrupted call of the original restarts as it would have.
#include "x86/RemoteSyscall.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ckpt::x86 {

static std::string who(pid_t tid) { return "thread " + std::to_string(tid); }

RemoteSyscall::RemoteSyscall(pid_t tid, uint64_t syscall_insn) : tid_(tid), insn_(syscall_insn) {
  if (ptrace(PTRACE_GETREGS, tid_, nullptr, &saved_) != 0)
    throw RemoteSyscallError("cannot read the registers of " + who(tid_) + ": " + std::strerror(errno));
}

RemoteSyscall::~RemoteSyscall() {
  try {
    for (const siginfo_t& info : intercepted_) {
      uint64_t at = scratch();
      iovec local{const_cast<siginfo_t*>(&info), sizeof info}, remote{reinterpret_cast<void*>(at), sizeof info};
      if (process_vm_writev(tid_, &local, 1, &remote, 1, 0) == ssize_t(sizeof info))
        call(SYS_rt_tgsigqueueinfo, call(SYS_getpid), tid_, info.si_signo, long(at));
    }
    if (scratch_) call(SYS_munmap, long(scratch_), kScratchSize);
  } catch (const std::exception&) {
  }
  if (!dirty_) return;
  ptrace(PTRACE_SETREGS, tid_, nullptr, &saved_);
  // The thread now sits in the SIGTRAP stop of its last step, single-step
  // still armed. Were the tracer to die here, the kernel would let it take
  // that SIGTRAP and die of it. So it is moved back to an interrupt stop,
  // as it was before: the queued interrupt stops it again inside the same
  // signal handling, before it runs an instruction (and the restart of a
  // call it was in still happens when it is finally let go).
  if (ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) != 0 || ptrace(PTRACE_CONT, tid_, nullptr, nullptr) != 0) return;
  for (;;) {
    int status;
    pid_t w = waitpid(tid_, &status, __WALL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 || !WIFSTOPPED(status)) return;
    if ((status >> 16) == PTRACE_EVENT_STOP) return;
    // The interrupt is handled before any signal is dequeued, so this is
    // not expected; should a signal stop come first, it is delivered as
    // the kernel would have.
    if (ptrace(PTRACE_CONT, tid_, nullptr, reinterpret_cast<void*>(intptr_t(WSTOPSIG(status)))) != 0) return;
  }
}

long RemoteSyscall::call(long nr, long a, long b, long c, long d, long e, long f) {
  UserRegs r = saved_;
  r.rip = insn_;
  r.rax = uint64_t(nr);
  r.orig_rax = uint64_t(-1);  // not in a system call: no restart handling on the way out
  r.rdi = uint64_t(a), r.rsi = uint64_t(b), r.rdx = uint64_t(c);
  r.r10 = uint64_t(d), r.r8 = uint64_t(e), r.r9 = uint64_t(f);
  dirty_ = true;
  if (ptrace(PTRACE_SETREGS, tid_, nullptr, &r) != 0)
    throw RemoteSyscallError("cannot set the registers of " + who(tid_) + ": " + std::strerror(errno));
  if (ptrace(PTRACE_SINGLESTEP, tid_, nullptr, nullptr) != 0)
    throw RemoteSyscallError("cannot step " + who(tid_) + ": " + std::strerror(errno));
  for (;;) {
    int status;
    pid_t w = waitpid(tid_, &status, __WALL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 || WIFEXITED(status) || WIFSIGNALED(status))
      throw RemoteSyscallError(who(tid_) + " exited during an injected system call");
    if (WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0) break;
    // A signal arrived and was dequeued for delivery before the step: keep
    // it aside (the destructor queues it again) and go on stepping.
    if (WIFSTOPPED(status) && (status >> 16) == 0) {
      siginfo_t info;
      if (ptrace(PTRACE_GETSIGINFO, tid_, nullptr, &info) == 0) intercepted_.push_back(info);
    }
    if (ptrace(PTRACE_SINGLESTEP, tid_, nullptr, nullptr) != 0)
      throw RemoteSyscallError("cannot step " + who(tid_) + ": " + std::strerror(errno));
  }
  UserRegs out;
  if (ptrace(PTRACE_GETREGS, tid_, nullptr, &out) != 0)
    throw RemoteSyscallError("cannot read the registers of " + who(tid_) + ": " + std::strerror(errno));
  if (out.rip != insn_ + 2) throw RemoteSyscallError(who(tid_) + " did not execute the injected system call");
  return long(out.rax);
}

uint64_t RemoteSyscall::scratch() {
  if (!scratch_) {
    long r = call(SYS_mmap, 0, kScratchSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r < 0 && r > -4096) throw RemoteSyscallError("cannot map scratch memory in " + who(tid_));
    scratch_ = uint64_t(r);
  }
  return scratch_;
}

void RemoteSyscall::read(uint64_t addr, void* out, size_t len) const {
  iovec local{out, len}, remote{reinterpret_cast<void*>(addr), len};
  if (process_vm_readv(tid_, &local, 1, &remote, 1, 0) != ssize_t(len))
    throw RemoteSyscallError("cannot read the memory of " + who(tid_) + ": " + std::strerror(errno));
}

uint64_t find_syscall_instruction(const uint8_t* code, size_t size, uint64_t base) {
  for (size_t i = 0; i + 1 < size; ++i)
    if (code[i] == 0x0f && code[i + 1] == 0x05) return base + i;
  return 0;
}

}  // namespace ckpt::x86
