// Page selection and copying (see MemoryDump.h).
#include "dumper/MemoryDump.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "format/Hex.h"
#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"
#include "format/Validate.h"

namespace ckpt::dumper {

using format::hex;

using format::kPageSize;
using format::Vma;
using format::VmaKind;

static constexpr uint64_t kPmPresent = 1ull << 63;
static constexpr uint64_t kPmSwapped = 1ull << 62;
static constexpr uint64_t kPmFile = 1ull << 61;
static constexpr uint64_t kBatchPages = 1024;  // 4 MiB per read


void read_remote(pid_t pid, int mem_fd, uint64_t addr, void* out, size_t len) {
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n == ssize_t(len)) return;
  if (n < 0 && errno == ESRCH) throw DumpError("pid " + std::to_string(pid) + " exited during the dump");
  // PROT_NONE or otherwise unreadable: /proc/PID/mem reads through protections for a tracer.
  size_t done = 0;
  while (done < len) {
    ssize_t r = pread(mem_fd, static_cast<char*>(out) + done, len - done, off_t(addr + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      throw DumpError("pid " + std::to_string(pid) + ": cannot read memory at " + hex(addr + done) + ": " +
                      (r < 0 ? std::strerror(errno) : "end of file"));
    done += size_t(r);
  }
}

static bool all_zero(const uint8_t* p) {
  uint64_t acc = 0;
  for (size_t i = 0; i < kPageSize; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    acc |= v;
  }
  return acc == 0;
}

MemoryStats dump_memory(pid_t pid, const std::vector<Vma>& vmas, format::ImageWriter& writer) {
  const std::string proc = "/proc/" + std::to_string(pid);
  ScopedFd pagemap(::open((proc + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC));
  ScopedFd mem(::open((proc + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
  if (pagemap.get() < 0 || mem.get() < 0)
    throw DumpError("pid " + std::to_string(pid) + ": cannot open its pagemap or mem: " + std::strerror(errno));

  MemoryStats stats;
  std::vector<uint64_t> entries(kBatchPages);
  std::vector<uint8_t> data(kBatchPages * kPageSize);
  for (const Vma& v : vmas) {
    if (!format::vma_kind_takes_pages(v.kind)) continue;
    const bool file_backed = v.kind == VmaKind::FilePrivate;
    for (uint64_t base = v.start; base < v.end; base += kBatchPages * kPageSize) {
      uint64_t npages = std::min<uint64_t>(kBatchPages, (v.end - base) / kPageSize);
      size_t bytes = npages * 8;
      if (pread(pagemap.get(), entries.data(), bytes, off_t(base / kPageSize * 8)) != ssize_t(bytes))
        throw DumpError("pid " + std::to_string(pid) + ": cannot read pagemap at " + hex(base) + " (did it exit?)");
      // Pages worth saving, as runs [i, j).
      auto wanted = [&](uint64_t i) {
        uint64_t e = entries[i];
        if (e & kPmSwapped) return true;
        if (!(e & kPmPresent)) return false;
        return !file_backed || !(e & kPmFile);  // a private file page still in the page cache is the file's
      };
      for (uint64_t i = 0; i < npages;) {
        if (!wanted(i)) {
          ++i;
          continue;
        }
        uint64_t j = i;
        while (j < npages && wanted(j)) ++j;
        uint8_t* buf = data.data();
        read_remote(pid, mem.get(), base + i * kPageSize, buf, (j - i) * kPageSize);
        // Split the run at all-zero pages of anonymous memory.
        uint64_t k = i;
        while (k < j) {
          if (!file_backed && all_zero(buf + (k - i) * kPageSize)) {
            ++stats.zero_pages_skipped;
            ++k;
            continue;
          }
          uint64_t m = k;
          while (m < j && (file_backed || !all_zero(buf + (m - i) * kPageSize))) ++m;
          writer.add_pages(base + k * kPageSize, buf + (k - i) * kPageSize, m - k);
          stats.pages_saved += m - k;
          k = m;
        }
        i = j;
      }
    }
  }
  return stats;
}

}  // namespace ckpt::dumper
