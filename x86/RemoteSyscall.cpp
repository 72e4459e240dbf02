// Syscall injection through syscall-stops, guarded by a signal frame (see
// RemoteSyscall.h; the reasoning, stop by stop, is in docs/architecture.md,
// "Syscall injection").
//
// The thread goes: interrupt stop (original registers) -> registers set to
// the call, every signal blocked -> syscall-enter-stop -> syscall-exit-stop
// (result read) -> the next call is set up from there -> ... -> at the end,
// from the last exit stop: PTRACE_INTERRUPT queued, mask and registers put
// back, and PTRACE_CONT takes the thread into an interrupt stop again inside
// the same signal handling, before it runs an instruction. Neither kind of
// syscall-stop is a signal (with PTRACE_O_TRACESYSGOOD the kernel's resume
// code ignores the 0x85 left in exit_code if the tracer dies), so no SIGTRAP
// is ever forced on the thread: a blocked or ignored SIGTRAP, pending or not,
// stays exactly as it was.
#include "x86/RemoteSyscall.h"

#include <elf.h>
#include <signal.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "x86/Cpu.h"
#include "x86/FaultPoint.h"
#include "x86/InjectedBatch.h"
#include "x86/ProcMaps.h"
#include "x86/ResumeGadgets.h"
#include "x86/SigFrame.h"
#include "x86/SyscallRestart.h"

