// Snapshot dumps: write-protect, resume, copy before first write (see Snapshot.h).
#include "dumper/Snapshot.h"

#include <linux/userfaultfd.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "dumper/ScopedFd.h"
#include "dumper/TargetUffd.h"
#include "dumper/Tracee.h"
#include "format/Hex.h"
#include "x86/FaultPoint.h"
#include "x86/PagemapScan.h"

namespace ckpt::dumper {

using format::hex;
using format::kPageSize;
using format::Vma;
using format::VmaKind;

// Pages copied, and protection lifted, at a time by the copier: small
// enough that a write fault waits little for the lock.
static constexpr uint64_t kStepPages = 64;

struct Snapshot::Member {
  MemoryCopy* copy = nullptr;
  ScopedFd uffd{-1};
  pid_t pid = 0;
  std::vector<uffd_msg> waiting;  // write faults read in the freeze, answered by run()
  std::thread passing;            // before the freeze: lifts the protection of each page written
  ScopedFd stop_passing{-1};
  std::vector<bool> wp;        // per run: write-protected, copied after the freeze
  std::vector<uint8_t> done;   // per page of the buffer: copied
};

struct Snapshot::Shared {
  std::mutex mutex;            // guards every Member's `done` and `failure`
  std::string failure;         // the first reason the snapshot cannot be exact
  uint64_t faulted = 0;        // pages copied because the process was about to write them
  ScopedFd stop{eventfd(0, EFD_CLOEXEC)};
};

Snapshot::Snapshot() : shared_(std::make_unique<Shared>()) {
  if (shared_->stop.get() < 0) throw DumpError(std::string("cannot make an eventfd: ") + std::strerror(errno));
}

Snapshot::~Snapshot() {
  freeze();  // the thread stops; the ScopedFds close the userfaultfds
}

uint64_t Snapshot::features() {
  return UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP |
         UFFD_FEATURE_EVENT_REMAP;
}

// Private anonymous memory: only this mm can write its pages, and a
// userfaultfd protects them in sync mode.
static bool protectable(const Vma& v) {
  const bool anon = v.kind == VmaKind::AnonPrivate || v.kind == VmaKind::Heap || v.kind == VmaKind::Stack ||
                    v.kind == VmaKind::DevZeroPrivate;
  return anon && !(v.flags & format::kVmaHugetlb);
}

namespace {

using x86::PmScanArg;
using x86::PageRegion;
using x86::kPagemapScan;
using x86::kPageIsWritten;
using x86::kPageIsPresent;
using x86::kPageIsSwapped;

void unprotect(int uffd, uint64_t addr, uint64_t len);


// Protects again the pages of [start, end) that have a page (present or
// swapped) but not the protection bit: written since the area was
// protected, or new. False when the scan or a protection failed.
bool protect_unprotected(int pagemap, int uffd, uint64_t start, uint64_t end) {
  PmScanArg query{};
  query.category_mask = kPageIsWritten;
  query.category_anyof_mask = kPageIsPresent | kPageIsSwapped;
  query.return_mask = kPageIsWritten;
  return x86::scan_pages(pagemap, start, end, query, [&](const PageRegion& region) {
    uffdio_writeprotect wp{};
    wp.range = {region.start, region.end - region.start};
    wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
    return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0;
  });
}

}  // namespace

void Snapshot::prepare(pid_t pid, int uffd, const std::vector<Vma>& vmas) {
  auto m = std::make_unique<Member>();
  m->pid = pid;
  m->uffd.reset(uffd);
  m->stop_passing.reset(eventfd(0, EFD_CLOEXEC));
  if (m->stop_passing.get() < 0) return;  // no thread to answer faults: all is protected in the freeze
  const int fd = m->uffd.get(), stop = m->stop_passing.get();
  // Started before anything is protected: a write never waits for nobody.
  m->passing = std::thread([fd, stop] {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop, POLLIN, 0}};
    uffd_msg msgs[16];
    for (;;) {
      if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
      if (fds[1].revents) return;
      ssize_t n;
      while ((n = read(fd, msgs, sizeof msgs)) > 0)
        for (ssize_t j = 0; j < n / ssize_t(sizeof(uffd_msg)); ++j)
          if (msgs[j].event == UFFD_EVENT_PAGEFAULT)
            unprotect(fd, msgs[j].arg.pagefault.address & ~uint64_t(kPageSize - 1), kPageSize);
      // Memory given back or moved before the freeze is no concern of the snapshot's: read, that is all.
    }
  });
  prepared_ = std::move(m);
  for (const Vma& v : vmas) {
    if (!protectable(v)) continue;
    uffdio_register reg{};
    reg.range = {v.start, v.end - v.start};
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0) continue;  // the freeze tries again, and copies it if it must
    uffdio_writeprotect wp{};
    wp.range = {v.start, v.end - v.start};
    wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
    (void)ioctl(fd, UFFDIO_WRITEPROTECT, &wp);  // whatever is left unprotected, the freeze protects
  }
  x86::time_point("snapshot: protected before the freeze");
}

