// PAGEMAP_SCAN (Linux 6.7+, uapi <linux/fs.h>): the ioctl on
// /proc/PID/pagemap that reports the regions of a range whose pages are in
// given categories, and can write-protect them in the same walk. Debian
// 12's headers (6.1) are older, so its ABI is spelled out here, once.
#pragma once

#include <sys/ioctl.h>

#include <cstdint>

namespace ckpt::x86 {

struct PmScanArg {  // struct pm_scan_arg
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct PageRegion {  // struct page_region
  uint64_t start, end, categories;
};
constexpr unsigned long kPagemapScan = _IOWR('f', 16, PmScanArg);

// Flags (pm_scan_arg.flags).
constexpr uint64_t kPmScanWpMatching = 1 << 0;    // PM_SCAN_WP_MATCHING: write-protect what matches
constexpr uint64_t kPmScanCheckWpAsync = 1 << 1;  // PM_SCAN_CHECK_WPASYNC

// Page categories.
constexpr uint64_t kPageIsWritten = 1 << 1;  // PAGE_IS_WRITTEN (async write-protect tracking)
constexpr uint64_t kPageIsPresent = 1 << 3;
constexpr uint64_t kPageIsSwapped = 1 << 4;
constexpr uint64_t kPageIsGuard = 1 << 8;  // PAGE_IS_GUARD, Linux 6.14+

}  // namespace ckpt::x86
