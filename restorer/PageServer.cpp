// The lazy page server (see PageServer.h).
//
// One "space" per address space served: the restored process's, then one
// per fork. A space knows where each saved page now lives (regions, moved
// by mremap and cut by munmap) and which saved pages are resolved: copied
// in, or dropped by the program, after which only zeros may appear there.
// Every uffd ioctl that copies fails with EAGAIN while the kernel has an
// event (fork, mremap, munmap, MADV_DONTNEED) queued that the server has
// not read yet, so applying events in the order they are read keeps the
// bookkeeping exact; the operation is retried after the event is applied.
#include "restorer/PageServer.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <cstdlib>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <list>
#include <memory>
#include <new>
#include <thread>

#include "format/FormatError.h"
#include "format/Hex.h"
#include "format/Limits.h"
#include "format/WorkingSet.h"
#include "restorer/NetworkPages.h"
#include "restorer/WorkingSet.h"

namespace ckpt::restorer {

using format::hex;
using format::kPageSize;
using format::PageChunk;

namespace {

constexpr uint64_t kFirstWindow = 16 * kPageSize;  // copied first on a fault, so the thread resumes sooner
constexpr uint64_t kZeroRun = 256 * kPageSize;      // never-saved pages mapped as zeros per fault, at most
constexpr uint64_t kReadAheadBytes = 64u << 20;     // pages the read-ahead thread reads, at most

// [cur, end) of the served address space shows the saved pages from `saved`.
struct Region {
  uint64_t cur, end, saved;
};

struct Space {
  int fd = -1;
  int pidfd = -1;                  // the process, once known (the target from the start; a fork at its first fault)
  std::vector<Region> regions;     // sorted by cur, disjoint
  std::vector<uint64_t> resolved;  // bit per saved page (Catalog index)
  size_t next_chunk = 0;           // background copying's cursor
  bool dead = false;
  bool target = false;             // the restored process's own (its end is seen through a pidfd)
};

enum class Outcome { Done, Retry, Dead };

uint64_t now_ms() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return uint64_t(t.tv_sec) * 1000 + uint64_t(t.tv_nsec) / 1000000;
}

// Chunks read and checked by a thread of its own, ahead of the server:
// from the areas' digest on (while the launcher still stages and launches)
// and then while the program runs, in the order background copying takes
// them. A served program waits on the server nearly all the time, and the
// server would otherwise read and check each chunk itself when a fault
// first needs it; this thread does that on the core the waiting program
// leaves idle. It only turns image bytes into checked pages in buffers of
// its own, which the server takes (it shares nothing else with the
// server's bookkeeping), and the bytes the server copies are still the
// bytes that were checked. A chunk it cannot read, or finds corrupt, is
// left to the server, which reads it again and reports it as ever. It
// reads at most kReadAheadBytes of pages in all (the first chunks in that
// order), then ends, so that the server never holds more for it; a chunk
// it has read is the server's once taken, and freed when the next one is.
// It runs SCHED_IDLE: only on CPU time that nothing else wants (a program
// waiting on the server leaves its core idle), never delaying the program,
// the server or anything else on a busy machine. The server therefore
// never waits for it: a chunk it is reading when the server needs it is
// read by the server, and the thread drops its copy.
//
// Tests (e2e.check_lazy_readahead): CKPT_TEST_LAZY_READAHEAD=all makes the
// server wait for the thread to finish before serving, so that the pages
// served come from chunks read ahead whatever the machine's speed.
class ReadAhead {
 public:
  ReadAhead(const format::ImageReader& reader, const std::vector<const PageChunk*>& chunks)
      : reader_(reader), chunks_(chunks), state_(new std::atomic<int>[chunks.size()]), pages_(chunks.size()) {
    for (size_t i = 0; i < chunks.size(); ++i) state_[i].store(kFree, std::memory_order_relaxed);
    thread_ = std::thread([this] { run(); });
  }
  // Never destroyed while the thread runs: the server ends with _exit.
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;
  // Chunk i's pages, checked, if the thread has them; the caller owns
  // them. Otherwise nullptr (never read yet, or being read: the caller
  // reads it itself), and the thread will not read it or keep it.
  std::unique_ptr<uint8_t[]> take(size_t i) {
    int s = kFree;
    if (state_[i].compare_exchange_strong(s, kGone)) return nullptr;
    // On it now: the server reads the chunk itself rather than wait for a
    // thread that runs only when a core is idle; the thread drops its copy.
    if (s == kBusy && state_[i].compare_exchange_strong(s, kGone)) return nullptr;
    if (s != kReady) return nullptr;
    state_[i].store(kGone, std::memory_order_relaxed);
    ++taken_;
    return std::move(pages_[i]);
  }
  // Waits until the thread has ended (tests).
  void wait() {
    if (thread_.joinable()) thread_.join();
  }
  size_t taken() const { return taken_; }