void Snapshot::freeze() {
  Member* m = prepared_.get();
  if (!m || !m->passing.joinable()) return;
  uint64_t one = 1;
  (void)!write(m->stop_passing.get(), &one, sizeof one);
  m->passing.join();
  // Faults already queued are the stopped threads' writes to come: answered
  // (the page copied first) once the copy runs. Events happened before the freeze.
  uffd_msg msgs[16];
  ssize_t n;
  while ((n = read(m->uffd.get(), msgs, sizeof msgs)) > 0)
    for (ssize_t j = 0; j < n / ssize_t(sizeof(uffd_msg)); ++j)
      if (msgs[j].event == UFFD_EVENT_PAGEFAULT) m->waiting.push_back(msgs[j]);
}

bool Snapshot::protect(MemoryCopy& copy, const std::vector<Vma>& vmas, pid_t tid, const x86::InjectionSite& site,
                       std::string* why) {
  const pid_t pid = copy.pid();
  std::unique_ptr<Member> m;
  ScopedFd pagemap(-1);
  if (prepared_ && prepared_->pid == pid) {
    freeze();
    // Protected before the freeze, if it is still the same address space:
    // an exec since leaves the userfaultfd watching one that is gone, where
    // nothing registers. Registering again what is registered changes
    // nothing; if no area registers, a new userfaultfd is made below.
    pagemap.reset(::open(("/proc/" + std::to_string(pid) + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC));
    bool same_mm = false;
    for (const Vma& v : vmas)
      if (pagemap.get() >= 0 && !same_mm && protectable(v)) {
        uffdio_register probe{};
        probe.range = {v.start, v.end - v.start};
        probe.mode = UFFDIO_REGISTER_MODE_WP;
        same_mm = ioctl(prepared_->uffd.get(), UFFDIO_REGISTER, &probe) == 0;
      }
    if (same_mm) m = std::move(prepared_);
    prepared_.reset();
  }
  if (!m) {
    pagemap.reset(-1);
    TargetUffd u = open_target_uffd(pid, tid, site, features());
    if (u.fd < 0) {
      *why = u.why;
      return false;
    }
    m = std::make_unique<Member>();
    m->uffd.reset(u.fd);
  }
  x86::time_point("snapshot: userfaultfd made");
  m->copy = &copy;
  copy.allocate();
  const auto& runs = copy.runs();
  m->wp.assign(runs.size(), false);
  m->done.assign(copy.bytes() / kPageSize, 0);
  x86::time_point("snapshot: buffer mapped");
  // Each area that has pages to copy, once: registered and protected whole.
  std::vector<int8_t> area(vmas.size(), -1);  // -1 not tried, 0 copy now, 1 protected
  for (size_t i = 0; i < runs.size(); ++i) {
    const PageRun& r = runs[i];
    if (r.inherited) continue;
    int8_t& a = area[r.vma];
    if (a < 0) {
      a = 0;
      const Vma& v = vmas[r.vma];
      uffdio_register reg{};
      reg.range = {v.start, v.end - v.start};
      reg.mode = UFFDIO_REGISTER_MODE_WP;
      const bool registered = protectable(v) && ioctl(m->uffd.get(), UFFDIO_REGISTER, &reg) == 0;
      if (protectable(v) && !registered) ++areas_copied_stopped_;
      if (registered) {
        uffdio_writeprotect wp{};
        wp.range = {v.start, v.end - v.start};
        wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
        // Protected before the freeze: only what is not protected any more.
        const bool rest = pagemap.get() >= 0 && protect_unprotected(pagemap.get(), m->uffd.get(), v.start, v.end);
        if (rest || ioctl(m->uffd.get(), UFFDIO_WRITEPROTECT, &wp) == 0) {
          a = 1;
        } else {
          const int e = errno;
          uffdio_range range{v.start, v.end - v.start};
          if (ioctl(m->uffd.get(), UFFDIO_UNREGISTER, &range) != 0)
            throw DumpError("pid " + std::to_string(pid) + ": cannot write-protect " + hex(v.start) + "-" +
                            hex(v.end) + " (" + std::strerror(e) + ") nor take its userfaultfd off again: " +
                            std::strerror(errno));
        }
      }
    }
    if (a == 1) m->wp[i] = true;
    else copy.copy(i);  // now, while stopped
  }
  members_.push_back(std::move(m));
  x86::time_point("snapshot: protected");
  return true;
}

namespace {

// The run of `copy` holding `addr`, or -1.
long run_at(const MemoryCopy& copy, uint64_t addr) {
  const auto& runs = copy.runs();
  auto it = std::upper_bound(runs.begin(), runs.end(), addr, [](uint64_t a, const PageRun& r) { return a < r.vaddr; });
  if (it == runs.begin()) return -1;
  --it;
  return addr < it->vaddr + it->npages * kPageSize ? long(it - runs.begin()) : -1;
}

void unprotect(int uffd, uint64_t addr, uint64_t len) {
  uffdio_writeprotect wp{};
  wp.range = {addr, len};
  wp.mode = 0;  // lifts the protection and wakes whoever waits on it
  // An area gone since (unmapped) has no protection left to lift; what it
  // held was checked by the unmap event.
  (void)ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
}

}  // namespace

void Snapshot::run() {
  Shared& s = *shared_;
  // Under the lock: copies the pages of run i in [from, from + n) not copied yet.
  auto copy_missing = [&](Member& m, size_t i, uint64_t from, uint64_t n) {
    const PageRun& r = m.copy->runs()[i];
    const uint64_t first = r.offset / kPageSize + from;
    for (uint64_t k = 0; k < n;) {
      if (m.done[first + k]) {
        ++k;
        continue;
      }
      uint64_t e = k + 1;
      while (e < n && !m.done[first + e]) ++e;
      m.copy->copy(i, from + k, e - k, true);
      std::fill(m.done.begin() + long(first + k), m.done.begin() + long(first + e), 1);
      k = e;
    }
  };
  auto fail = [&](std::string why) {
    if (s.failure.empty()) s.failure = std::move(why);
  };
  // Pages given back (or moved) by the process: lost to the image unless copied already.
  auto check_kept = [&](Member& m, uint64_t start, uint64_t end, const char* how) {
    for (long i = std::max<long>(0, run_at(*m.copy, start)); size_t(i) < m.copy->runs().size(); ++i) {
      const PageRun& r = m.copy->runs()[size_t(i)];
      if (r.vaddr >= end) break;
      if (!m.wp[size_t(i)]) continue;
      const uint64_t lo = std::max(start, r.vaddr), hi = std::min(end, r.vaddr + r.npages * kPageSize);
      for (uint64_t a = lo; a < hi; a += kPageSize)
        if (!m.done[r.offset / kPageSize + (a - r.vaddr) / kPageSize])
          return fail("pid " + std::to_string(m.copy->pid()) + " " + how + " its memory at " + hex(start) + "-" +
                      hex(end) + " before the snapshot had copied it; dump it again, or without --snapshot");
    }
  };
  auto handle = [&](Member& m, const uffd_msg& msg) {
    if (msg.event == UFFD_EVENT_PAGEFAULT) {
      const uint64_t addr = msg.arg.pagefault.address & ~uint64_t(kPageSize - 1);
      {
        std::lock_guard lock(s.mutex);
        const long i = run_at(*m.copy, addr);
        if (i >= 0 && m.wp[size_t(i)]) {
          const PageRun& r = m.copy->runs()[size_t(i)];
          try {
            const uint64_t page = r.offset / kPageSize + (addr - r.vaddr) / kPageSize;
            if (!m.done[page]) ++s.faulted;
            copy_missing(m, size_t(i), (addr - r.vaddr) / kPageSize, 1);
          } catch (const std::exception& e) {
            fail(std::string(e.what()) + " during the snapshot");
          }
        }
      }
      if (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
        unprotect(m.uffd.get(), addr, kPageSize);
      } else {
        uffdio_range range{addr, kPageSize};
        (void)ioctl(m.uffd.get(), UFFDIO_WAKE, &range);
      }
      return;
    }
    std::lock_guard lock(s.mutex);
    if (msg.event == UFFD_EVENT_REMOVE) check_kept(m, msg.arg.remove.start, msg.arg.remove.end, "gave back (madvise)");
    else if (msg.event == UFFD_EVENT_UNMAP) check_kept(m, msg.arg.remove.start, msg.arg.remove.end, "unmapped");
    else if (msg.event == UFFD_EVENT_REMAP)
      check_kept(m, msg.arg.remap.from, msg.arg.remap.from + msg.arg.remap.len, "moved (mremap)");
  };
  // Everything the members did while ckpt was not yet listening (faults,
  // memory given back) is dealt with before the first page is copied.
  auto drain = [&](size_t k) {
    uffd_msg msgs[16];
    ssize_t n;
    while ((n = read(members_[k]->uffd.get(), msgs, sizeof msgs)) > 0)
      for (ssize_t j = 0; j < n / ssize_t(sizeof(uffd_msg)); ++j) handle(*members_[k], msgs[j]);
  };
  for (size_t k = 0; k < members_.size(); ++k) {
    for (const uffd_msg& msg : members_[k]->waiting) handle(*members_[k], msg);
    members_[k]->waiting.clear();
    drain(k);
  }
  // The fault handler: every write fault of every member, until told to stop.
  std::thread handler([&] {
    std::vector<pollfd> fds;
    for (auto& m : members_) fds.push_back({m->uffd.get(), POLLIN, 0});
    fds.push_back({s.stop.get(), POLLIN, 0});
    for (;;) {
      if (poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        std::lock_guard lock(s.mutex);
        return fail(std::string("snapshot: poll: ") + std::strerror(errno));
      }
      if (fds.back().revents) return;
      for (size_t k = 0; k + 1 < fds.size(); ++k)
        if (fds[k].revents) drain(k);
    }
  });
  auto stop_handler = [&] {
    uint64_t one = 1;
    (void)!write(s.stop.get(), &one, sizeof one);
    handler.join();
  };
  // The copier: every protected page, a step at a time, lifting the protection behind it.
  try {
    for (auto& mp : members_) {
      Member& m = *mp;
      const auto& runs = m.copy->runs();
      for (size_t i = 0; i < runs.size(); ++i) {
        if (!m.wp[i]) continue;
        for (uint64_t from = 0; from < runs[i].npages; from += kStepPages) {
          const uint64_t n = std::min(kStepPages, runs[i].npages - from);
          {
            std::lock_guard lock(s.mutex);
            if (!s.failure.empty()) break;
            copy_missing(m, i, from, n);
          }
          unprotect(m.uffd.get(), runs[i].vaddr + from * kPageSize, n * kPageSize);
        }
      }
    }
  } catch (const std::exception& e) {
    stop_handler();
    throw DumpError(std::string(e.what()) + " during the snapshot (it exited or ran another program)");
  }
  stop_handler();
  if (!shared_->failure.empty()) throw DumpError(shared_->failure);
}

uint64_t Snapshot::pages_faulted() const { return shared_->faulted; }

}  // namespace ckpt::dumper