namespace ckpt::x86 {

static std::string who(pid_t tid) { return "thread " + std::to_string(tid); }

// A failed ptrace request, said in one line; ESRCH means the thread died.
// `what` names the request ("read the registers of", "resume").
static RemoteSyscallError ptrace_error(pid_t tid, const std::string& what) {
  const int e = errno;
  if (e == ESRCH) return RemoteSyscallError(who(tid) + " exited during an injected system call");
  return RemoteSyscallError("cannot " + what + " " + who(tid) + ": " + std::strerror(e));
}

static constexpr uint64_t kRedZone = 128;
static constexpr int kSyscallStop = SIGTRAP | 0x80;

static bool read_remote(pid_t tid, uint64_t addr, void* out, size_t len) {
  iovec local{out, len}, remote{reinterpret_cast<void*>(addr), len};
  return process_vm_readv(tid, &local, 1, &remote, 1, 0) == ssize_t(len);
}

static bool write_remote(pid_t tid, uint64_t addr, const void* in, size_t len) {
  iovec local{const_cast<void*>(in), len}, remote{reinterpret_cast<void*>(addr), len};
  return process_vm_writev(tid, &local, 1, &remote, 1, 0) == ssize_t(len);
}

static bool code_is(pid_t tid, uint64_t addr, const uint8_t* want, size_t len) {
  uint8_t have[16];
  return addr && len <= sizeof have && read_remote(tid, addr, have, len) && std::memcmp(have, want, len) == 0;
}

Seccomp seccomp_of(const std::string& status) {
  Seccomp s;
  {
    size_t at = status.find("\nSeccomp:");
    if (at != std::string::npos) s.mode = std::atoi(status.c_str() + at + 9);
    at = status.find("\nSeccomp_filters:");
    if (at != std::string::npos) s.filters = std::atol(status.c_str() + at + 17);
  }
  return s;
}

static std::string status_of(const std::string& path) {
  try {
    return read_proc_file(path);
  } catch (const std::exception&) {
    return "";
  }
}

bool shadow_stack_enabled(const std::string& status) {
  const size_t at = status.find("\nx86_Thread_features:");
  if (at == std::string::npos) return false;
  const size_t end = status.find('\n', at + 1);
  const std::string features = status.substr(at, end == std::string::npos ? std::string::npos : end - at);
  return features.find(" shstk") != std::string::npos || features.find("\tshstk") != std::string::npos;
}

RemoteSyscall::RemoteSyscall(pid_t tid, const InjectionSite& site) : tid_(tid), site_(site) {
  // Under seccomp an injected call may kill the thread (strict mode, or a
  // filter's KILL), force a SIGSYS on it (TRAP) or wait for a supervisor
  // (USER_NOTIF). Filters are inherited and never removed: a thread with no
  // more of them than ckpt itself has only its environment's (a
  // container's), under which ckpt runs too; more than that is its own
  // sandbox, which ckpt carries (dumper/Seccomp.cpp) and suspends while it
  // injects (PTRACE_O_SUSPEND_SECCOMP: CAP_SYS_ADMIN, and no seccomp of
  // ckpt's own), or refuses.
  const std::string status = status_of("/proc/" + std::to_string(tid_) + "/status");
  const Seccomp target = seccomp_of(status);
  const Seccomp self = seccomp_of(status_of("/proc/thread-self/status"));
  if (target.mode == 1)
    throw RemoteSyscallError(who(tid_) + " runs in seccomp strict mode: ckpt can neither inject system calls there "
                                         "(they would kill it) nor restore that mode");
  const bool own_filters =
      target.mode != 0 && (target.mode != self.mode || target.filters < 0 || target.filters > self.filters);
  if (own_filters && self.mode != 0)
    throw RemoteSyscallError(who(tid_) + " runs under seccomp filters of its own (" +
                             std::to_string(target.filters) + ", ckpt has " + std::to_string(self.filters) +
                             "): ckpt, itself under seccomp, can neither inject system calls there (they could kill "
                             "it) nor read the filters to carry them");
  // With a shadow stack (CET), the `ret` every injected call returns
  // through would fault: the thread would die of SIGSEGV. Nor is the
  // shadow stack saved.
  if (shadow_stack_enabled(status))
    throw RemoteSyscallError(who(tid_) + " runs with a shadow stack (x86_Thread_features: shstk): ckpt can neither "
                                         "inject system calls there (their return would fault) nor restore it");
  if (ptrace(PTRACE_GETREGS, tid_, nullptr, &saved_) != 0)
    throw ptrace_error(tid_, "read the registers of");
  if (ptrace(PTRACE_GETSIGMASK, tid_, reinterpret_cast<void*>(sizeof saved_mask_), &saved_mask_) != 0)
    throw ptrace_error(tid_, "read the signal mask of");
  if (ptrace(PTRACE_SETOPTIONS, tid_, nullptr,
             reinterpret_cast<void*>(PTRACE_O_TRACESYSGOOD | (own_filters ? PTRACE_O_SUSPEND_SECCOMP : 0))) != 0) {
    if (own_filters)
      throw RemoteSyscallError(who(tid_) + " runs under seccomp filters of its own (" + std::to_string(target.filters) +
                               "), which ckpt cannot suspend to inject its calls (PTRACE_O_SUSPEND_SECCOMP: " +
                               std::strerror(errno) + "; it needs CAP_SYS_ADMIN)");
    throw ptrace_error(tid_, "set the ptrace options of");
  }
  seccomp_suspended_ = own_filters;
}

// A thread inside an rseq critical section resumes at its abort handler,
// as the kernel sends it there after any preemption: the first return to
// user space from an injected call clears its rseq_cs (the call's rip is
// outside the section), so the frame must do it should the dumper vanish.
static void rseq_abort(pid_t tid, UserRegs& regs) {
  __ptrace_rseq_configuration conf{};
  if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, reinterpret_cast<void*>(sizeof conf), &conf) <= 0 ||
      !conf.rseq_abi_pointer)
    return;
  uint64_t cs_addr = 0;
  struct {
    uint32_t version, flags;
    uint64_t start_ip, post_commit_offset, abort_ip;
  } cs;
  uint32_t signature = 0;
  if (!read_remote(tid, conf.rseq_abi_pointer + 8, &cs_addr, 8) || !cs_addr || !read_remote(tid, cs_addr, &cs, sizeof cs))
    return;
  if (regs.rip - cs.start_ip < cs.post_commit_offset && cs.abort_ip >= 4 &&
      read_remote(tid, cs.abort_ip - 4, &signature, 4) && signature == conf.signature)
    regs.rip = cs.abort_ip;
}