 private:
  enum State : int { kFree, kBusy, kReady, kGone };
  void run() {
    // Signals (SIGTERM: finish now) go to the server's thread, whose poll they interrupt.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    // Only CPU time that nothing else wants: the kernel preempts a
    // SCHED_IDLE thread as soon as any other becomes runnable (lowering
    // one's own policy needs no privilege).
    sched_param idle{};
    sched_setscheduler(0, SCHED_IDLE, &idle);
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!dctx) return;
    std::vector<uint8_t> scratch;
    uint64_t held = 0;
    for (size_t i = 0; i < chunks_.size(); ++i) {
      const PageChunk& c = *chunks_[i];
      if (held + c.size() > kReadAheadBytes) break;
      int s = kFree;
      if (!state_[i].compare_exchange_strong(s, kBusy)) continue;  // the server read it itself
      std::unique_ptr<uint8_t[]> pages = reader_.read_chunk_ahead(c, dctx.get(), scratch);
      const bool ok = pages != nullptr;  // else the server reads it again and reports it
      if (ok) {
        pages_[i] = std::move(pages);
        held += c.size();
      }
      int busy = kBusy;
      if (!state_[i].compare_exchange_strong(busy, ok ? kReady : kGone, std::memory_order_acq_rel) && ok) {
        pages_[i].reset();  // the server took the chunk over meanwhile
      }
    }
  }

  const format::ImageReader& reader_;
  const std::vector<const PageChunk*>& chunks_;
  std::unique_ptr<std::atomic<int>[]> state_;  // per chunk
  std::vector<std::unique_ptr<uint8_t[]>> pages_;
  std::atomic<size_t> taken_{0};
  std::thread thread_;
};

// The saved side: which pages exist, where each chunk's bytes are.
class Catalog {
 public:
  Catalog(const format::ImageReader& reader, const std::vector<format::Vma>& areas)
      : reader_(reader), areas_(areas), dctx_(ZSTD_createDCtx(), ZSTD_freeDCtx) {
    uint64_t pages = 0;
    for (const format::Vma& v : areas_) {
      base_.push_back(pages);
      pages += v.size() / kPageSize;
    }
    pages_ = pages;
    for (const PageChunk& c : reader.image().chunks)
      if (!c.inherited() && area_of(c.vaddr) >= 0) chunks_.push_back(&c);
    buffer_.reset(new uint8_t[format::kMaxChunkPages * kPageSize]);
  }
  uint64_t pages() const { return pages_; }
  const std::vector<const PageChunk*>& chunks() const { return chunks_; }
  // Bit index of a saved page; -1 when it is in no lazy area.
  int64_t index(uint64_t saved) const {
    long a = area_of(saved);
    return a < 0 ? -1 : int64_t(base_[a] + (saved - areas_[a].start) / kPageSize);
  }
  const PageChunk* chunk_at(uint64_t saved) const {
    auto it = std::upper_bound(chunks_.begin(), chunks_.end(), saved,
                               [](uint64_t a, const PageChunk* c) { return a < c->vaddr; });
    if (it == chunks_.begin()) return nullptr;
    const PageChunk* c = *(it - 1);
    return saved < c->vaddr + c->size() ? c : nullptr;
  }
  // The saved page of a bit index (index()'s inverse).
  uint64_t address(uint64_t i) const {
    size_t a = size_t(std::upper_bound(base_.begin(), base_.end(), i) - base_.begin()) - 1;
    return areas_[a].start + (i - base_[a]) * kPageSize;
  }
  // First chunk starting at or after `saved` (its vaddr), or ~0.
  uint64_t next_chunk_start(uint64_t saved) const {
    auto it = std::lower_bound(chunks_.begin(), chunks_.end(), saved,
                               [](const PageChunk* c, uint64_t a) { return c->vaddr < a; });
    return it == chunks_.end() ? ~uint64_t(0) : (*it)->vaddr;
  }
  // The chunk's pages, decoded and checked: from the read-ahead thread if
  // it has them, else read here (the last one is kept).
  const uint8_t* load(const PageChunk& c) {
    if (loaded_ == &c) return data_;
    loaded_ = nullptr;
    if (ahead_) {
      auto it = std::lower_bound(chunks_.begin(), chunks_.end(), c.vaddr,
                                 [](const PageChunk* x, uint64_t a) { return x->vaddr < a; });
      if (it != chunks_.end() && *it == &c && (taken_ = ahead_->take(size_t(it - chunks_.begin())))) {
        loaded_ = &c;
        return data_ = taken_.get();
      }
    }
    if (network_) network_->ensure(c);  // post-copy: the bytes come from the source first
    reader_.read_chunk(c, buffer_.get(), dctx_.get(), scratch_);
    loaded_ = &c;
    return data_ = buffer_.get();
  }
  // Starts reading ahead (ReadAhead above).
  void read_ahead() { ahead_ = std::make_unique<ReadAhead>(reader_, chunks_); }
  ReadAhead* ahead() const { return ahead_.get(); }

