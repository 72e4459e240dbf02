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
#include <linux/sched.h>
#include <linux/ioctl.h>
#include <linux/userfaultfd.h>

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

void queue_signals(const Plan* plan, uint64_t offset, uint32_t count, long pid, long tid) {
  const QueuedSignal* q = plan_signals(plan, offset);
  for (uint32_t i = 0; i < count; ++i) {
    long sig = *reinterpret_cast<const int*>(q[i].info);
    check(tid ? syscall4(__NR_rt_tgsigqueueinfo, pid, tid, sig, long(q[i].info))
              : syscall3(__NR_rt_sigqueueinfo, pid, sig, long(q[i].info)),
          "queueing a pending signal");
  }
}

// Leaves the home for good. With the process's own code (finish_gadget) the
// last syscall runs from there: munmap of the home for the leader, close of
// its done fd for another thread, after which `ret` pops the frame's
// pretcode, the process's own rt_sigreturn sequence.
// Every argument register of these last calls is known (a, b, then zeros),
// so that restore can tell what a carried seccomp filter answers them.
[[noreturn]] __attribute__((noinline)) void resume(uint64_t rsp, uint64_t gadget, long nr, long a, long b) {
  register long r10 asm("r10") = 0;
  register long r8 asm("r8") = 0;
  register long r9 asm("r9") = 0;
  if (gadget) {
    asm volatile("mov %0, %%rsp\n\t"
                 "jmp *%1"
                 :
                 : "r"(rsp - 8), "r"(gadget), "a"(nr), "D"(a), "S"(b), "d"(0L), "r"(r10), "r"(r8), "r"(r9)
                 : "memory");
    __builtin_unreachable();
  }
  if (nr != __NR_munmap) syscall6(nr, a, b, 0, 0, 0, 0);  // a thread's done fd; the home stays in this mode
  asm volatile("mov %0, %%rsp\n\t"
               "mov %1, %%eax\n\t"
               "syscall\n\t"
               "ud2"
               :
               : "r"(rsp), "i"(__NR_rt_sigreturn), "D"(a), "S"(b), "d"(0L), "r"(r10), "r"(r8), "r"(r9)
               : "memory");
  __builtin_unreachable();
}

}  // namespace

// A thread other than the leader, from its clone onwards (see ThreadPlan).
extern "C" [[noreturn]] __attribute__((used, noinline)) void trampoline_thread(ThreadPlan* tp, const Plan* plan) {
  block_all_signals();  // inherited from the leader already; a thread never relies on that
  const long pid = syscall0(__NR_getpid), tid = syscall0(__NR_gettid);
  check(syscall2(__NR_set_robust_list, long(tp->robust_list), long(tp->robust_list_len)), "set_robust_list");
  syscall1(__NR_set_tid_address, long(tp->clear_child_tid));
  if (tp->rseq_address)
    check(syscall4(__NR_rseq, long(tp->rseq_address), tp->rseq_length, 0, tp->rseq_signature), "registering rseq");
  check(syscall2(__NR_arch_prctl, ARCH_SET_GS, long(tp->gs_base)), "setting the gs base");
  syscall2(__NR_prctl, PR_SET_NAME, long(tp->comm));
  queue_signals(plan, tp->pending_offset, tp->pending_count, pid, tid);
  while (!plan->go) syscall6(__NR_futex, long(&plan->go), 0 /* FUTEX_WAIT */, 0, 0, 0, 0);
  resume(tp->resume_rsp, plan->finish_gadget, __NR_close, tp->done_fd, 0);
}