// Chooses where calls run. Guarded: the safety frame goes below the red
// zone, where the kernel itself would put a signal frame, and the bytes
// it covers are kept to be put back.
void RemoteSyscall::begin() {
  static constexpr uint8_t kSyscall[] = {0x0f, 0x05};
  if (code_is(tid_, site_.syscall_ret, kSyscallRet, sizeof kSyscallRet) &&
      code_is(tid_, site_.sigreturn, kSigreturn, sizeof kSigreturn)) {
    std::vector<uint8_t> xsave(64 * 1024);
    iovec iov{xsave.data(), xsave.size()};
    // The frame carries only the XSAVE components every process is granted:
    // with a larger xstate_size than the kernel lets the thread use,
    // rt_sigreturn loads only the legacy part (docs/architecture.md, phase 4).
    // State in a component granted on request (AMX tiles in use) could not
    // be carried: no frame then.
    uint64_t xfeatures = 0, in_use = ~uint64_t(0);
    const uint64_t on_request = xfeatures_on_request(xcr0());
    if (ptrace(PTRACE_GETREGSET, tid_, reinterpret_cast<void*>(NT_X86_XSTATE), &iov) == 0 &&
        iov.iov_len >= kXsaveHeaderOffset + 64) {
      std::memcpy(&xfeatures, xsave.data() + kXsaveSwReservedOffset, 8);
      std::memcpy(&in_use, xsave.data() + kXsaveHeaderOffset, 8);
      xfeatures &= ~on_request;
      xsave.resize(std::min(size_t(iov.iov_len), size_t(xsave_size_of(xfeatures))));
    }
    if (!(in_use & on_request)) {
      const size_t size = sigframe_size(xsave.size());
      const uint64_t top = saved_.rsp - kRedZone;
      const uint64_t addr = (top - size) & ~uint64_t(63);
      std::vector<uint8_t> frame(size);
      UserRegs resume = resume_registers(saved_);
      rseq_abort(tid_, resume);
      // An invalid ss_flags makes sigreturn leave the alternate stack as
      // it is (its error is ignored): the injection does not know it yet.
      KernelStack keep_altstack{0, 3, 0, 0};
      build_sigframe(frame.data(), addr, resume, saved_mask_, xsave.data(), xsave.size(), xfeatures,
                     site_.sigreturn, &keep_altstack);
      // The scratch buffer goes just below the frame when the same private
      // writable mapping (the stack) has room for it: then nothing but
      // bytes below the stack pointer is ever touched, and they are put back.
      uint64_t low = addr;
      const uint64_t below = (addr - kScratchSize) & ~uint64_t(63);
      if (addr > kScratchSize + 4096) {
        try {
          for (const MapsEntry& m : maps())
            if (m.start <= below && addr + size <= m.end && m.read && m.write && !m.shared &&
                (m.path.empty() || m.path == "[stack]"))
              low = below;
        } catch (const std::exception&) {
        }
      }
      covered_.resize(addr + size - low);
      if (top > size + 64 && read_remote(tid_, low, covered_.data(), covered_.size())) {
        if (write_remote(tid_, addr, frame.data(), size)) {
          covered_at_ = low;
          frame_addr_ = addr;
          if (low != addr) scratch_ = low, scratch_on_stack_ = true;
          insn_ = site_.syscall_ret;
          fault_point("inject: safety frame written");
          return;
        }
        write_remote(tid_, low, covered_.data(), covered_.size());  // a partial write
      }
      covered_.clear();
    }
  }
  if (!code_is(tid_, site_.syscall, kSyscall, sizeof kSyscall))
    throw RemoteSyscallError(who(tid_) + " has no system call instruction to inject through");
  insn_ = site_.syscall;
}

// A signal-delivery-stop (all the thread can take is SIGSTOP: every
// blockable signal is blocked): its siginfo is kept, to be sent again once
// the thread is back (finish), and the caller resumes it without it.
void RemoteSyscall::keep_signal(int status) {
  if ((status >> 16) != 0 || WSTOPSIG(status) == kSyscallStop) return;
  siginfo_t info;
  if (ptrace(PTRACE_GETSIGINFO, tid_, nullptr, &info) == 0) intercepted_.push_back(info);
}

// Resumes the thread to its next syscall-stop of kind `want`. A stop for a
// signal that cannot be blocked (SIGSTOP) is kept aside and suppressed; a
// group stop or an interrupt stop is passed by.
void RemoteSyscall::resume_and_wait(Stop want) {
  if (ptrace(PTRACE_SYSCALL, tid_, nullptr, nullptr) != 0)
    throw ptrace_error(tid_, "resume");
  for (;;) {
    int status;
    pid_t w = waitpid(tid_, &status, __WALL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 || WIFEXITED(status) || WIFSIGNALED(status))
      throw RemoteSyscallError(who(tid_) + " exited during an injected system call");
    if (!WIFSTOPPED(status)) continue;
    if (WSTOPSIG(status) == kSyscallStop) {
      at_ = want;
      return;
    }
    keep_signal(status);
    if (ptrace(PTRACE_SYSCALL, tid_, nullptr, nullptr) != 0)
      throw ptrace_error(tid_, "resume");
  }
}

