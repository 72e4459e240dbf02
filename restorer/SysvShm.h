// System V shared memory at restore: each saved segment is created again
// with its key, its id (through /proc/sys/kernel/shm_next_id), mode, owner,
// size and contents, then attached at each of its attachments' staged
// addresses (shmat SHM_REMAP; the trampoline's mremap carries them to their
// final place). Segments that were marked for removal (IPC_RMID) while
// attached are marked again once attached. Everything happens before the
// point of no return; segments created by a restore that then fails are
// removed again.
#pragma once

#include <cstdint>
#include <map>

#include "format/Image.h"

namespace ckpt::restorer {

// Phase 1, no side effects: each key is free (no segment has it) and each
// id is unused, and this process can choose ids. Throws RestoreError naming
// the key or id.
void check_sysv_shm(const format::Image& image);

// The segments created for one restore; removed on destruction unless
// release() was called (the point of no return).
class SysvSegments {
 public:
  SysvSegments() = default;
  SysvSegments(const SysvSegments&) = delete;
  SysvSegments& operator=(const SysvSegments&) = delete;
  SysvSegments(SysvSegments&& o) noexcept : ids_(std::move(o.ids_)) { o.ids_.clear(); }
  ~SysvSegments();
  // shmat of the segment behind a sysv-shm VMA at `at` (replacing what is there), with the VMA's protection.
  void attach(const format::Vma& v, uint64_t at) const;
  // IPC_RMID of the segments saved as marked for removal; call once every attachment is staged.
  void mark_removed(const format::Image& image) const;
  void release() { ids_.clear(); }

 private:
  friend SysvSegments create_sysv_shm(const format::Image& image);
  std::map<int32_t, int32_t> ids_;  // saved id -> created id (the same)
};

SysvSegments create_sysv_shm(const format::Image& image);

}  // namespace ckpt::restorer