namespace {

// clone() onto `stack_top`, or with `want_tid` clone3 asking for that id
// (set_tid); the child calls trampoline_thread(tp, plan) and never comes
// back here (its registers, not this frame, carry on).
long spawn_thread(unsigned long flags, uint64_t stack_top, uint64_t child_tid, uint64_t tls, int32_t want_tid,
                  ThreadPlan* tp, const Plan* plan) {
  // clone3's struct clone_args: flags, pidfd, child_tid, parent_tid,
  // exit_signal, stack, stack_size, tls, set_tid, set_tid_size. The child
  // starts with rsp = stack + stack_size, as clone() would with stack_top.
  const int32_t tid_wanted = want_tid;
  const uint64_t args[10] = {flags, 0, child_tid, 0, 0, stack_top - 4096, 4096, tls, uint64_t(&tid_wanted), 1};
  // clone(flags, stack_top, parent_tid 0, child_tid, tls), or
  // clone3(&args, sizeof args), which ignores rdx, r10 and r8.
  const long nr = want_tid ? __NR_clone3 : __NR_clone;
  const long a1 = want_tid ? reinterpret_cast<long>(args) : long(flags);
  const long a2 = want_tid ? long(sizeof args) : long(stack_top);
  register long r10 asm("r10") = long(child_tid);
  register long r8 asm("r8") = long(tls);
  register long r12 asm("r12") = long(tp);
  register long r13 asm("r13") = long(plan);
  long ret;
  asm volatile("syscall\n\t"
               "test %%rax, %%rax\n\t"
               "jnz 1f\n\t"
               "xor %%ebp, %%ebp\n\t"
               "mov %%r12, %%rdi\n\t"
               "mov %%r13, %%rsi\n\t"
               "call trampoline_thread\n\t"
               "ud2\n"
               "1:"
               : "=a"(ret)
               : "a"(nr), "D"(a1), "S"(a2), "d"(0L), "r"(r10), "r"(r8), "r"(r12), "r"(r13)
               : "rcx", "r11", "memory");
  return ret;
}

// The POSIX timers, with their ids, signalling the threads as they were
// (the leader is this process; the others have their new ids by now).
// Created while nothing but this code runs, armed last: a timer that fires
// before rt_sigreturn only leaves its signal pending, since every signal
// is blocked until then.
void restore_timers(const Plan* plan) {
  if (!plan->timer_count) return;
  constexpr long kRestoreIds = 77;  // PR_TIMER_CREATE_RESTORE_IDS: timer_create takes the id from *created_timer_id
  const TimerPlan* timers = plan_timers(plan);
  const ThreadPlan* threads = plan_threads(plan);
  const long pid = syscall0(__NR_getpid);
  check(syscall5(__NR_prctl, kRestoreIds, 1, 0, 0, 0), "asking for given POSIX timer ids");
  for (uint32_t i = 0; i < plan->timer_count; ++i) {
    const TimerPlan& t = timers[i];
    struct {
      uint64_t value;
      int32_t signo, notify, tid;
      int32_t pad[11];
    } ev{};  // the kernel's struct sigevent, 64 bytes
    ev.value = t.sigev_value;
    ev.signo = t.signo;
    ev.notify = t.notify;
    ev.tid = t.target < 0 ? 0 : t.target == 0 ? int32_t(pid) : threads[t.target - 1].new_tid;
    int32_t id = t.id;
    check(syscall3(__NR_timer_create, t.clock, long(&ev), long(&id)), "creating a POSIX timer");
    if (id != t.id) die("creating a POSIX timer with its id", -16 /* EBUSY */);
  }
  check(syscall5(__NR_prctl, kRestoreIds, 0, 0, 0, 0), "asking for given POSIX timer ids");
  for (uint32_t i = 0; i < plan->timer_count; ++i)
    if (timers[i].value_sec || timers[i].value_nsec)
      check(syscall4(__NR_timer_settime, timers[i].id, 0, long(&timers[i].interval_sec), 0), "arming a POSIX timer");
}

// The tree's resume barrier (Plan::tree_*): every member of a restored tree
// runs program code only once all are ready to, and none does if one ended
// on the way. A member closes its arrive end as soon as it has written, so
// that the root's read sees EOF, not a wait without end, once every member
// yet to arrive is gone. The root then says so; a member whose root is gone
// ends without a word, the root or the member that failed having said why.
void tree_barrier(const Plan* plan) {
  if (!plan->tree_member) return;
  char byte = 'r';
  long r;
  if (plan->tree_root) {
    for (uint32_t got = 0; got < plan->tree_wait_count;) {
      r = syscall3(__NR_read, plan->tree_arrive_fd, long(&byte), 1);
      if (r == -4) continue;  // EINTR
      if (r <= 0) die("waiting for the other members of the tree (one ended before it could resume)",
                      r < 0 ? r : -32 /* EPIPE */);
      ++got;
    }
    syscall1(__NR_close, plan->tree_arrive_fd);
    for (uint32_t i = 0; i < plan->tree_wait_count;) {
      r = syscall3(__NR_write, plan->tree_resume_fd, long(&byte), 1);
      if (r == -4) continue;
      check(r, "letting the tree resume");
      ++i;
    }
    syscall1(__NR_close, plan->tree_resume_fd);
    return;
  }
  do r = syscall3(__NR_write, plan->tree_arrive_fd, long(&byte), 1);
  while (r == -4);
  syscall1(__NR_close, plan->tree_arrive_fd);
  if (r == 1) {
    do r = syscall3(__NR_read, plan->tree_resume_fd, long(&byte), 1);
    while (r == -4);
  }
  // Every signal is blocked here: a write to a root that is gone is EPIPE, not a death by SIGPIPE.
  if (r != 1) for (;;) syscall1(__NR_exit_group, kExitAfterPointOfNoReturn);
  syscall1(__NR_close, plan->tree_resume_fd);
}

// Creates every other thread, lets them go together, and waits until each
// has left the home: its done fd, one of a pipe's write ends, is closed by
// its last syscall, so the read end sees EOF when all are gone.
void spawn_threads(const Plan* plan) {
  ThreadPlan* threads = plan_threads(plan);
  int p[2];
  check(syscall2(__NR_pipe2, long(p), O_CLOEXEC), "creating the thread rendezvous");
  const int rfd = int(syscall3(__NR_fcntl, p[0], F_DUPFD_CLOEXEC, plan->sync_fd_base));
  check(rfd, "placing the thread rendezvous");
  for (uint32_t i = 0; i < plan->thread_count; ++i) {
    threads[i].done_fd = int(syscall3(__NR_fcntl, p[1], F_DUPFD_CLOEXEC, plan->sync_fd_base));
    check(threads[i].done_fd, "placing the thread rendezvous");
  }
  syscall1(__NR_close, p[0]);
  syscall1(__NR_close, p[1]);
  const unsigned long base_flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                                   CLONE_SYSVSEM | CLONE_SETTLS;
  for (uint32_t i = 0; i < plan->thread_count; ++i) {
    ThreadPlan* tp = &threads[i];
    unsigned long flags = base_flags | (tp->cached_tid ? CLONE_CHILD_SETTID : 0);
    long tid = spawn_thread(flags, tp->stack_top, tp->cached_tid, tp->fs_base, tp->want_tid, tp, plan);
    check(tid, "creating a thread");
    tp->new_tid = int32_t(tid);
  }
  restore_timers(plan);
  tree_barrier(plan);
  const_cast<Plan*>(plan)->go = 1;
  syscall6(__NR_futex, long(&plan->go), 1 /* FUTEX_WAKE */, 0x7fffffff, 0, 0, 0);
  char byte;
  while (syscall3(__NR_read, rfd, long(&byte), 1) != 0) {
  }
  syscall1(__NR_close, rfd);
}

}  // namespace

