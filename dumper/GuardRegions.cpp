// Guard regions found with PAGEMAP_SCAN (see GuardRegions.h).
#include "dumper/GuardRegions.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"
#include "format/Hex.h"
#include "format/Limits.h"
#include "x86/PagemapScan.h"

namespace ckpt::dumper {

namespace {

using x86::PmScanArg;
using x86::PageRegion;
using x86::kPagemapScan;
using x86::kPageIsGuard;

}  // namespace

void read_guard_regions(pid_t pid, std::vector<format::Vma>& vmas) {
  const std::string path = "/proc/" + std::to_string(pid) + "/pagemap";
  ScopedFd pagemap(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (pagemap.get() < 0) throw DumpError("pid " + std::to_string(pid) + ": cannot open its pagemap: " + std::strerror(errno));
  PageRegion regions[512];
  for (format::Vma& v : vmas) {
    if (format::vma_kind_is_special(v.kind)) continue;  // the kernel's own; guards cannot be installed there
    uint64_t at = v.start;
    while (at < v.end) {
      PmScanArg arg{};
      arg.size = sizeof arg;
      arg.start = at;
      arg.end = v.end;
      arg.vec = reinterpret_cast<uint64_t>(regions);
      arg.vec_len = std::size(regions);
      arg.category_mask = kPageIsGuard;  // only pages that are guards
      arg.return_mask = kPageIsGuard;
      long n = ioctl(pagemap.get(), kPagemapScan, &arg);
      if (n < 0 && (errno == ENOTTY || errno == EINVAL)) return;  // no PAGEMAP_SCAN or no PAGE_IS_GUARD: no guards either
      if (n < 0)
        throw DumpError("pid " + std::to_string(pid) + ": PAGEMAP_SCAN for guard pages at " + format::hex(at) +
                        " failed: " + std::strerror(errno));
      for (long i = 0; i < n; ++i) {
        if (!v.guards.empty() && v.guards.back().end == regions[i].start) v.guards.back().end = regions[i].end;
        else v.guards.push_back({regions[i].start, regions[i].end});
      }
      if (v.guards.size() > format::kMaxGuardRanges)
        throw DumpError("pid " + std::to_string(pid) + ": the mapping at " + format::hex(v.start) + " has more than " +
                        std::to_string(format::kMaxGuardRanges) + " guard regions");
      if (arg.walk_end <= at) break;  // no progress: the kernel walked nothing more
      at = arg.walk_end;
    }
    if (!v.guards.empty() && (v.flags & format::kVmaLocked))
      throw DumpError("pid " + std::to_string(pid) + ": cannot dump the mapping " + format::hex(v.start) + "-" +
                      format::hex(v.end) + ": it is locked (mlock) and has guard pages, which cannot be installed "
                      "again in a locked area");
  }
}

}  // namespace ckpt::dumper