 private:
  long area_of(uint64_t saved) const {
    auto it = std::upper_bound(areas_.begin(), areas_.end(), saved,
                               [](uint64_t a, const format::Vma& v) { return a < v.start; });
    if (it == areas_.begin() || saved >= (it - 1)->end) return -1;
    return long(it - areas_.begin()) - 1;
  }
  const format::ImageReader& reader_;
  std::vector<format::Vma> areas_;
  std::vector<uint64_t> base_;
  uint64_t pages_ = 0;
  std::vector<const PageChunk*> chunks_;
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx_;
  std::vector<uint8_t> scratch_;
  std::unique_ptr<uint8_t[]> buffer_;
  std::unique_ptr<uint8_t[]> taken_;  // the last chunk the read-ahead thread gave
  const PageChunk* loaded_ = nullptr;
  const uint8_t* data_ = nullptr;     // loaded_'s pages
  std::unique_ptr<ReadAhead> ahead_;

 public:
  NetworkPages* network_ = nullptr;
};

class Server {
 public:
  Server(const format::ImageReader& reader, const PageServerSetup& setup) : catalog_(reader, setup.areas), setup_(setup) {
    Space s;
    s.fd = setup.uffd;
    s.pidfd = setup.target_pidfd;
    s.target = true;
    for (const format::Vma& v : setup.areas) s.regions.push_back({v.start, v.end, v.start});
    s.resolved.assign((catalog_.pages() + 63) / 64, 0);
    spaces_.push_back(std::move(s));
    catalog_.network_ = setup.pages;
    learning_ = setup.learn;
    if (learning_) learned_.assign((catalog_.pages() + 63) / 64, 0);
  }
  // After the areas' digest: starts reading ahead, unless chunks come over
  // a connection (post-copy: read only when needed) or a working set is
  // brought in (the launcher fills it on both cores just before the go
  // byte, and the program then faults on little). Then waits for the go
  // byte; false on EOF (the restore stopped before its point of no return).
  bool wait_for_go();
  [[noreturn]] void run();

 private:
  bool is_resolved(const Space& s, int64_t i) const { return i >= 0 && (s.resolved[i / 64] >> (i % 64)) & 1; }
  void resolve(Space& s, int64_t i) {
    if (i >= 0) s.resolved[i / 64] |= uint64_t(1) << (i % 64);
  }
  // The saved address shown at `cur`, if a region covers it.
  static bool to_saved(const Space& s, uint64_t cur, uint64_t* saved) {
    for (const Region& r : s.regions)
      if (cur >= r.cur && cur < r.end) {
        *saved = r.saved + (cur - r.cur);
        return true;
      }
    return false;
  }
  Outcome fill(Space& s, uint64_t lo, uint64_t hi, const uint8_t* data);
  Outcome fill_run(Space& s, uint64_t cur, uint64_t saved, uint64_t len, const uint8_t* src);
  Outcome fault(Space& s, uint64_t address);
  // fault(), kept for later if an event must be applied first.
  void serve(Space& s, uint64_t address) {
    Outcome o = fault(s, address);
    if (o == Outcome::Retry) retry_.push_back({&s, address});
    if (o == Outcome::Dead) s.dead = true;
  }
  Outcome prefetch(Space& s);
  void handle(Space& s, const uffd_msg& m);
  void mark(Space& s, uint64_t start, uint64_t end);
  std::vector<Region> cut(Space& s, uint64_t start, uint64_t end);
  void drain(Space& s);
  static bool gone(const Space& s);
  void learn_process(Space& s, pid_t tid);
  bool kill_space(Space& s);
  void corrupt(const format::FormatError& e);
  void finish_learning(const char* why);

