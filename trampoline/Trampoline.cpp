// The code that runs after the point of no return, from a copy placed in a
// hole of the address space that no saved VMA uses. Freestanding: no libc,
// no C++ runtime, no data needing relocation; only raw system calls. It
// unmaps the launcher, moves the staged areas and the vdso into place with
// mremap (no copying), restores process-wide kernel state, and resumes the
// saved thread through rt_sigreturn. Any failure is final: it says which
// step failed on stderr and exits with kExitAfterPointOfNoReturn.
#include <asm/prctl.h>
#include <asm/unistd.h>
#include <linux/mman.h>
#include <linux/fcntl.h>
#include <linux/prctl.h>

#include "trampoline/Plan.h"
#include "x86/Syscall.h"

using namespace ckpt::trampoline;
using namespace ckpt::x86;

namespace {

// Strings live in .rodata and are reached RIP-relative: no relocation.
[[noreturn]] __attribute__((noinline)) void die(const char* step, long err) {
  char buf[160];
  unsigned n = 0;
  const char* prefix = "restore: failed after the point of no return: ";
  for (const char* s = prefix; *s && n < 100; ++s) buf[n++] = *s;
  for (const char* s = step; *s && n < 140; ++s) buf[n++] = *s;
  const char* mid = " (errno ";
  for (const char* s = mid; *s; ++s) buf[n++] = *s;
  unsigned long e = static_cast<unsigned long>(-err);
  char digits[20];
  unsigned nd = 0;
  do {
    digits[nd++] = char('0' + e % 10);
    e /= 10;
  } while (e && nd < sizeof digits);
  while (nd) buf[n++] = digits[--nd];
  buf[n++] = ')';
  buf[n++] = '\n';
  syscall3(__NR_write, 2, reinterpret_cast<long>(buf), n);
  for (;;) syscall1(__NR_exit_group, kExitAfterPointOfNoReturn);
}

void check(long ret, const char* step) {
  if (ret < 0 && ret > -4096) die(step, ret);
}

}  // namespace

