// PAGEMAP_SCAN (Linux 6.7+, uapi <linux/fs.h>): the ioctl on
// /proc/PID/pagemap that reports the regions of a range whose pages are in
// given categories, and can write-protect them in the same walk. Debian
// 12's headers (6.1) are older, so its ABI is spelled out here, once.
#pragma once

#include <sys/ioctl.h>

#include <cerrno>
#include <cstdint>
#include <iterator>

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

// Walks [start, end) of `pagemap` with the categories and flags of
// `query` (its size, range and vector are filled in here) and calls
// fn(region) for each region reported, in order; a region that a full
// vector cut short is reported again from where the walk stopped. False
// when the kernel has no PAGEMAP_SCAN, a call fails or does not advance
// (the range changed), or fn returns false.
template <class Fn>
bool scan_pages(int pagemap, uint64_t start, uint64_t end, const PmScanArg& query, Fn fn) {
  PageRegion vec[512];
  for (uint64_t at = start; at < end;) {
    PmScanArg a = query;
    a.size = sizeof a;
    a.start = at;
    a.end = end;
    a.vec = reinterpret_cast<uint64_t>(vec);
    a.vec_len = std::size(vec);
    long n = ioctl(pagemap, kPagemapScan, &a);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || a.walk_end <= at) return false;
    for (long i = 0; i < n; ++i)
      if (!fn(vec[i])) return false;
    at = a.walk_end;
  }
  return true;
}

}  // namespace ckpt::x86