  Catalog catalog_;
  const PageServerSetup& setup_;
  std::list<Space> spaces_;
  std::vector<std::pair<Space*, uint64_t>> retry_;  // faults to serve again once events are applied
  bool poisoned_ = false;  // a chunk proved corrupt: nothing more is served, every process is killed
  uint64_t target_faults_ = 0;     // faults of the restored process served (--verbose says how many)
  bool learning_ = false;          // --learn, until the restored process goes idle
  std::vector<uint64_t> learned_;  // bit per saved page (Catalog index): faulted on while learning
  uint64_t last_fault_ms_ = 0;     // of the restored process; 0: none yet
};

// Copies (or, with no data, maps zeros into) the unresolved pages of the
// saved range [lo, hi) wherever they live now. `data` holds [lo, hi).
Outcome Server::fill(Space& s, uint64_t lo, uint64_t hi, const uint8_t* data) {
  for (const Region& r : s.regions) {  // copying never changes the regions: only events do
    uint64_t a = std::max(lo, r.saved), b = std::min(hi, r.saved + (r.end - r.cur));
    for (uint64_t p = a; p < b;) {
      if (is_resolved(s, catalog_.index(p))) {
        p += kPageSize;
        continue;
      }
      uint64_t q = p + kPageSize;
      while (q < b && !is_resolved(s, catalog_.index(q))) q += kPageSize;
      Outcome o = fill_run(s, r.cur + (p - r.saved), p, q - p, data ? data + (p - lo) : nullptr);
      if (o != Outcome::Done) return o;
      p = q;
    }
  }
  return Outcome::Done;
}

// Whether the kernel holds an event (mremap, munmap, fork, MADV_DONTNEED)
// for this uffd that has not been read yet. It counts such an event from
// before it changes any area until it is read, and every ioctl that
// places pages fails with EAGAIN meanwhile, but only once it has found
// the area: a copy into an area that an mremap has just moved away fails
// with ENOENT instead, though the pages now live elsewhere and the event
// saying where is on its way. UFFDIO_WRITEPROTECT looks at the count
// before it looks for areas; un-protecting a page of an area registered
// for missing pages only changes nothing (ENOENT).
static bool event_pending(int fd, uint64_t page) {
  uffdio_writeprotect wp{{page, kPageSize}, UFFDIO_WRITEPROTECT_MODE_DONTWAKE};
  return ioctl(fd, UFFDIO_WRITEPROTECT, &wp) != 0 && errno == EAGAIN;
}

Outcome Server::fill_run(Space& s, uint64_t cur, uint64_t saved, uint64_t len, const uint8_t* src) {
  bool one_by_one = false;  // the run spans areas the program has split since: a page per ioctl
  while (len) {
    const uint64_t n = one_by_one ? kPageSize : len;
    long done;
    int r;
    if (src) {
      uffdio_copy c{cur, uint64_t(src), n, 0, 0};
      r = ioctl(s.fd, UFFDIO_COPY, &c);
      done = long(c.copy);
    } else {
      uffdio_zeropage z{{cur, n}, 0, 0};
      r = ioctl(s.fd, UFFDIO_ZEROPAGE, &z);
      done = long(z.zeropage);
    }
    // Checks that fail before any page is tried (ESRCH: the address space
    // is gone) leave the count unwritten: errno says why.
    if (r != 0 && done == 0) done = -long(errno);
    if (done > 0) {
      for (uint64_t i = 0; i < uint64_t(done); i += kPageSize) resolve(s, catalog_.index(saved + i));
    } else if (done == -EAGAIN) {
      return Outcome::Retry;  // an event is queued: apply it first
    } else if (done == -ESRCH) {
      return Outcome::Dead;  // the address space is gone
    } else if ((done == -ENOENT || done == -EINVAL) && n > kPageSize) {
      // No one registered area holds the whole run: the program has split
      // it (mprotect, mlock, madvise) or an event is on its way.
      one_by_one = true;
      continue;
    } else if ((done == -ENOENT || done == -EINVAL) && event_pending(s.fd, cur)) {
      return Outcome::Retry;  // moved or unmapped: where to, the event will say
    } else {
      // EEXIST: the page is there already (the program's own, or copied
      // before); ENOENT/EINVAL with no event coming: no registered area
      // holds the page any more (unregistered, or not passed on by fork).
      // Either way this page is settled; go on with the next.
      resolve(s, catalog_.index(saved));
      done = long(kPageSize);
    }
    cur += uint64_t(done), saved += uint64_t(done), src = src ? src + done : nullptr, len -= uint64_t(done);
  }
  return Outcome::Done;
}