long RemoteSyscall::call(long nr, long a, long b, long c, long d, long e, long f) {
  if (!insn_) begin();
  UserRegs r = saved_;
  r.rip = insn_;
  if (frame_addr_) r.rsp = frame_addr_;  // `ret` pops the sigreturn sequence's address from here
  if (batch_area_) {
    // While the batch area exists, `ret` takes the batch code's tail
    // instead: it unmaps the area before it enters the frame.
    r.rsp = batch_area_ + batch::kHeaderAt + batch::kHeaderTail;
    r.r13 = batch_area_ + batch::kHeaderAt, r.r14 = site_.syscall_ret, r.r15 = batch_area_, r.rbp = batch::kAreaSize;
  }
  r.rdi = uint64_t(a), r.rsi = uint64_t(b), r.rdx = uint64_t(c);
  r.r10 = uint64_t(d), r.r8 = uint64_t(e), r.r9 = uint64_t(f);
  return run_call(r, nr);
}

// From an interrupt stop (the thread's own mask still in force), every
// signal blocked: none may be taken while the registers are not the
// thread's own (its handler would see them); the safety frame puts the
// mask back should we vanish. From a syscall-stop it is blocked already.
void RemoteSyscall::block_signals() {
  if (at_ != Stop::Interrupt) return;
  uint64_t all = ~uint64_t(0);
  if (ptrace(PTRACE_SETSIGMASK, tid_, reinterpret_cast<void*>(sizeof all), &all) != 0)
    throw ptrace_error(tid_, "block the signals of");
}

// Runs one call from the registers `r` (rip at the `syscall`), through its
// entry and exit stops.
long RemoteSyscall::run_call(UserRegs r, long nr) {
  last_result_ = kNoResult;
  r.rax = uint64_t(nr);
  r.orig_rax = uint64_t(-1);  // not in a system call: no restart handling on the way out
  fault_point("inject: before setting the registers");
  dirty_ = true;
  if (ptrace(PTRACE_SETREGS, tid_, nullptr, &r) != 0)
    throw ptrace_error(tid_, "set the registers of");
  fault_point("inject: registers set");
  if (at_ == Stop::Interrupt) {
    block_signals();
    fault_point("inject: signals blocked");
  }
  resume_and_wait(Stop::SyscallEnter);
  fault_point("inject: at the system call's entry");
  UserRegs out;
  if (ptrace(PTRACE_GETREGS, tid_, nullptr, &out) != 0)
    throw ptrace_error(tid_, "read the registers of");
  if (out.rip != r.rip + 2 || out.orig_rax != uint64_t(nr))
    throw RemoteSyscallError(who(tid_) + " did not execute the injected system call");
  resume_and_wait(Stop::SyscallExit);
  if (ptrace(PTRACE_GETREGS, tid_, nullptr, &out) != 0)
    throw ptrace_error(tid_, "read the registers of");
  // Kept for a caller whose call made something to undo (a mapping)
  // should a later step fail.
  last_result_ = long(out.rax);
  fault_point("inject: at the system call's exit");
  return last_result_;
}

// The thread's /proc maps, read once: nothing maps or unmaps in a frozen
// process but the injection itself (a scratch buffer mapped for want of
// stack room, after which no batch is made).
const std::vector<MapsEntry>& RemoteSyscall::maps() {
  if (!maps_read_) {
    maps_ = parse_maps(read_proc_file("/proc/" + std::to_string(tid_) + "/maps"));
    maps_read_ = true;
  }
  return maps_;
}

// A hole of `size` bytes in the thread's address space, 1 MiB clear of
// its neighbours and never in the gap a stack grows into; 0 if none.
static uint64_t find_hole(const std::vector<MapsEntry>& maps, size_t size) {
  constexpr uint64_t kMargin = 1 << 20, kUserTop = 0x7ffffffff000;
  uint64_t best = 0;
  for (size_t i = 0; i + 1 < maps.size(); ++i) {
    if (maps[i + 1].path == "[stack]") continue;
    const uint64_t low = maps[i].end, high = std::min(maps[i + 1].start, kUserTop);
    if (high > low && high - low >= size + 2 * kMargin) best = std::max(best, (high - kMargin - size) & ~uint64_t(4095));
  }
  return best;
}