extern "C" [[noreturn]] __attribute__((section(".text.entry"), used)) void trampoline_entry(const Plan* plan) {
  if (plan->magic != kPlanMagic) die("plan is corrupt", -22);

  // 1. Unmap every launcher mapping: everything below unmap_end that is not kept.
  const Range* keep = plan_keeps(plan);
  uint64_t cursor = 0;
  for (uint32_t i = 0; i <= plan->keep_count; ++i) {
    uint64_t next = i < plan->keep_count ? keep[i].start : plan->unmap_end;
    if (next > cursor) check(syscall2(__NR_munmap, long(cursor), long(next - cursor)), "unmapping the launcher");
    if (i < plan->keep_count) cursor = keep[i].end;
  }

  // 2. Move vdso/vvar and every staged area onto its final address.
  const Move* moves = plan_moves(plan);
  for (uint32_t i = 0; i < plan->move_count; ++i) {
    long r = syscall5(__NR_mremap, long(moves[i].from), long(moves[i].len), long(moves[i].len),
                      MREMAP_MAYMOVE | MREMAP_FIXED, long(moves[i].to));
    if (r < 0 && r > -4096) die("moving a memory area into place", r);
  }

  // 3. Process-wide state.
  // Not fatal: the launcher checked what the kernel checks, and without it
  // the process still runs (with the launcher's brk and argument locations).
  if (plan->set_mm) syscall5(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, long(&plan->mm), sizeof(plan->mm), 0);
  // Descriptors: created by the launcher above every saved number, moved
  // onto their numbers here; everything else of the launcher's is closed.
  const FdMove* fds = plan_fd_moves(plan);
  for (uint32_t i = 0; i < plan->fd_move_count; ++i) {
    check(syscall3(__NR_dup3, fds[i].from, fds[i].to, fds[i].cloexec ? O_CLOEXEC : 0), "placing a file descriptor");
    syscall1(__NR_close, fds[i].from);
  }
  for (int32_t fd = 3; fd < plan->close_upto; ++fd) {
    bool target = false;
    for (uint32_t i = 0; i < plan->fd_move_count && !target; ++i) target = fds[i].to == fd;
    if (!target) syscall1(__NR_close, fd);
  }
  check(syscall3(__NR_close_range, plan->close_upto, ~0u, 0), "closing the launcher's files");
  const EpollAdd* adds = plan_epoll(plan);
  for (uint32_t i = 0; i < plan->epoll_count; ++i) {
    struct {
      uint32_t events;
      uint64_t data;
    } __attribute__((packed)) ev{adds[i].events, adds[i].data};  // struct epoll_event is packed on x86-64
    check(syscall4(__NR_epoll_ctl, adds[i].epfd, 1 /* EPOLL_CTL_ADD */, adds[i].fd, long(&ev)), "filling an epoll set");
  }
  if (plan->rseq_address) {
    check(syscall4(__NR_rseq, long(plan->rseq_address), plan->rseq_length, 0, plan->rseq_signature),
          "registering rseq");
  }
  // The LDT, then the selectors that refer to it, before any base is set:
  // loading a selector reloads its base from the descriptor.
  const LdtEntry* ldt = plan_ldt(plan);
  for (uint32_t i = 0; i < plan->ldt_count; ++i)
    check(int(syscall3(__NR_modify_ldt, 0x11, long(&ldt[i]), sizeof ldt[i])), "restoring an LDT entry");
  if (plan->ds) asm volatile("mov %0, %%ds" ::"r"(plan->ds));
  if (plan->es) asm volatile("mov %0, %%es" ::"r"(plan->es));
  if (plan->fs) asm volatile("mov %0, %%fs" ::"r"(plan->fs));
  if (plan->gs) asm volatile("mov %0, %%gs" ::"r"(plan->gs));

  // The launcher's glibc registered its own robust list and clear-child-tid
  // address; left in place, the kernel would write into the restored
  // process's memory at exit.
  check(syscall2(__NR_set_robust_list, long(plan->robust_list), long(plan->robust_list_len)), "set_robust_list");
  syscall1(__NR_set_tid_address, long(plan->clear_child_tid));
  // arch_prctl clears a selector as it sets the base; with a selector in
  // place only wrfsbase/wrgsbase keep both.
  if (!plan->fs) check(syscall2(__NR_arch_prctl, ARCH_SET_FS, long(plan->fs_base)), "setting the fs base");
  else if (plan->have_fsgsbase) asm volatile("wrfsbase %0" ::"r"(plan->fs_base));
  if (!plan->gs) check(syscall2(__NR_arch_prctl, ARCH_SET_GS, long(plan->gs_base)), "setting the gs base");
  else if (plan->have_fsgsbase) asm volatile("wrgsbase %0" ::"r"(plan->gs_base));

  // Signals last: every handler, then what was pending (all signals stay
  // blocked until rt_sigreturn installs the saved mask), then the timers.
  for (long sig = 1; sig <= 64; ++sig) {
    if (sig == 9 || sig == 19) continue;  // SIGKILL, SIGSTOP: fixed
    check(syscall4(__NR_rt_sigaction, sig, long(&plan->sigactions[sig - 1]), 0, 8), "restoring a signal handler");
  }
  const long pid = syscall0(__NR_getpid);
  const QueuedSignal* shared = plan_signals(plan, plan->shared_pending_offset);
  for (uint32_t i = 0; i < plan->shared_pending_count; ++i)
    check(syscall3(__NR_rt_sigqueueinfo, pid, *reinterpret_cast<const int*>(shared[i].info), long(shared[i].info)),
          "queueing a pending signal");
  const QueuedSignal* own = plan_signals(plan, plan->thread_pending_offset);
  for (uint32_t i = 0; i < plan->thread_pending_count; ++i)
    check(syscall4(__NR_rt_tgsigqueueinfo, pid, pid, *reinterpret_cast<const int*>(own[i].info), long(own[i].info)),
          "queueing a pending signal");
  for (long which = 0; which < 3; ++which)
    check(syscall3(__NR_setitimer, which, long(&plan->itimers[which]), 0), "restoring an interval timer");

  // 4. Resume: the kernel loads every register, the signal mask and the XSAVE state from the frame.
  if (plan->finish_gadget) {
    // munmap(home) runs from the process's own code, whose `ret` pops the
    // frame's pretcode: its own rt_sigreturn sequence. Nothing of ours is left.
    asm volatile("mov %0, %%rsp\n\t"
                 "jmp *%1"
                 :
                 : "r"(plan->resume_rsp - 8), "r"(plan->finish_gadget), "a"(long(__NR_munmap)),
                   "D"(plan->home_start), "S"(plan->home_length)
                 : "memory");
    __builtin_unreachable();
  }
  asm volatile("mov %0, %%rsp\n\t"
               "mov %1, %%eax\n\t"
               "syscall\n\t"
               "ud2"
               :
               : "r"(plan->resume_rsp), "i"(__NR_rt_sigreturn)
               : "memory");
  __builtin_unreachable();
}

// The compiler may emit calls to these for struct copies even when freestanding.
extern "C" void* memcpy(void* d, const void* s, unsigned long n) {
  auto dd = static_cast<char*>(d);
  auto ss = static_cast<const char*>(s);
  while (n--) *dd++ = *ss++;
  return d;
}
extern "C" void* memset(void* d, int c, unsigned long n) {
  auto dd = static_cast<char*>(d);
  while (n--) *dd++ = char(c);
  return d;
}