Outcome Server::fault(Space& s, uint64_t address) {
  const uint64_t page = address & ~uint64_t(kPageSize - 1);
  uint64_t saved;
  Outcome o = Outcome::Done;
  bool settled = true;
  if (!to_saved(s, page, &saved)) {
    // Registered but not from the image (an mremap grew the area): zeros.
  } else if (const PageChunk* c = catalog_.chunk_at(saved); c && !is_resolved(s, catalog_.index(saved))) {
    settled = false;
    try {
      const uint8_t* data = catalog_.load(*c);
      uint64_t end = c->vaddr + c->size();
      // Learning: this page alone, so that the next page touched faults too.
      uint64_t first_end = std::min(end, saved + (learning_ ? kPageSize : kFirstWindow));
      o = fill(s, saved, first_end, data + (saved - c->vaddr));
      if (o == Outcome::Done && !learning_) o = fill(s, c->vaddr, end, data);
    } catch (const format::FormatError& e) {
      corrupt(e);
      return Outcome::Done;  // the faulting process has been killed, or will be at its next fault
    }
  } else if (!is_resolved(s, catalog_.index(saved))) {
    // Never saved (untouched or all zeros at the dump): a run of zero pages.
    settled = false;
    uint64_t end = std::min({catalog_.next_chunk_start(saved), saved + (learning_ ? kPageSize : kZeroRun)});
    o = fill(s, saved, end, nullptr);
  }
  if (o != Outcome::Done || !settled) return o;
  // A page that is not ours to fill, or one already resolved: dropped by the
  // program (zeros are right) or copied while this fault was queued.
  uffdio_zeropage z{{page, kPageSize}, 0, 0};
  if (ioctl(s.fd, UFFDIO_ZEROPAGE, &z) == 0) return Outcome::Done;
  if (z.zeropage == -EAGAIN) return Outcome::Retry;
  if (z.zeropage == -ESRCH) return Outcome::Dead;
  uffdio_range wake{page, kPageSize};
  ioctl(s.fd, UFFDIO_WAKE, &wake);
  return Outcome::Done;
}

// Copies in the next chunk not yet done, whole.
Outcome Server::prefetch(Space& s) {
  const auto& chunks = catalog_.chunks();
  if (s.next_chunk >= chunks.size()) return Outcome::Done;
  const PageChunk& c = *chunks[s.next_chunk];
  // Skip the read when every page of the chunk is settled already.
  bool any = false;
  for (uint64_t p = c.vaddr; p < c.vaddr + c.size() && !any; p += kPageSize) any = !is_resolved(s, catalog_.index(p));
  Outcome o = Outcome::Done;
  if (any) {
    try {
      o = fill(s, c.vaddr, c.vaddr + c.size(), catalog_.load(c));
    } catch (const format::FormatError& e) {
      corrupt(e);
      return Outcome::Done;
    }
  }
  if (o == Outcome::Done) ++s.next_chunk;
  return o;
}

// Pages of [start, end) (current addresses) the program dropped or unmapped.
void Server::mark(Space& s, uint64_t start, uint64_t end) {
  for (const Region& r : s.regions) {
    uint64_t a = std::max(start, r.cur), b = std::min(end, r.end);
    for (uint64_t p = a; p < b; p += kPageSize) resolve(s, catalog_.index(r.saved + (p - r.cur)));
  }
}