// Whether ckpt and the thread see the same pid namespace: only then does
// ckpt's pid name ckpt in a pidfd_open the thread makes.
static bool same_pid_namespace(pid_t tid) {
  struct stat self, other;
  return stat("/proc/self/ns/pid", &self) == 0 &&
         stat(("/proc/" + std::to_string(tid) + "/ns/pid").c_str(), &other) == 0 && self.st_dev == other.st_dev &&
         self.st_ino == other.st_ino;
}

// How long the batch code waits for the tracer once it is done: with a
// pidfd of the dumper it also wakes the moment the dumper is gone, so the
// timeout only bounds a dumper held up that long; without one, it is how
// long a dumper's death leaves the thread waiting.
static constexpr int64_t kWaitWithPidfd = 60, kWaitWithout = 2;
// How long the tracer waits for the calls themselves.
static constexpr auto kBatchDeadline = std::chrono::seconds(10);

// Maps the batch area (read, write, execute: the code and its table) at a
// hole, by a call whose way back unmaps it again (a register-only frame
// below the scratch buffer's start: rt_sigreturn into `munmap` from the
// `syscall; ret` site, whose `ret` enters the safety frame), so that the
// dumper's death right after it leaves nothing behind. False where the
// tracee refuses (an executable area denied by memory-deny-write-execute
// or a security module, no hole): the calls then go one by one.
bool RemoteSyscall::prepare_batch() {
  if (batch_area_) return true;
  scratch();
  if (batch_refused_ || seccomp_suspended_ || !frame_addr_ || !scratch_on_stack_) return false;
  batch_refused_ = true;
  uint64_t hole = 0;
  try {
    hole = find_hole(maps(), batch::kAreaSize);
  } catch (const std::exception&) {
  }
  if (!hole) return false;
  dumper_pid_ = same_pid_namespace(tid_) ? int32_t(getpid()) : 0;
  UserRegs undo = saved_;
  undo.rip = site_.syscall_ret, undo.rsp = frame_addr_;
  undo.rax = SYS_munmap, undo.rdi = hole, undo.rsi = batch::kAreaSize;
  std::vector<uint8_t> frame(sizeof(RtSigframe));
  KernelStack keep_altstack{0, 3, 0, 0};  // invalid flags: sigreturn leaves the alternate stack alone
  build_register_frame(frame.data(), undo, ~uint64_t(0), site_.sigreturn, keep_altstack);
  if (!write_remote(tid_, scratch_, frame.data(), frame.size()))
    throw ptrace_error(tid_, "write the memory of");
  UserRegs r = saved_;
  r.rip = insn_, r.rsp = scratch_;
  r.rdi = hole, r.rsi = batch::kAreaSize, r.rdx = PROT_READ | PROT_WRITE | PROT_EXEC;
  r.r10 = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, r.r8 = uint64_t(-1), r.r9 = 0;
  // The code goes in at once, also when a later step fails: the clean-up
  // runs its tail.
  auto install = [&] {
    const batch::Header header{0, -1, POLLIN, 0, 0, 0, frame_addr_, hole + batch::tail_offset(),
                               dumper_pid_, 0};
    if (!write_remote(tid_, hole, batch::code(), batch::code_size()) ||
        !write_remote(tid_, hole + batch::kHeaderAt, &header, sizeof header))
      throw ptrace_error(tid_, "write the memory of");
    batch_area_ = hole;
  };
  try {
    run_call(r, SYS_mmap);
  } catch (const RemoteSyscallError&) {
    if (last_result_ == long(hole)) install();
    throw;
  }
  if (last_result_ != long(hole)) return false;  // refused (or elsewhere, which MAP_FIXED_NOREPLACE never does)
  install();
  batch_refused_ = false;
  return true;
}

