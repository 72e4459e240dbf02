// ptrace seize/interrupt/detach and register reads (see Tracee.h).
#include "dumper/Tracee.h"

#include <elf.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ckpt::dumper {

static std::string errno_text(int e) { return std::strerror(e); }

Tracee::Tracee(pid_t pid) : pid_(pid) {
  if (ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) != 0) {
    int e = errno;
    if (e == ESRCH) throw DumpError("no process with pid " + std::to_string(pid));
    if (e == EPERM)
      throw DumpError("not permitted to trace pid " + std::to_string(pid) +
                      " (another user's process, already traced, or restricted by Yama/capabilities)");
    throw DumpError("cannot seize pid " + std::to_string(pid) + ": " + errno_text(e));
  }
  attached_ = true;
  if (ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr) != 0) {
    int e = errno;
    throw DumpError("cannot stop pid " + std::to_string(pid) + ": " + errno_text(e));
  }
  for (;;) {
    int status;
    pid_t r = waitpid(pid, &status, __WALL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw DumpError("waiting for pid " + std::to_string(pid) + " to stop: " + errno_text(errno));
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      attached_ = false;
      throw DumpError("pid " + std::to_string(pid) + " exited while being stopped");
    }
    if (!WIFSTOPPED(status)) continue;
    int event = status >> 16;
    int sig = WSTOPSIG(status);
    if (event == PTRACE_EVENT_STOP) break;  // interrupt stop or group stop
    // A signal-delivery-stop came first: keep the signal to hand back at
    // detach (issue: pending signals are saved in a later format version),
    // and wait for the interrupt stop, which is still due.
    if (event == 0 && sig != SIGTRAP) {
      pending_signal_ = sig;
      if (ptrace(PTRACE_GETSIGINFO, pid, nullptr, &consumed_info_) != 0) consumed_info_.si_signo = 0;
    }
    if (ptrace(PTRACE_CONT, pid, nullptr, nullptr) != 0)
      throw DumpError("cannot stop pid " + std::to_string(pid) + ": " + errno_text(errno));
    if (ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr) != 0)
      throw DumpError("cannot stop pid " + std::to_string(pid) + ": " + errno_text(errno));
  }
}

Tracee::~Tracee() {
  if (attached_) ptrace(PTRACE_DETACH, pid_, nullptr, reinterpret_cast<void*>(intptr_t(pending_signal_)));
}

x86::UserRegs Tracee::registers() const {
  x86::UserRegs r;
  if (ptrace(PTRACE_GETREGS, pid_, nullptr, &r) != 0)
    throw DumpError("cannot read the registers of pid " + std::to_string(pid_) + ": " + errno_text(errno));
  return r;
}

std::vector<uint8_t> Tracee::xsave(uint64_t* xfeatures) const {
  std::vector<uint8_t> buf(64 * 1024);
  iovec iov{buf.data(), buf.size()};
  if (ptrace(PTRACE_GETREGSET, pid_, reinterpret_cast<void*>(NT_X86_XSTATE), &iov) != 0)
    throw DumpError("cannot read the XSAVE state of pid " + std::to_string(pid_) + ": " + errno_text(errno));
  buf.resize(iov.iov_len);
  // For ptrace the kernel puts the buffer's feature mask (the user part of
  // XCR0) in the first software-reserved bytes (offset 464); the signal
  // frame's magic numbers are not there.
  if (buf.size() < 576) throw DumpError("pid " + std::to_string(pid_) + ": unexpected XSAVE layout from the kernel");
  std::memcpy(xfeatures, buf.data() + 464, 8);
  return buf;
}

uint64_t Tracee::signal_mask() const {
  uint64_t mask = 0;
  if (ptrace(PTRACE_GETSIGMASK, pid_, reinterpret_cast<void*>(sizeof mask), &mask) != 0)
    throw DumpError("cannot read the signal mask of pid " + std::to_string(pid_) + ": " + errno_text(errno));
  return mask;
}

Tracee::Rseq Tracee::rseq() const {
  __ptrace_rseq_configuration conf{};
  if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid_, reinterpret_cast<void*>(sizeof conf), &conf) < 0)
    throw DumpError("cannot read the rseq registration of pid " + std::to_string(pid_) + ": " + errno_text(errno));
  return {conf.rseq_abi_pointer, conf.rseq_abi_size, conf.flags, conf.signature};
}

void Tracee::robust_list(uint64_t* head, uint64_t* len) const {
  void* h = nullptr;
  size_t l = 0;
  if (syscall(SYS_get_robust_list, pid_, &h, &l) != 0)
    throw DumpError("cannot read the robust futex list of pid " + std::to_string(pid_) + ": " + errno_text(errno));
  *head = reinterpret_cast<uint64_t>(h);
  *len = l;
}

void Tracee::kill() {
  ::kill(pid_, SIGKILL);
  for (;;) {
    int status;
    pid_t r = waitpid(pid_, &status, __WALL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) break;
  }
  attached_ = false;
}

}  // namespace ckpt::dumper