// Removes [start, end) from the regions and returns the pieces that were in it.
std::vector<Region> Server::cut(Space& s, uint64_t start, uint64_t end) {
  std::vector<Region> keep, inside;
  for (const Region& r : s.regions) {
    if (r.end <= start || r.cur >= end) {
      keep.push_back(r);
      continue;
    }
    if (r.cur < start) keep.push_back({r.cur, start, r.saved});
    uint64_t a = std::max(start, r.cur), b = std::min(end, r.end);
    inside.push_back({a, b, r.saved + (a - r.cur)});
    if (r.end > end) keep.push_back({end, r.end, r.saved + (end - r.cur)});
  }
  s.regions = keep;
  return inside;
}

void Server::handle(Space& s, const uffd_msg& m) {
  switch (m.event) {
    case UFFD_EVENT_PAGEFAULT:
      if (s.pidfd < 0) learn_process(s, pid_t(m.arg.pagefault.feat.ptid));
      if (s.target) {
        ++target_faults_;
        uint64_t saved;
        if (learning_ && to_saved(s, m.arg.pagefault.address & ~uint64_t(kPageSize - 1), &saved)) {
          int64_t i = catalog_.index(saved);
          if (i >= 0) learned_[i / 64] |= uint64_t(1) << (i % 64);
        }
        last_fault_ms_ = now_ms();
      }
      if (poisoned_) {
        kill_space(s);  // its memory can no longer be completed
        break;
      }
      serve(s, m.arg.pagefault.address);
      break;
    case UFFD_EVENT_FORK: {
      // The child starts with the parent's view: what the parent had is
      // copied into it by the kernel, what it lacked the child lacks too.
      Space child;
      child.fd = int(m.arg.fork.ufd);
      child.regions = s.regions;
      child.resolved = s.resolved;
      child.next_chunk = s.next_chunk;
      fcntl(child.fd, F_SETFD, FD_CLOEXEC);
      fcntl(child.fd, F_SETFL, fcntl(child.fd, F_GETFL) | O_NONBLOCK);
      spaces_.push_back(std::move(child));
      break;
    }
    case UFFD_EVENT_REMAP: {
      uint64_t from = m.arg.remap.from, to = m.arg.remap.to, len = m.arg.remap.len;
      std::vector<Region> moved = cut(s, from, from + len);
      cut(s, to, to + len);  // whatever was there is gone
      for (Region r : moved) s.regions.push_back({r.cur - from + to, r.end - from + to, r.saved});
      std::sort(s.regions.begin(), s.regions.end(), [](const Region& a, const Region& b) { return a.cur < b.cur; });
      break;
    }
    case UFFD_EVENT_REMOVE: mark(s, m.arg.remove.start, m.arg.remove.end); break;
    case UFFD_EVENT_UNMAP:
      mark(s, m.arg.remove.start, m.arg.remove.end);
      cut(s, m.arg.remove.start, m.arg.remove.end);
      break;
    default: break;
  }
}

// Reads and applies every message queued on the space's uffd.
void Server::drain(Space& s) {
  uffd_msg msgs[32];
  for (;;) {
    ssize_t n = read(s.fd, msgs, sizeof msgs);
    if (n <= 0) return;  // EAGAIN: nothing more
    for (size_t i = 0; i < size_t(n) / sizeof(uffd_msg); ++i) handle(s, msgs[i]);
  }
}

// Whether the space's address space has ended. A forked child's end sends
// nothing, so while background copying is held back (which finds out by
// itself, with ESRCH) this asks: an operation at the top user page, which
// nothing maps, fails with ESRCH once the mm is gone and ENOENT before.
bool Server::gone(const Space& s) {
  constexpr uint64_t kTopPage = format::kUserSpaceEnd - kPageSize;
  uint64_t saved;
  if (to_saved(s, kTopPage, &saved)) return false;
  uffdio_zeropage z{{kTopPage, kPageSize}, 0, 0};
  return ioctl(s.fd, UFFDIO_ZEROPAGE, &z) != 0 && errno == ESRCH;
}

