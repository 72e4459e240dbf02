// ptrace seize/interrupt/detach of a whole thread group, and register
// reads (see Tracee.h).
#include "dumper/Tracee.h"

#include <dirent.h>
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "x86/FaultPoint.h"

namespace ckpt::dumper {

static std::string errno_text(int e) { return std::strerror(e); }

static std::vector<pid_t> list_tasks(pid_t pid) {
  std::vector<pid_t> tids;
  if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/task").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') tids.push_back(pid_t(std::atoi(e->d_name)));
    closedir(d);
  }
  std::sort(tids.begin(), tids.end());
  return tids;
}

bool Tracee::seize(pid_t tid) {
  const bool leader = tid == pid_;
  // TRACESYSGOOD: the syscall-stops of injection (x86/RemoteSyscall) are
  // then never mistaken for a SIGTRAP, nor turned into one if we die.
  if (ptrace(PTRACE_SEIZE, tid, nullptr, reinterpret_cast<void*>(PTRACE_O_TRACESYSGOOD)) != 0) {
    int e = errno;
    if (e == ESRCH && !leader) return false;  // exited between the scan and now
    if (e == ESRCH) throw DumpError("no process with pid " + std::to_string(pid_));
    if (e == EPERM)
      throw DumpError("not permitted to trace pid " + std::to_string(pid_) +
                      " (another user's process, already traced, or restricted by Yama/capabilities)");
    throw DumpError("cannot seize pid " + std::to_string(pid_) + ": " + errno_text(e));
  }
  attached_ = true;
  x86::fault_point("seize: thread seized");
  Thread t{tid};
  if (ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) {
    int e = errno;
    throw DumpError("cannot stop thread " + std::to_string(tid) + " of pid " + std::to_string(pid_) + ": " + errno_text(e));
  }
  for (;;) {
    int status;
    pid_t r = waitpid(tid, &status, __WALL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw DumpError("waiting for pid " + std::to_string(pid_) + " to stop: " + errno_text(errno));
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      if (!leader) return false;  // a thread exiting at dump time is left out
      throw DumpError("pid " + std::to_string(pid_) + " exited while being stopped");
    }
    if (!WIFSTOPPED(status)) continue;
    int event = status >> 16;
    int sig = WSTOPSIG(status);
    if (event == PTRACE_EVENT_STOP) break;  // interrupt stop or group stop
    // A signal-delivery-stop came first: the thread was taking that signal
    // (SIGTRAP included: it is the process's own, as nothing of ours sends
    // one). It is delivered now, as it would have been without us, and the
    // interrupt, still due, stops the thread right after, before the
    // handler's first instruction. (Suppressing it to hand it back at
    // detach loses it: a detach from an interrupt stop drops its signal.)
    const int deliver = event == 0 ? sig : 0;
    if (ptrace(PTRACE_CONT, tid, nullptr, reinterpret_cast<void*>(intptr_t(deliver))) != 0 ||
        ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) {
      if (!leader && errno == ESRCH) return false;
      throw DumpError("cannot stop thread " + std::to_string(tid) + ": " + errno_text(errno));
    }
  }
  threads_.push_back(t);
  x86::fault_point("seize: thread stopped");
  return true;
}

Tracee::Tracee(pid_t pid) : pid_(pid) {
  try {
    if (!seize(pid)) throw DumpError("no process with pid " + std::to_string(pid));
    // Threads created while we stop the others: scan until a pass finds none.
    for (bool found = true; found;) {
      found = false;
      for (pid_t tid : list_tasks(pid)) {
        bool known = false;
        for (const Thread& t : threads_) known |= t.tid == tid;
        if (!known) found |= seize(tid);
      }
    }
  } catch (...) {
    release();
    throw;
  }
}

Tracee::~Tracee() { release(); }

void Tracee::release() {
  if (!attached_) return;
  for (const Thread& t : threads_) {
    x86::fault_point("release: detaching a thread", false);
    ptrace(PTRACE_DETACH, t.tid, nullptr, nullptr);
  }
  attached_ = false;
}

std::vector<pid_t> Tracee::tids() const {
  std::vector<pid_t> out;
  for (const Thread& t : threads_) out.push_back(t.tid);
  return out;
}



x86::UserRegs Tracee::registers(pid_t tid) const {
  x86::UserRegs r;
  if (ptrace(PTRACE_GETREGS, tid, nullptr, &r) != 0)
    throw DumpError("cannot read the registers of thread " + std::to_string(tid) + ": " + errno_text(errno));
  return r;
}

std::vector<uint8_t> Tracee::xsave(pid_t tid, uint64_t* xfeatures) const {
  std::vector<uint8_t> buf(64 * 1024);
  iovec iov{buf.data(), buf.size()};
  if (ptrace(PTRACE_GETREGSET, tid, reinterpret_cast<void*>(NT_X86_XSTATE), &iov) != 0)
    throw DumpError("cannot read the XSAVE state of thread " + std::to_string(tid) + ": " + errno_text(errno));
  buf.resize(iov.iov_len);
  // For ptrace the kernel puts the buffer's feature mask (the user part of
  // XCR0) in the first software-reserved bytes (offset 464); the signal
  // frame's magic numbers are not there.
  if (buf.size() < 576) throw DumpError("thread " + std::to_string(tid) + ": unexpected XSAVE layout from the kernel");
  std::memcpy(xfeatures, buf.data() + 464, 8);
  return buf;
}

uint64_t Tracee::signal_mask(pid_t tid) const {
  uint64_t mask = 0;
  if (ptrace(PTRACE_GETSIGMASK, tid, reinterpret_cast<void*>(sizeof mask), &mask) != 0)
    throw DumpError("cannot read the signal mask of thread " + std::to_string(tid) + ": " + errno_text(errno));
  return mask;
}

Tracee::Rseq Tracee::rseq(pid_t tid) const {
  __ptrace_rseq_configuration conf{};
  if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, reinterpret_cast<void*>(sizeof conf), &conf) < 0)
    throw DumpError("cannot read the rseq registration of thread " + std::to_string(tid) + ": " + errno_text(errno));
  return {conf.rseq_abi_pointer, conf.rseq_abi_size, conf.flags, conf.signature};
}

void Tracee::robust_list(pid_t tid, uint64_t* head, uint64_t* len) const {
  void* h = nullptr;
  size_t l = 0;
  if (syscall(SYS_get_robust_list, tid, &h, &l) != 0)
    throw DumpError("cannot read the robust futex list of thread " + std::to_string(tid) + ": " + errno_text(errno));
  *head = reinterpret_cast<uint64_t>(h);
  *len = l;
}

void Tracee::kill() {
  ::kill(pid_, SIGKILL);
  // Every thread reports its exit to us, its tracer; the leader's exit is
  // reported only once the others are reaped, so it comes last.
  std::vector<Thread> order(threads_.rbegin(), threads_.rend());
  for (const Thread& t : order) {
    for (;;) {
      int status;
      pid_t r = waitpid(t.tid, &status, __WALL);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) break;
    }
  }
  attached_ = false;
}

}  // namespace ckpt::dumper
