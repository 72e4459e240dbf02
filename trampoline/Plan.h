// The contract between the restorer (which builds a Plan before the point of
// no return) and the trampoline (which carries it out after). A Plan is one
// position-independent block: arrays are addressed by offsets from the Plan
// itself, never by pointers into the launcher's memory, which is gone by
// the time they are read.
#pragma once

#include <cstdint>

namespace ckpt::trampoline {

inline constexpr uint64_t kPlanMagic = 0x4e414c5054504b43ull;  // "CKPTPLAN"

struct Range {
  uint64_t start, end;
};

// mremap(from, len) -> to, done in order.
struct Move {
  uint64_t from, to, len;
};

// One carried seccomp filter: seccomp(SECCOMP_SET_MODE_FILTER, flags, this),
// its first 16 bytes being the struct sock_fprog the call takes (the length,
// then the absolute address of the instructions, which follow in the plan).
struct SeccompPlan {
  uint16_t len;
  uint16_t pad[3];
  uint64_t filter;
  uint32_t flags;
  uint32_t pad2;
};

// The kernel's struct sigaction for rt_sigaction on x86-64.
struct KernelSigaction {
  uint64_t handler, flags, restorer, mask;
};

struct Itimerval {
  int64_t interval_sec, interval_usec, value_sec, value_usec;
};

// struct user_desc, for modify_ldt(0x11).
struct LdtEntry {
  uint32_t entry_number, base_addr, limit, flags;
};

// A signal to queue again: a 128-byte siginfo, its first int the signal.
struct QueuedSignal {
  uint8_t info[128];
};

// dup3(from, to, cloexec ? O_CLOEXEC : 0), then `from` is closed.
struct FdMove {
  int32_t from, to;
  uint32_t cloexec;
};

// fcntl(fd, F_SETLKW, {type, SEEK_SET, start, length}): a POSIX record
// lock, which belongs to the process and which closing *any* fd of its file
// drops, so it is taken only once every fd has its number and every other
// fd is closed. (The launcher held an OFD lock on the same range until
// then, so nobody else could take it; see restorer/Locks.h.)
// What the kernel ties to an fd *number* and so is set only once each fd
// has its number: O_ASYNC (its SIGIO carries the number in si_fd) and a
// lease (its break signal does too). F_SETFL / F_SETLEASE on `fd`.
// kFixupTcpRepairOff: a TCP connection the launcher rebuilt in repair mode
// leaves it (TCP_REPAIR off, which sends a window probe), then gets its
// SO_REUSEADDR (`arg`), which leaving repair mode clears.
enum FdFixupOp : uint32_t { kFixupAsync = 1, kFixupLease = 2, kFixupTcpRepairOff = 3 };
struct FdFixup {
  int32_t fd;
  uint32_t op;
  int32_t arg;  // kFixupLease: F_RDLCK or F_WRLCK (the lease the launcher already took, re-issued here); kFixupTcpRepairOff: SO_REUSEADDR
  uint32_t pad;  // kFixupTcpRepairOff: 1 to push what is queued (TCP_CORK 0: the connection was not corked)
};

struct PosixLock {
  int32_t fd;
  int16_t type;  // F_RDLCK 0, F_WRLCK 1
  int16_t pad;
  int64_t start, length;
};

// What a thread other than the leader restores for itself. The leader
// clones it at the very end; it sets its own state, waits until the leader
// says go (so no thread runs program code before all exist), and resumes.
struct ThreadPlan {
  uint64_t resume_rsp;  // as Plan::resume_rsp, for this thread's own frame
  uint64_t fs_base, gs_base;
  uint64_t robust_list, robust_list_len, clear_child_tid;
  uint64_t cached_tid;  // where the kernel writes the new tid (CLONE_CHILD_SETTID); 0: nowhere
  uint64_t rseq_address;
  uint32_t rseq_length, rseq_signature;
  uint64_t pending_offset;  // QueuedSignal[], from the Plan
  uint32_t pending_count;
  int32_t done_fd;      // closed once the thread has left the home (filled by the trampoline)
  uint64_t stack_top;   // its stack while it runs trampoline code
  char comm[16];
  int32_t new_tid;      // its id once cloned (filled by the trampoline), for timers that signal it
  int32_t want_tid;     // restore --pid-ns: its saved id, asked of clone3 set_tid; 0: any id (clone)
};

// A POSIX timer: timer_create(clock, {sigev_value, signo, notify, tid},
// &id) with the id asked for (PR_TIMER_CREATE_RESTORE_IDS), then, when
// value is not zero, timer_settime(id, 0, {interval, value}) (relative).
struct TimerPlan {
  int32_t id, clock, signo, notify;
  uint64_t sigev_value;
  int32_t target;  // SIGEV_THREAD_ID: 0 the leader, i > 0 ThreadPlan i-1; -1: none
  int32_t pad;
  int64_t interval_sec, interval_nsec, value_sec, value_nsec;  // struct itimerspec
};

// struct rlimit64, for prlimit64.
struct Rlimit {
  uint64_t cur, max;
};

// prctl(PR_SET_MM, PR_SET_MM_MAP) argument (struct prctl_mm_map).
struct MmMap {
  uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
  uint64_t arg_start, arg_end, env_start, env_end;
  uint64_t auxv;  // address of the auxv copy inside the home (absolute, filled by the launcher)
  uint32_t auxv_size;
  uint32_t exe_fd;
};
static_assert(sizeof(MmMap) == 104);

struct Plan {
  uint64_t magic;
  uint64_t total_size;  // bytes of Plan plus its arrays
  // Everything outside these ranges (sorted, disjoint) below `unmap_end` is unmapped first.
  uint64_t keep_offset;
  uint32_t keep_count;
  uint32_t move_count;
  uint64_t move_offset;
  uint64_t unmap_end;
  // Process state.
  uint32_t set_mm;  // 1: prctl(PR_SET_MM_MAP) with `mm`
  // Descriptors: each move is done, then every fd >= 3 that is not a move's
  // target is closed, then the POSIX locks are taken.
  int32_t close_upto;  // no launcher fd is at or above this, except those close_range takes
  uint32_t fd_move_count, posix_lock_count;
  uint64_t fd_move_offset, posix_lock_offset;
  MmMap mm;
  uint64_t rseq_address;
  uint32_t rseq_length;
  uint32_t rseq_signature;
  uint64_t fs_base, gs_base;
  uint64_t robust_list, robust_list_len;
  uint64_t clear_child_tid;
  // The thread resumes through rt_sigreturn with rsp = resume_rsp, issued
  // from the trampoline (finish_gadget == 0), or, leaving no trace, through
  // the process's own "syscall; ret" at finish_gadget: rsp = resume_rsp - 8
  // (the frame's pretcode slot, holding the address of its own
  // "mov $15, %rax; syscall"), rax = munmap, rdi/rsi = the home.
  uint64_t resume_rsp;
  uint64_t finish_gadget;
  uint64_t home_start, home_length;
  // Signals: every disposition but SIGKILL's and SIGSTOP's, then pending
  // signals queued again (process-wide, then for the thread), then timers.
  KernelSigaction sigactions[64];
  uint64_t shared_pending_offset, thread_pending_offset;
  uint32_t shared_pending_count, thread_pending_count;
  Itimerval itimers[3];
  // LDT entries, then the selectors loaded again (0: leave as is).
  uint64_t ldt_offset;
  uint32_t ldt_count;
  uint16_t ds, es, fs, gs;
  uint32_t have_fsgsbase;  // wrfsbase/wrgsbase usable: set a base without dropping a selector
  // Threads other than the leader, and their rendezvous.
  uint64_t thread_offset;  // ThreadPlan[]
  uint32_t thread_count;
  volatile uint32_t go;    // futex: 0 until every thread exists
  int32_t sync_fd_base;    // the threads' done-pipe fds go at and above this number
  // restore --lazy: once every area is in place, each lazy range (Range[],
  // from the Plan) is registered with the userfaultfd `uffd` for missing
  // pages, one byte is written to `lazy_go_fd` to wake the page server, and
  // both fds are closed (the server holds its own). uffd < 0: not lazy.
  int32_t uffd;
  int32_t lazy_go_fd;
  uint32_t lazy_count;
  uint32_t pad;
  uint64_t lazy_offset;
  // After the POSIX locks: O_ASYNC set and leases re-issued (FdFixup[]).
  uint64_t fd_fixup_offset;
  uint32_t fd_fixup_count;
  uint32_t pad2;
  // Resource limits, set last, once the fds are placed, the signals queued
  // and the threads created (a saved RLIMIT_NOFILE below a saved fd number,
  // or a saved RLIMIT_SIGPENDING or RLIMIT_NPROC, would make those fail):
  // prlimit64(0, r, &rlimits[r]) for each bit r of rlimit_mask, values the
  // launcher tried on a child of its own first.
  uint32_t rlimit_mask;
  uint32_t pad3;
  Rlimit rlimits[16];
  // POSIX timers (TimerPlan[]), created once every thread exists, before
  // any of them runs program code; armed last.
  uint64_t timer_offset;
  uint32_t timer_count;
  uint32_t pad4;
  // Process trees (docs/architecture.md, "Process trees"). fds below
  // close_from that are not a move's target stay open: 3 for the root
  // (fds 0-2 are restore's own), 0 for any other member. With tree_member
  // set, tree_arrive_fd and tree_resume_fd (above every move's target) are
  // the tree's resume barrier, the only fds kept through the closing of
  // everything else. Right before the program may run (before the other
  // threads go), a member writes one byte to tree_arrive_fd, closes it, and
  // waits for one on tree_resume_fd; the root reads tree_wait_count bytes
  // from tree_arrive_fd (one per other live member), then writes as many to
  // tree_resume_fd. EOF on arrive (every member that has not arrived is
  // gone): the root fails with exit 120, and with it the restore. EOF on
  // resume (the root is gone): the member ends quietly with exit 120.
  int32_t close_from;
  uint32_t tree_member;
  int32_t tree_arrive_fd, tree_resume_fd;
  uint32_t tree_wait_count;
  uint32_t tree_root;  // 1: this is the root (it waits and releases); 0: a member (it announces and waits)
  // prctl(PR_SET_MDWE, mdwe) once nothing more is mapped (0: not set).
  uint32_t mdwe;
  // The carried seccomp filters (SeccompPlan[], oldest first), attached
  // last of all by the leader, for every thread at once.
  uint32_t seccomp_count;
  uint64_t seccomp_offset;
};

inline const Range* plan_keeps(const Plan* p) {
  return reinterpret_cast<const Range*>(reinterpret_cast<const char*>(p) + p->keep_offset);
}
inline const Move* plan_moves(const Plan* p) {
  return reinterpret_cast<const Move*>(reinterpret_cast<const char*>(p) + p->move_offset);
}
inline const Range* plan_lazy(const Plan* p) {
  return reinterpret_cast<const Range*>(reinterpret_cast<const char*>(p) + p->lazy_offset);
}
inline const FdMove* plan_fd_moves(const Plan* p) {
  return reinterpret_cast<const FdMove*>(reinterpret_cast<const char*>(p) + p->fd_move_offset);
}
inline const FdFixup* plan_fd_fixups(const Plan* p) {
  return reinterpret_cast<const FdFixup*>(reinterpret_cast<const char*>(p) + p->fd_fixup_offset);
}
inline const PosixLock* plan_posix_locks(const Plan* p) {
  return reinterpret_cast<const PosixLock*>(reinterpret_cast<const char*>(p) + p->posix_lock_offset);
}
inline ThreadPlan* plan_threads(const Plan* p) {
  return reinterpret_cast<ThreadPlan*>(const_cast<char*>(reinterpret_cast<const char*>(p)) + p->thread_offset);
}
inline const TimerPlan* plan_timers(const Plan* p) {
  return reinterpret_cast<const TimerPlan*>(reinterpret_cast<const char*>(p) + p->timer_offset);
}
inline const LdtEntry* plan_ldt(const Plan* p) {
  return reinterpret_cast<const LdtEntry*>(reinterpret_cast<const char*>(p) + p->ldt_offset);
}
inline const SeccompPlan* plan_seccomp(const Plan* p) {
  return reinterpret_cast<const SeccompPlan*>(reinterpret_cast<const char*>(p) + p->seccomp_offset);
}
inline const QueuedSignal* plan_signals(const Plan* p, uint64_t offset) {
  return reinterpret_cast<const QueuedSignal*>(reinterpret_cast<const char*>(p) + offset);
}

// Exit status of `restore` when a step after the point of no return fails
// (the process cannot be put back; the message on stderr names the step).
inline constexpr int kExitAfterPointOfNoReturn = 120;

// The blob's entry point is at offset 0: void entry(const Plan*), called
// with rsp 16-byte aligned on a stack inside the home; it never returns.

}  // namespace ckpt::trampoline