// A pidfd of the process whose thread `tid` waits in a fault on this space.
// The thread cannot leave that fault by itself, so the tid is still its:
// the thread's own pidfd is taken first, the process's through its thread
// group id next, and the pair is kept only if the thread was alive
// throughout (then the group id could not have changed hands either).
void Server::learn_process(Space& s, pid_t tid) {
  constexpr unsigned kPidfdThread = O_EXCL;  // PIDFD_THREAD (Linux 6.9), not in older headers
  if (tid <= 0) return;
  int thread = int(syscall(SYS_pidfd_open, tid, kPidfdThread));
  if (thread < 0) {
    // Before Linux 6.9 only a thread group leader has a pidfd: the faulting
    // thread is then its process's leader, or no process is learned.
    int process = int(syscall(SYS_pidfd_open, tid, 0));
    if (process >= 0) s.pidfd = process;
    return;
  }
  pid_t tgid = 0;
  char path[64], buf[512];
  std::snprintf(path, sizeof path, "/proc/%d/status", int(tid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  if (n > 0) {
    buf[n] = 0;
    if (const char* t = std::strstr(buf, "\nTgid:")) tgid = pid_t(std::atol(t + 6));
  }
  int process = tgid > 0 ? int(syscall(SYS_pidfd_open, tgid, 0)) : -1;
  pollfd p{thread, POLLIN, 0};
  if (process >= 0 && poll(&p, 1, 0) != 0) {  // the thread has ended meanwhile: nothing proven
    close(process);
    process = -1;
  }
  close(thread);
  s.pidfd = process;
}

// SIGKILL through the space's pidfd; true when its process is certainly
// dead or dying (it never runs its own code again), so the space can go.
bool Server::kill_space(Space& s) {
  if (s.dead) return true;
  if (s.pidfd < 0) return false;
  if (syscall(SYS_pidfd_send_signal, s.pidfd, SIGKILL, nullptr, 0) != 0 && errno != ESRCH) return false;
  s.dead = true;
  return true;
}

void Server::corrupt(const format::FormatError& e) {
  if (poisoned_) return;
  poisoned_ = true;
  retry_.clear();
  for (Space& s : spaces_) kill_space(s);
  std::fprintf(stderr, "restore --lazy: bad image %s; the restored process %d (and each fork of it that needs a page) was killed\n",
               e.what(), int(setup_.target));
}

// Writes what was learned as IMAGE.ws; from here on the server serves as
// without --learn. A working set that cannot be written costs only speed:
// one line says why.
void Server::finish_learning(const char* why) {
  learning_ = false;
  format::WorkingSet ws;
  ws.image_id = setup_.image_id;
  for (uint64_t w = 0; w < learned_.size(); ++w)
    for (uint64_t bits = learned_[w]; bits; bits &= bits - 1) {
      const uint64_t a = catalog_.address(w * 64 + uint64_t(__builtin_ctzll(bits)));
      if (!ws.runs.empty() && ws.runs.back().start + ws.runs.back().pages * kPageSize == a)
        ++ws.runs.back().pages;
      else
        ws.runs.push_back({a, 1});
    }
  learned_.clear();
  try {
    write_working_set(setup_.ws_dir_fd, setup_.ws_name, ws);
    if (setup_.verbose)
      std::fprintf(stderr, "restore --lazy --learn: %llu pages in %zu runs recorded in %s (%s)\n",
                   (unsigned long long)ws.page_count(), ws.runs.size(), setup_.ws_shown.c_str(), why);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "restore --lazy --learn: no working set recorded: %s\n", e.what());
  }
  close(setup_.ws_dir_fd);
}

bool Server::wait_for_go() {
  if (!setup_.pages && !setup_.hold_until_idle && !catalog_.chunks().empty()) {
    catalog_.read_ahead();
    const char* test = std::getenv("CKPT_TEST_LAZY_READAHEAD");
    if (test && std::strcmp(test, "all") == 0) catalog_.ahead()->wait();
  }
  char go = 0;
  ssize_t n;
  while ((n = read(setup_.go_fd, &go, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) return false;
  close(setup_.go_fd);
  return true;
}

void Server::run() {
  const uint64_t started = now_ms();
  uint64_t prefetch_at = started + setup_.prefetch_delay_ms;
  bool holding = setup_.hold_until_idle;
  uint64_t next_probe = 0;
  std::vector<pollfd> fds;
  for (;;) {
    if (setup_.finish_now && *setup_.finish_now) prefetch_at = 0;
    if (learning_) {
      // Ends at the first quiet spell after the first fault (the program
      // has answered and waits), at the limit, at the restored process's
      // end, or when told to finish.
      const uint64_t now = now_ms();
      const bool target_alive = std::any_of(spaces_.begin(), spaces_.end(), [](const Space& s) { return s.target && !s.dead; });
      const char* why = !target_alive                                                ? "the restored process ended"
                        : setup_.finish_now && *setup_.finish_now                   ? "told to finish"
                        : poisoned_                                                  ? "the image proved corrupt"
                        : now >= started + setup_.learn_limit_ms                     ? "time limit reached"
                        : last_fault_ms_ && now >= last_fault_ms_ + setup_.learn_idle_ms ? "the program went idle"
                                                                                      : nullptr;
      if (why && !poisoned_) finish_learning(why);
      if (why && poisoned_) learning_ = false;
      if (!learning_ && !(setup_.finish_now && *setup_.finish_now)) prefetch_at = now_ms() + setup_.prefetch_delay_ms;
    }
    if (holding) {
      const uint64_t now = now_ms();
      if ((setup_.finish_now && *setup_.finish_now) || poisoned_ ||
          now >= std::max(started, last_fault_ms_) + setup_.learn_idle_ms) {
        holding = false;
        if (!(setup_.finish_now && *setup_.finish_now)) prefetch_at = now + setup_.prefetch_delay_ms;
      }
    }
    // Spaces that are gone, or fully copied: closing the uffd unregisters
    // what is left, whose pages then behave as never touched (zeros), which
    // is what they are. Once poisoned, only spaces whose process is dead.
    for (auto it = spaces_.begin(); it != spaces_.end();) {
      bool finished = !poisoned_ && it->next_chunk >= catalog_.chunks().size();
      if (finished && !it->dead) drain(*it);  // a fork just before the end must be seen
      if (it->dead || finished) {
        retry_.erase(std::remove_if(retry_.begin(), retry_.end(), [&](const auto& f) { return f.first == &*it; }),
                     retry_.end());
        close(it->fd);
        if (it->pidfd >= 0) close(it->pidfd);
        it = spaces_.erase(it);
      } else {
        ++it;
      }
    }
    if (spaces_.empty()) {
      if (learning_) finish_learning("the restored process ended");
      if (setup_.verbose && catalog_.ahead())
        std::fprintf(stderr, "restore --lazy: the page server took %zu of %zu chunks read and checked ahead\n",
                     catalog_.ahead()->taken(), catalog_.chunks().size());
      if (setup_.verbose)
        std::fprintf(stderr, "restore --lazy: the page server served %llu page faults of the restored process\n",
                     (unsigned long long)target_faults_);
      if (setup_.pages) setup_.pages->finish(!poisoned_);
      _exit(poisoned_ ? 1 : 0);
    }
    const uint64_t now = now_ms();
    int timeout = !retry_.empty()                  ? 1
                  : poisoned_                      ? 200
                  : learning_ || holding           ? 20
                  : now >= prefetch_at             ? 0
                                                   : int(std::min<uint64_t>(prefetch_at - now, 200));
    if ((now < prefetch_at || holding || learning_ || poisoned_) && now >= next_probe) {
      for (Space& s : spaces_) s.dead = s.dead || (!s.target && gone(s));
      next_probe = now + 200;
    }
    // Each space's uffd, then the target's pidfd (its end), if it is still served.
    fds.clear();
    for (const Space& s : spaces_) fds.push_back({s.fd, POLLIN, 0});
    Space* target = nullptr;
    for (Space& s : spaces_)
      if (s.target && s.pidfd >= 0) target = &s;
    if (target) fds.push_back({target->pidfd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) _exit(1);
    size_t i = 0;
    for (Space& s : spaces_) {
      if (fds[i++].revents) drain(s);
    }
    if (target && fds.back().revents) {
      // The restored process has ended (its forks may live on).
      target->dead = true;
    }
    std::vector<std::pair<Space*, uint64_t>> again;
    again.swap(retry_);
    for (auto& [s, address] : again) {
      if (!s->dead && !poisoned_) serve(*s, address);
    }
    if (!poisoned_ && !learning_ && !holding && now_ms() >= prefetch_at && retry_.empty()) {
      for (Space& s : spaces_) {
        if (s.dead || s.next_chunk >= catalog_.chunks().size()) continue;
        if (prefetch(s) == Outcome::Dead) s.dead = true;
        break;  // one chunk per turn, so faults never wait behind more than one
      }
    }
  }
}

}  // namespace

void serve_pages(const format::ImageReader& reader, const PageServerSetup& setup) {
  static Server server(reader, setup);  // static: run() never returns, and the read-ahead thread uses it
  if (!server.wait_for_go()) _exit(0);  // the restore ended before its point of no return: nothing to serve
  server.run();
}

}  // namespace ckpt::restorer