std::vector<long> RemoteSyscall::call_batch(const std::vector<Call>& calls) {
  if (!insn_) begin();
  std::vector<long> results;
  results.reserve(calls.size());
  if (calls.size() >= kBatchMin && prepare_batch()) {
    for (size_t at = 0; at < calls.size(); at += batch::kCapacity)
      run_batch(calls.data() + at, std::min(batch::kCapacity, calls.size() - at), results);
    return results;
  }
  for (const Call& c : calls)
    results.push_back(call(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5]));
  return results;
}

// Waits for the interrupt stop a PTRACE_INTERRUPT asked for. A stop for a
// signal that cannot be blocked (SIGSTOP) is kept aside and suppressed, as
// in resume_and_wait.
void RemoteSyscall::wait_interrupt_stop() {
  for (;;) {
    int status;
    pid_t w = waitpid(tid_, &status, __WALL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 || WIFEXITED(status) || WIFSIGNALED(status))
      throw RemoteSyscallError(who(tid_) + " exited during injected system calls");
    if (!WIFSTOPPED(status)) continue;
    if ((status >> 16) == PTRACE_EVENT_STOP && WSTOPSIG(status) == SIGTRAP) break;
    keep_signal(status);
    if (ptrace(PTRACE_CONT, tid_, nullptr, nullptr) != 0) throw ptrace_error(tid_, "resume");
  }
  at_ = Stop::Interrupt;
}

// Takes a thread running the batch code into an interrupt stop; false if
// it had already left the code by itself (ckpt was held up past the code's
// wait): it has then unmapped the area, closed the pidfd and returned
// through the safety frame, so it runs on as its own (forget_thread).
bool RemoteSyscall::stop_batch() {
  if (ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) != 0) throw ptrace_error(tid_, "interrupt");
  wait_interrupt_stop();
  UserRegs out;
  if (ptrace(PTRACE_GETREGS, tid_, nullptr, &out) != 0)
    throw ptrace_error(tid_, "read the registers of");
  if (out.rip >= batch_area_ && out.rip < batch_area_ + batch::kHeaderAt) return true;
  forget_thread();
  return false;
}

// The thread's registers, mask and stack are its own again and no longer
// ours to put back; what the batch code did not undo itself is left.
void RemoteSyscall::forget_thread() noexcept {
  dirty_ = false;
  frame_addr_ = 0;
  covered_.clear();
  batch_area_ = 0;
  scratch_ = 0;  // a mapped one is left to the process: its address may be in use again by now
  // A SIGSTOP kept aside meanwhile is the thread's again at once.
  for (const siginfo_t& info : intercepted_) syscall(SYS_tkill, tid_, info.si_signo);
  intercepted_.clear();
}

