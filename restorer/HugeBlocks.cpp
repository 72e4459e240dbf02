// Huge pages for staged anonymous blocks (see HugeBlocks.h).
#include "restorer/HugeBlocks.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace ckpt::restorer {

// Linux 6.8+ (uapi userfaultfd.h) and 6.1+ (mman-common.h); Debian 12's
// headers are older.
struct UffdioMove {
  uint64_t dst, src, len, mode;
  int64_t move;
};
constexpr unsigned long kUffdioMove = _IOWR(UFFDIO, 0x05, UffdioMove);
constexpr uint64_t kUffdFeatureMove = 1ull << 16;
constexpr int kMadvCollapse = 25;

namespace {

// A userfaultfd that can move pages, with the blocks' runs registered on it
// (MISSING: the only mode an anonymous area takes that changes nothing but
// the VM_UFFD_MISSING flag, which unregistering takes away again). Closed,
// and every run unregistered, by the destructor.
class MoveTarget {
 public:
  explicit MoveTarget(const std::vector<uint64_t>& blocks) {
    // User-mode-only needs no privilege; nothing here ever faults.
    fd_ = int(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
    if (fd_ < 0) return;
    uffdio_api api{UFFD_API, kUffdFeatureMove, 0};
    if (ioctl(fd_, UFFDIO_API, &api) != 0) {
      close_fd();
      return;
    }
    for (size_t i = 0; i < blocks.size();) {
      size_t j = i + 1;
      while (j < blocks.size() && blocks[j] == blocks[j - 1] + kHugeBlock) ++j;
      uffdio_register reg{{blocks[i], (j - i) * kHugeBlock}, UFFDIO_REGISTER_MODE_MISSING, 0};
      if (ioctl(fd_, UFFDIO_REGISTER, &reg) != 0) {
        unregister_all();
        return;
      }
      runs_.push_back(reg.range);
      i = j;
    }
  }
  ~MoveTarget() { unregister_all(); }
  MoveTarget(const MoveTarget&) = delete;
  MoveTarget& operator=(const MoveTarget&) = delete;

  bool ok() const { return fd_ >= 0; }
  // Moves the huge page at `src` onto `dst`; false if nothing moved.
  bool move(uint64_t dst, uint64_t src) const {
    UffdioMove m{dst, src, kHugeBlock, 0, 0};
    return ioctl(fd_, kUffdioMove, &m) == 0 || m.move > 0;
  }

 private:
  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void unregister_all() {
    for (uffdio_range& r : runs_) ioctl(fd_, UFFDIO_UNREGISTER, &r);
    runs_.clear();
    close_fd();
  }
  int fd_ = -1;
  std::vector<uffdio_range> runs_;
};

// One worker's source of huge pages: a 2 MiB-aligned MADV_HUGEPAGE buffer.
class HugeSource {
 public:
  HugeSource() {
    void* r = mmap(nullptr, 2 * kHugeBlock, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) return;
    map_ = uint64_t(r);
    at_ = (map_ + kHugeBlock - 1) & ~(kHugeBlock - 1);
    if (madvise(reinterpret_cast<void*>(at_), kHugeBlock, MADV_HUGEPAGE) != 0) at_ = 0;
  }
  ~HugeSource() {
    if (map_) munmap(reinterpret_cast<void*>(map_), 2 * kHugeBlock);
  }
  HugeSource(const HugeSource&) = delete;
  HugeSource& operator=(const HugeSource&) = delete;

  // A freshly faulted (zeroed) huge page at the returned address, or 0.
  uint64_t fill() const {
    return at_ && madvise(reinterpret_cast<void*>(at_), kHugeBlock, MADV_POPULATE_WRITE) == 0 ? at_ : 0;
  }

 private:
  uint64_t map_ = 0, at_ = 0;
};

}  // namespace

void give_huge_pages(const std::vector<uint64_t>& blocks, unsigned workers) {
  if (blocks.empty()) return;
  // Tests only (e2e.check_thp_fallbacks): "collapse" skips the moves as a
  // kernel without UFFDIO_MOVE would, "none" skips both.
  const char* test = std::getenv("CKPT_TEST_HUGE_PAGES");
  const bool move = !test || !*test, collapse = move || std::strcmp(test, "collapse") == 0;
  std::atomic<size_t> next{0};
  if (move) {
    // Unregistered when this scope ends: a registered block that no page
    // was moved into must not meet a fault (the collapse below, the fill).
    MoveTarget target(blocks);
    if (target.ok()) {
      auto work = [&] {
        HugeSource source;
        for (size_t i; (i = next++) < blocks.size();) {
          const uint64_t src = source.fill();
          if (!src || !target.move(blocks[i], src)) return;  // a small-page block is still correct
        }
      };
      std::vector<std::thread> helpers;
      for (unsigned w = 1; w < workers && w < blocks.size(); ++w) helpers.emplace_back(work);
      work();
      for (std::thread& t : helpers) t.join();
    }
  }
  if (next >= blocks.size()) return;
  if (!collapse) return;
  // Collapse what is left, one block at a time: each takes the mm's lock
  // for writing anyway. It needs one page present to find a page table.
  for (size_t i = std::min(next.load(), blocks.size()); i < blocks.size(); ++i) {
    void* at = reinterpret_cast<void*>(blocks[i]);
    if (madvise(at, 4096, MADV_POPULATE_WRITE) != 0) return;
    if (madvise(at, kHugeBlock, kMadvCollapse) != 0 && errno != EAGAIN && errno != ENOMEM) return;
  }
}

}  // namespace ckpt::restorer