extern "C" [[noreturn]] __attribute__((section(".text.entry"), used)) void trampoline_entry(const Plan* plan) {
  // The launcher blocked every signal (all 64 bits) before jumping here;
  // blocked again so that nothing queued below can be handled before
  // rt_sigreturn installs the saved mask, whoever entered.
  block_all_signals();
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

  // 2b. restore --lazy: the areas whose pages the server fills on first
  // touch are registered now that they are at their final addresses (a
  // move drops a registration), then the server is told to start. Its fds
  // are closed before the descriptors are placed, since their numbers may
  // be anybody's.
  if (plan->uffd >= 0) {
    const Range* lazy = plan_lazy(plan);
    for (uint32_t i = 0; i < plan->lazy_count; ++i) {
      uffdio_register reg{};
      reg.range.start = lazy[i].start;
      reg.range.len = lazy[i].end - lazy[i].start;
      reg.mode = UFFDIO_REGISTER_MODE_MISSING;
      check(syscall3(__NR_ioctl, plan->uffd, long(UFFDIO_REGISTER), long(&reg)), "registering a lazy memory area");
    }
    const char go = 'g';
    check(syscall3(__NR_write, plan->lazy_go_fd, long(&go), 1), "starting the lazy page server");
    syscall1(__NR_close, plan->lazy_go_fd);
    syscall1(__NR_close, plan->uffd);
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
  // The moves are sorted by target: every gap between targets is closed,
  // in one pass (a scan of the moves per number would be quadratic).
  long next_open = plan->close_from;
  for (uint32_t i = 0; i < plan->fd_move_count; ++i) {
    if (fds[i].to > next_open)
      check(syscall3(__NR_close_range, next_open, fds[i].to - 1, 0), "closing the launcher's files");
    if (fds[i].to + 1 > next_open) next_open = fds[i].to + 1;
  }
  if (plan->tree_member) {  // the tree's two barrier fds stay (above every target), nothing else
    const long lo = plan->tree_arrive_fd < plan->tree_resume_fd ? plan->tree_arrive_fd : plan->tree_resume_fd;
    const long keeps[2] = {lo, lo == plan->tree_arrive_fd ? plan->tree_resume_fd : plan->tree_arrive_fd};
    for (long keep : keeps) {
      if (keep > next_open) check(syscall3(__NR_close_range, next_open, keep - 1, 0), "closing the launcher's files");
      if (keep + 1 > next_open) next_open = keep + 1;
    }
  }
  check(syscall3(__NR_close_range, next_open, ~0u, 0), "closing the launcher's files");
  // Waits rather than fails: someone could only have taken such a range in
  // the moment between the launcher's placeholder lock closing and this.
  const PosixLock* locks = plan_posix_locks(plan);
  for (uint32_t i = 0; i < plan->posix_lock_count; ++i) {
    struct flock fl{};
    fl.l_type = locks[i].type;
    fl.l_whence = 0;  // SEEK_SET
    fl.l_start = locks[i].start;
    fl.l_len = locks[i].length;
    long r;
    do r = syscall3(__NR_fcntl, locks[i].fd, F_SETLKW, long(&fl));
    while (r == -4 /* EINTR */);
    check(r, "taking a POSIX file lock");
  }
  const FdFixup* fixups = plan_fd_fixups(plan);
  for (uint32_t i = 0; i < plan->fd_fixup_count; ++i) {
    if (fixups[i].op == kFixupTcpRepairOff) {
      // The connection goes live here, after the last step that could fail
      // quietly; SO_REUSEADDR after, since leaving repair mode clears it.
      int off = 0 /* TCP_REPAIR_OFF */, reuse = fixups[i].arg;
      check(syscall5(__NR_setsockopt, fixups[i].fd, 6 /* IPPROTO_TCP */, 19 /* TCP_REPAIR */, long(&off), sizeof off),
            "taking a TCP connection out of repair mode");
      check(syscall5(__NR_setsockopt, fixups[i].fd, 1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, long(&reuse), sizeof reuse),
            "setting SO_REUSEADDR on a TCP connection");
      // A window update that came while it was in repair mode sent nothing,
      // and outside ESTABLISHED leaving repair mode sends no probe: push
      // what is queued (uncorking a connection that is not corked).
      int uncork = 0;
      if (fixups[i].pad)
        check(syscall5(__NR_setsockopt, fixups[i].fd, 6 /* IPPROTO_TCP */, 3 /* TCP_CORK */, long(&uncork), sizeof uncork),
              "pushing a TCP connection's queued data");
    } else if (fixups[i].op == kFixupAsync) {
      long fl = syscall2(__NR_fcntl, fixups[i].fd, F_GETFL);
      check(fl, "reading a descriptor's flags");
      check(syscall3(__NR_fcntl, fixups[i].fd, F_SETFL, fl | FASYNC), "setting O_ASYNC");
    } else {
      // The launcher holds this lease already; re-issued only so that its
      // break signal names this fd. Not fatal: the lease itself is held.
      syscall3(__NR_fcntl, fixups[i].fd, 1024 /* F_SETLEASE */, fixups[i].arg);
    }
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
  // blocked until rt_sigreturn installs the saved mask: block_all_signals
  // at entry), then the timers.
  for (long sig = 1; sig <= 64; ++sig) {
    if (sig == 9 || sig == 19) continue;  // SIGKILL, SIGSTOP: fixed
    check(syscall4(__NR_rt_sigaction, sig, long(&plan->sigactions[sig - 1]), 0, 8), "restoring a signal handler");
  }
  const long pid = syscall0(__NR_getpid);
  queue_signals(plan, plan->shared_pending_offset, plan->shared_pending_count, pid, 0);
  queue_signals(plan, plan->thread_pending_offset, plan->thread_pending_count, pid, pid);
  for (long which = 0; which < 3; ++which)
    check(syscall3(__NR_setitimer, which, long(&plan->itimers[which]), 0), "restoring an interval timer");

  // 4. The other threads, all at once, once everything they share is in
  // place; the POSIX timers once the threads they signal exist.
  if (plan->thread_count) {
    spawn_threads(plan);
  } else {
    restore_timers(plan);
    tree_barrier(plan);
  }

  // Memory-deny-write-execute once every area is in place with its own
  // protection (it would refuse the steps that made them executable).
  if (plan->mdwe) check(syscall5(__NR_prctl, 65 /* PR_SET_MDWE */, plan->mdwe, 0, 0, 0), "setting memory-deny-write-execute");

  // Resource limits last: the saved ones may be below what the steps above needed.
  for (long r = 0; r < 16; ++r)
    if (plan->rlimit_mask & (1u << r))
      check(syscall4(__NR_prlimit64, 0, r, long(&plan->rlimits[r]), 0), "setting a resource limit");

  // Seccomp filters after every other step, the threads' included (each has
  // left the home but for its rt_sigreturn), all threads at once (TSYNC:
  // none has a filter of its own yet). restore checked that the calls left
  // (the next attachments, the munmap and close below and rt_sigreturn)
  // pass them, and that the kernel takes them (restorer/Seccomp.h).
  for (uint32_t i = 0; i < plan->seccomp_count; ++i) {
    const SeccompPlan* s = plan_seccomp(plan) + i;
    const long r = syscall6(317 /* __NR_seccomp */, 1 /* SECCOMP_SET_MODE_FILTER */,
                            long(s->flags) | (plan->thread_count ? 1 /* SECCOMP_FILTER_FLAG_TSYNC */ : 0), long(s), 0,
                            0, 0);
    check(r > 0 ? -16 /* EBUSY: a thread (id r) could not take it */ : r, "attaching a seccomp filter");
  }

  // 5. Resume: the kernel loads every register, the signal mask and the
  // XSAVE state from the frame. With the process's own code, munmap(home)
  // runs from there and nothing of ours is left.
  resume(plan->resume_rsp, plan->finish_gadget, __NR_munmap, long(plan->home_start), long(plan->home_length));
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