void RemoteSyscall::run_batch(const Call* calls, size_t n, std::vector<long>& results) {
  std::vector<batch::Entry> table(n);
  for (size_t i = 0; i < n; ++i) {
    table[i].nr = calls[i].nr;
    for (int a = 0; a < 6; ++a) table[i].args[a] = calls[i].args[a];
    table[i].result = batch::kNotRun;
  }
  const uint64_t header_at = batch_area_ + batch::kHeaderAt, table_at = batch_area_ + batch::kTableAt;
  // done = 0 and the wait (which ppoll counts down); the pidfd stays.
  const int64_t wait_sec = dumper_pid_ ? kWaitWithPidfd : kWaitWithout;
  const uint64_t not_done = 0;
  const int64_t wait[2] = {wait_sec, 0};
  if (!write_remote(tid_, table_at, table.data(), n * sizeof(batch::Entry)) ||
      !write_remote(tid_, header_at, &not_done, 8) || !write_remote(tid_, header_at + batch::kHeaderWait, wait, sizeof wait))
    throw ptrace_error(tid_, "write the injected calls into");
  UserRegs r = saved_;
  r.rip = batch_area_;
  r.rsp = frame_addr_;
  r.orig_rax = uint64_t(-1);
  r.rax = 0;
  r.rbx = table_at, r.r12 = n, r.r13 = header_at;
  r.r14 = site_.syscall_ret, r.r15 = batch_area_, r.rbp = batch::kAreaSize;
  fault_point("inject: before setting the registers");
  dirty_ = true;
  if (ptrace(PTRACE_SETREGS, tid_, nullptr, &r) != 0)
    throw ptrace_error(tid_, "set the registers of");
  block_signals();
  fault_point("inject: batch set up");
  if (ptrace(PTRACE_CONT, tid_, nullptr, nullptr) != 0) throw ptrace_error(tid_, "resume");
  at_ = Stop::Running;
  // The thread runs the calls on its own; it is watched for the done word
  // and for stops (an unblockable SIGSTOP, its death).
  const auto deadline = std::chrono::steady_clock::now() + kBatchDeadline;
  bool done = false;
  for (;;) {
    uint64_t word = 0;
    if (read_remote(tid_, header_at, &word, 8) && word == 1) {
      done = true;
      break;
    }
    int status;
    pid_t w = waitpid(tid_, &status, __WALL | WNOHANG);
    if (w == tid_) {
      if (WIFEXITED(status) || WIFSIGNALED(status))
        throw RemoteSyscallError(who(tid_) + " exited during injected system calls");
      if (WIFSTOPPED(status)) {
        keep_signal(status);
        if (ptrace(PTRACE_CONT, tid_, nullptr, nullptr) != 0) throw ptrace_error(tid_, "resume");
      }
    } else if (w < 0 && errno != EINTR) {
      throw RemoteSyscallError(who(tid_) + " exited during injected system calls");
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    sched_yield();
  }
  fault_point("inject: batch done");
  if (!stop_batch())
    throw RemoteSyscallError(who(tid_) + " ran on by itself during injected system calls: ckpt was held up for over " +
                             std::to_string(wait_sec) + " s");
  if (!done)
    throw RemoteSyscallError(who(tid_) + " did not finish its injected system calls within " +
                             std::to_string(std::chrono::seconds(kBatchDeadline).count()) + " s");
  if (!read_remote(tid_, table_at, table.data(), n * sizeof(batch::Entry)))
    throw ptrace_error(tid_, "read the memory of");
  for (const batch::Entry& e : table) {
    if (e.result == batch::kNotRun) throw RemoteSyscallError(who(tid_) + " did not run an injected system call");
    results.push_back(long(e.result));
  }
}

uint64_t RemoteSyscall::scratch() {
  if (!insn_) begin();
  if (!scratch_) {
    long r = call(SYS_mmap, 0, kScratchSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r < 0 && r > -4096) throw RemoteSyscallError("cannot map scratch memory in " + who(tid_));
    scratch_ = uint64_t(r);
  }
  return scratch_;
}

void RemoteSyscall::read(uint64_t addr, void* out, size_t len) const {
  if (!read_remote(tid_, addr, out, len))
    throw ptrace_error(tid_, "read the memory of");
}

RemoteSyscall::~RemoteSyscall() { finish(); }

// Unmaps the batch area the way a dying dumper would leave it to: the
// thread runs the code's tail (close the pidfd, munmap), watched through
// its syscall-stops up to the munmap's exit, from where the thread is
// taken back as after any call (or, should we vanish, goes on through
// `ret` into the safety frame).
void RemoteSyscall::run_tail() {
  const uint64_t header_at = batch_area_ + batch::kHeaderAt;
  int32_t pidfd = -1;
  if (!read_remote(tid_, header_at + batch::kHeaderPidfd, &pidfd, 4)) throw ptrace_error(tid_, "read the memory of");
  UserRegs r = saved_;
  r.rip = batch_area_ + batch::tail_offset();
  r.orig_rax = uint64_t(-1);
  r.r13 = header_at, r.r14 = site_.syscall_ret, r.r15 = batch_area_, r.rbp = batch::kAreaSize;
  if (ptrace(PTRACE_SETREGS, tid_, nullptr, &r) != 0) throw ptrace_error(tid_, "set the registers of");
  block_signals();
  fault_point("restore: batch tail set up", false);
  auto step = [&](long nr) {
    resume_and_wait(Stop::SyscallEnter);
    UserRegs out;
    if (ptrace(PTRACE_GETREGS, tid_, nullptr, &out) != 0) throw ptrace_error(tid_, "read the registers of");
    if (out.orig_rax != uint64_t(nr)) throw RemoteSyscallError(who(tid_) + " strayed from the batch code's tail");
    resume_and_wait(Stop::SyscallExit);
  };
  if (pidfd >= 0) step(SYS_close);
  step(SYS_munmap);
  batch_area_ = 0;
  fault_point("restore: batch area unmapped", false);
}

void RemoteSyscall::finish() noexcept {
  if (at_ == Stop::Running) {  // a failure while the batch code ran
    try {
      if (!stop_batch()) return;
    } catch (const std::exception&) {
      return;  // the thread is gone
    }
  }
  // Stopped at a call's entry (a failure in between): the call is
  // cancelled (orig_rax -1) and the thread taken to its exit stop.
  if (dirty_ && at_ == Stop::SyscallEnter) {
    UserRegs r;
    try {
      if (ptrace(PTRACE_GETREGS, tid_, nullptr, &r) == 0) {
        r.orig_rax = uint64_t(-1);
        if (ptrace(PTRACE_SETREGS, tid_, nullptr, &r) == 0) resume_and_wait(Stop::SyscallExit);
      }
    } catch (const std::exception&) {
      return;  // the thread is gone
    }
  }
  if (batch_area_) {
    try {
      run_tail();
    } catch (const std::exception&) {
      // Left where it is: let go, the thread runs the tail by itself.
      return;
    }
  }
  try {
    if (scratch_ && !scratch_on_stack_) call(SYS_munmap, long(scratch_), kScratchSize);
    fault_point("restore: scratch unmapped");
  } catch (const std::exception&) {
  }
  if (dirty_) {
    // Order matters should we vanish in between: while the registers are
    // the call's, the frame takes the thread back; once they are its own
    // (and the interrupt queued, which makes the way out run the kernel's
    // restart logic), the mask must already be its own too.
    fault_point("restore: before queueing the interrupt", false);
    if (ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) != 0) return;
    fault_point("restore: interrupt queued", false);
    if (ptrace(PTRACE_SETSIGMASK, tid_, reinterpret_cast<void*>(sizeof saved_mask_), &saved_mask_) != 0) return;
    fault_point("restore: signal mask put back", false);
    if (ptrace(PTRACE_SETREGS, tid_, nullptr, &saved_) != 0) return;
    fault_point("restore: registers put back", false);
  }
  if (frame_addr_) {
    write_remote(tid_, covered_at_, covered_.data(), covered_.size());
    fault_point("restore: stack bytes put back", false);
  }
  // Its filters apply again before it can run anything but the kernel's way
  // back to the interrupt stop.
  if (seccomp_suspended_ && ptrace(PTRACE_SETOPTIONS, tid_, nullptr, reinterpret_cast<void*>(PTRACE_O_TRACESYSGOOD)) == 0)
    seccomp_suspended_ = false;
  if (!dirty_) return;
  // Back to an interrupt stop, as before the first call: the queued
  // interrupt stops the thread inside the same signal handling, before it
  // runs an instruction; a call it was in restarts when it is let go.
  if (ptrace(PTRACE_CONT, tid_, nullptr, nullptr) != 0) return;
  for (;;) {
    int status;
    pid_t w = waitpid(tid_, &status, __WALL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 || !WIFSTOPPED(status)) return;
    if ((status >> 16) == PTRACE_EVENT_STOP) break;
    // The interrupt is handled before any signal is dequeued, so this is
    // not expected; should a signal stop come first, it is delivered as
    // the kernel would have.
    int sig = (status >> 16) == 0 && WSTOPSIG(status) != kSyscallStop ? WSTOPSIG(status) : 0;
    if (ptrace(PTRACE_CONT, tid_, nullptr, reinterpret_cast<void*>(intptr_t(sig))) != 0) return;
  }
  fault_point("restore: back in the interrupt stop", false);
  // Every blockable signal was blocked: what was taken meanwhile can only
  // be SIGSTOP, sent again now that the thread is its own (it stops the
  // process once it is let go).
  for (const siginfo_t& info : intercepted_) syscall(SYS_tkill, tid_, info.si_signo);
}

uint64_t find_syscall_instruction(const uint8_t* code, size_t size, uint64_t base) {
  for (size_t i = 0; i + 1 < size; ++i)
    if (code[i] == 0x0f && code[i + 1] == 0x05) return base + i;
  return 0;
}

uint64_t find_syscall_ret(const uint8_t* code, size_t size, uint64_t base) {
  for (size_t i = 0; i + sizeof kSyscallRet <= size; ++i)
    if (std::memcmp(code + i, kSyscallRet, sizeof kSyscallRet) == 0) return base + i;
  return 0;
}

}  // namespace ckpt::x86
