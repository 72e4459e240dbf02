// Guard regions (madvise MADV_GUARD_INSTALL, Linux 6.13+): pages of a VMA
// that fault with SIGSEGV on any access without being a VMA of their own.
// They are found with the PAGEMAP_SCAN ioctl on /proc/PID/pagemap, whose
// PAGE_IS_GUARD category reports them, and recorded in each Vma's `guards`;
// their pages are never read (a read of one fails with EIO).
#pragma once

#include <sys/types.h>

#include <vector>

#include "format/Image.h"

namespace ckpt::dumper {

// Fills `guards` of every VMA of the stopped process `pid`. A kernel without
// PAGEMAP_SCAN or PAGE_IS_GUARD has no guard regions, so that is not an error.
void read_guard_regions(pid_t pid, std::vector<format::Vma>& vmas);

}  // namespace ckpt::dumper
