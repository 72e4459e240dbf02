// Copies the target's saved pages into the image: for each VMA that takes
// pages, pagemap tells which pages exist (present or swapped; for private
// file mappings only those copied-on-write), all-zero anonymous pages are
// left out (fresh anonymous memory is zero), and the rest is read in large
// batches with process_vm_readv, or /proc/PID/mem where protections forbid it.
// The reading runs on a thread of its own, a batch ahead of the writing.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "dumper/DirtyPages.h"
#include "dumper/SharedPages.h"
#include "format/Image.h"
#include "format/ImageWriter.h"

namespace ckpt::dumper {

struct MemoryStats {
  uint64_t pages_saved = 0;
  uint64_t zero_pages_skipped = 0;
  uint64_t pages_inherited = 0;  // recorded as the parent's (SharedPages.h), not read
};

// `written` is called after each batch of pages has gone to the writer.
// `inherited` (a child member's, or nullptr): pages recorded as inherited
// chunks instead of being read, in address order with the others.
// `from_parent` (an incremental dump's, or nullptr): pages left out because
// they are the parent image's (DirtyPages.h).
MemoryStats dump_memory(pid_t pid, const std::vector<format::Vma>& vmas, format::ImageWriter& writer,
                        const std::function<void()>& written, const InheritedPages* inherited = nullptr,
                        const ParentPages* from_parent = nullptr);

// Reads `len` bytes at `addr` of `pid` (used for the vdso too).
void read_remote(pid_t pid, int mem_fd, uint64_t addr, void* out, size_t len);

}  // namespace ckpt::dumper
