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
  int32_t close_from;  // close every fd >= this before resuming
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
};

inline const Range* plan_keeps(const Plan* p) {
  return reinterpret_cast<const Range*>(reinterpret_cast<const char*>(p) + p->keep_offset);
}
inline const Move* plan_moves(const Plan* p) {
  return reinterpret_cast<const Move*>(reinterpret_cast<const char*>(p) + p->move_offset);
}

// Exit status of `restore` when a step after the point of no return fails
// (the process cannot be put back; the message on stderr names the step).
inline constexpr int kExitAfterPointOfNoReturn = 120;

// The blob's entry point is at offset 0: void entry(const Plan*), called
// with rsp 16-byte aligned on a stack inside the home; it never returns.

}  // namespace ckpt::trampoline
