// Write tracking with userfaultfd async write-protection and PAGEMAP_SCAN,
// and the keeper that holds it between dumps (see DirtyPages.h).
#include "dumper/DirtyPages.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "dumper/Tracee.h"
#include "format/Hex.h"
#include "format/ImageReader.h"
#include "format/ParentLink.h"
#include "x86/ProcMaps.h"
#include "x86/PagemapScan.h"

namespace ckpt::dumper {

using format::hex;
using format::kPageSize;
using format::Vma;

namespace {

using x86::PmScanArg;
using x86::PageRegion;
using x86::kPagemapScan;
using x86::kPmScanWpMatching;
using x86::kPmScanCheckWpAsync;
using x86::kPageIsWritten;
using x86::kPageIsPresent;
using x86::kPageIsSwapped;

// Linux 6.7+ (uapi linux/userfaultfd.h); Debian 12's headers are older.
constexpr uint64_t kUffdFeatureWpUnpopulated = 1ull << 13;
constexpr uint64_t kUffdFeatureWpAsync = 1ull << 15;
constexpr uint64_t kNotOwnKnown = 1ull << 63;  // ours, never the kernel's: see collect
// dump_memory reads pagemap and pages in windows of this size from each
// area's start (kBatchBytes of MemoryDump.cpp): an incremental dump hands it
// only the windows holding pages to read, so that it walks neither the
// pagemap of the rest nor a batch per written page.
constexpr uint64_t kWindow = 4u << 20;

[[noreturn]] void fail(pid_t pid, const std::string& why) { throw DumpError("pid " + std::to_string(pid) + ": " + why); }

// Field 22 of /proc/PID/stat: with the pid, names one process for good
// (a pid used again by another process has another start time).
uint64_t start_time(pid_t pid) {
  std::string s;
  try {
    s = x86::read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  } catch (const std::exception&) {
    fail(pid, "no such process");
  }
  std::istringstream in(s.substr(s.rfind(')') + 2));
  std::string tok;
  for (int field = 3; in >> tok; ++field)
    if (field == 22) return std::stoull(tok);
  fail(pid, "unreadable /proc stat");
}

sockaddr_un keeper_address(pid_t pid, uint64_t start, socklen_t* len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::string name = "ckpt-track/" + std::to_string(pid) + "/" + std::to_string(start);
  std::memcpy(a.sun_path + 1, name.data(), name.size());  // abstract: sun_path[0] is 0
  *len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

enum Op : uint32_t { kGet = 1, kSet = 2, kExit = 3 };
struct Request {
  uint32_t op;
  uint32_t pad;
  uint64_t checksum;
};
struct Reply {
  uint32_t ok;  // kGet: whether `checksum` is the image the tracking goes on from
  uint32_t pad;
  uint64_t checksum;
};

// One request to the keeper of (pid, start); -1 when there is none. With
// kGet, *uffd receives the userfaultfd.
int ask_keeper(pid_t pid, uint64_t start, const Request& req, Reply* reply, int* uffd) {
  ScopedFd s(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return -1;
  socklen_t len;
  sockaddr_un a = keeper_address(pid, start, &len);
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&a), len) != 0) return -1;
  timeval tv{10, 0};
  setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (send(s.get(), &req, sizeof req, MSG_NOSIGNAL) != ssize_t(sizeof req)) return -1;
  iovec io{reply, sizeof *reply};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr m{};
  m.msg_iov = &io;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  if (recvmsg(s.get(), &m, MSG_CMSG_CLOEXEC) != ssize_t(sizeof *reply)) return -1;
  if (uffd) {
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
    std::memcpy(uffd, CMSG_DATA(c), sizeof(int));
  }
  return 0;
}

// The keeper's life (a grandchild of ckpt, so nobody's zombie): holds the
// userfaultfd and answers requests until the process exits or a dump ends
// the tracking.
[[noreturn]] void run_keeper(int listen_fd, int uffd, int pidfd, uint64_t checksum) {
  setsid();
  prctl(PR_SET_NAME, "ckpt-track");
  signal(SIGPIPE, SIG_IGN);
  int keep[3] = {listen_fd, uffd, pidfd};
  std::sort(keep, keep + 3);
  int from = 0;
  for (int k : keep) {
    if (k > from) syscall(SYS_close_range, unsigned(from), unsigned(k - 1), 0u);
    from = k + 1;
  }
  syscall(SYS_close_range, unsigned(from), ~0u, 0u);
  int null = open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3 && null >= 0; ++fd)
    if (null != fd) dup2(null, fd);
  if (null > 2) close(null);
  if (chdir("/") != 0) _exit(1);
  bool valid = true;
  for (;;) {
    pollfd p[2] = {{listen_fd, POLLIN, 0}, {pidfd, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    if (p[1].revents) _exit(0);  // the process is gone
    int c = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    ucred cred{};
    socklen_t cl = sizeof cred;
    timeval tv{5, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    Request req{};
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 || (cred.uid != 0 && cred.uid != geteuid()) ||
        recv(c, &req, sizeof req, 0) != ssize_t(sizeof req)) {
      close(c);
      continue;
    }
    Reply reply{valid ? 1u : 0u, 0, checksum};
    if (req.op == kGet) {
      iovec io{&reply, sizeof reply};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msghdr m{};
      m.msg_iov = &io;
      m.msg_iovlen = 1;
      m.msg_control = control;
      m.msg_controllen = sizeof control;
      cmsghdr* h = CMSG_FIRSTHDR(&m);
      h->cmsg_level = SOL_SOCKET;
      h->cmsg_type = SCM_RIGHTS;
      h->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(h), &uffd, sizeof(int));
      // Whoever takes it changes the tracking: no image is its base until told.
      if (sendmsg(c, &m, MSG_NOSIGNAL) == ssize_t(sizeof reply)) valid = false;
    } else if (req.op == kSet) {
      valid = true;
      checksum = req.checksum;
      send(c, &reply, sizeof reply, MSG_NOSIGNAL);
    } else if (req.op == kExit) {
      send(c, &reply, sizeof reply, MSG_NOSIGNAL);
      _exit(0);
    }
    close(c);
  }
}

// PAGEMAP_SCAN over [start, end) of `pagemap`, protecting every page again
// (WP_MATCHING with no category asked for matches them all); `out` gets
// the regions with their categories. -1 with errno EPERM: the area is not
// registered for async write-protection.
int scan_and_protect(int pagemap, uint64_t start, uint64_t end, std::vector<PageRegion>* out) {
  std::vector<PageRegion> vec(out ? 4096 : 1);
  for (uint64_t at = start; at < end;) {
    PmScanArg a{};
    a.size = sizeof a;
    a.flags = kPmScanWpMatching | kPmScanCheckWpAsync;
    a.start = at;
    a.end = end;
    a.vec = reinterpret_cast<uint64_t>(vec.data());
    a.vec_len = out ? vec.size() : 0;
    a.return_mask = kPageIsWritten | kPageIsPresent | kPageIsSwapped;
    if (!out) a.vec = 0;
    long n = ioctl(pagemap, kPagemapScan, &a);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    // A call may end (walk_end) before the end of a region it reported,
    // and the next one report that region again: keep each page once.
    for (long i = 0; out && i < n; ++i) {
      PageRegion r = vec[size_t(i)];
      if (!out->empty() && r.start < out->back().end) r.start = out->back().end;
      if (r.start < r.end) out->push_back(r);
    }
    if (a.walk_end <= at) {
      errno = EIO;
      return -1;
    }
    at = a.walk_end;
  }
  return 0;
}

}  // namespace

bool ParentPages::contains(uint64_t addr) const {
  auto it = std::upper_bound(runs.begin(), runs.end(), addr, [](uint64_t a, const PageRange& r) { return a < r.end; });
  return it != runs.end() && it->start <= addr;
}

bool ParentPages::is_written(uint64_t start, uint64_t end) const {
  auto it = std::upper_bound(written.begin(), written.end(), start, [](uint64_t a, const PageRange& r) { return a < r.end; });
  return it != written.end() && it->start <= start && end <= it->end;
}

const uint8_t* ParentPages::precopied_data(uint64_t start, uint64_t end) const {
  if (!precopy) return nullptr;
  auto in = [&](const auto& v) {
    auto it = std::upper_bound(v.begin(), v.end(), start, [](uint64_t a, const auto& r) { return a < r.end; });
    return it != v.end() && it->start <= start && end <= it->end ? &*it : nullptr;
  };
  if (!in(precopied)) return nullptr;
  const Precopy::Range* c = in(precopy->copied);
  return c ? precopy->data.get() + c->offset + (start - c->start) : nullptr;
}

uint64_t ParentPages::pages() const {
  uint64_t n = 0;
  for (const PageRange& r : runs) n += (r.end - r.start) / kPageSize;
  return n;
}

ParentRef ParentRef::open(const std::string& path) {
  ParentRef p;
  char* real = realpath(path.c_str(), nullptr);
  if (!real) throw DumpError("--parent " + path + ": " + std::strerror(errno));
  p.path = real;
  free(real);
  int fd;
  try {
    fd = format::open_image(p.path);
  } catch (const std::exception& e) {
    throw DumpError(std::string("--parent: ") + e.what());
  }
  ScopedFd owner(fd);
  try {
    format::ImageReader r(fd);
    if (r.member_count() > 1) throw DumpError("--parent " + path + " is a process tree; incremental dumps are of one process");
    p.checksum = format::image_checksum(r);
    p.depth = r.image().parent ? r.image().parent->depth : 0;
    p.vmas = r.image().vmas;
  } catch (const DumpError&) {
    throw;
  } catch (const std::exception& e) {
    throw DumpError("--parent " + path + " is not a valid image: " + e.what());
  }
  return p;
}

DirtyTracker::DirtyTracker(pid_t pid, int uffd, int pidfd, uint64_t start)
    : pid_(pid), uffd_(uffd), pidfd_(pidfd), start_time_(start) {}

std::unique_ptr<DirtyTracker> DirtyTracker::start(pid_t pid, const x86::InjectionSite& site) {
  const uint64_t st = start_time(pid);
  ScopedFd pidfd(int(syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) fail(pid, std::string("--track: cannot open a pidfd: ") + std::strerror(errno));
  // Tracked already (an earlier --track): this full dump starts it over
  // with the same userfaultfd, which has the areas registered.
  Reply reply{};
  int uffd = -1;
  if (ask_keeper(pid, st, {kGet, 0, 0}, &reply, &uffd) == 0) {
    std::unique_ptr<DirtyTracker> t(new DirtyTracker(pid, uffd, pidfd.release(), st));
    t->from_keeper_ = true;
    t->last_ = reply.ok ? reply.checksum : 0;
    return t;
  }
  long remote = -1;
  {
    x86::RemoteSyscall rs(pid, site);
    remote = rs.call(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
    if (remote < 0) fail(pid, std::string("--track: the process cannot make a userfaultfd: ") + std::strerror(int(-remote)));
    uffd = int(syscall(SYS_pidfd_getfd, pidfd.get(), int(remote), 0));
    const int e = errno;
    rs.call(SYS_close, remote);  // the process's fd table is as it was
    if (uffd < 0) fail(pid, std::string("--track: cannot take the process's userfaultfd: ") + std::strerror(e));
  }
  std::unique_ptr<DirtyTracker> t(new DirtyTracker(pid, uffd, pidfd.release(), st));
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = kUffdFeatureWpAsync | kUffdFeatureWpUnpopulated;
  if (ioctl(t->uffd_.get(), UFFDIO_API, &api) != 0)
    fail(pid, std::string("--track: this kernel has no asynchronous userfaultfd write-protection (Linux 6.7+): ") +
                  std::strerror(errno));
  return t;
}

std::unique_ptr<DirtyTracker> DirtyTracker::from_keeper(pid_t pid, const ParentRef& parent) {
  const uint64_t st = start_time(pid);
  Reply reply{};
  int uffd = -1;
  if (ask_keeper(pid, st, {kGet, 0, 0}, &reply, &uffd) != 0)
    fail(pid, "--parent: its writes are not being tracked (no `ckpt dump --track` of this very process is in "
              "effect): dump it in full with --track first");
  ScopedFd owned(uffd);
  auto give_back = [&] { ask_keeper(pid, st, {kSet, 0, reply.checksum}, &reply, nullptr); };
  if (!reply.ok) {
    fail(pid, "--parent: the last tracked dump of it did not complete, so no image is the base of its tracking: "
              "dump it in full with --track");
  }
  if (reply.checksum != parent.checksum) {
    give_back();
    fail(pid, "--parent " + parent.path + " is not the last image its tracking went on from: pass the newest "
              "image of the chain (or dump it in full with --track)");
  }
  ScopedFd pidfd(int(syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) {
    give_back();
    fail(pid, std::string("cannot open a pidfd: ") + std::strerror(errno));
  }
  std::unique_ptr<DirtyTracker> t(new DirtyTracker(pid, owned.release(), pidfd.release(), st));
  t->from_keeper_ = true;
  t->last_ = reply.checksum;
  return t;
}

DirtyTracker::~DirtyTracker() {
  if (settled_ || !from_keeper_) return;  // a tracker of our own ends with its fd
  // A precopy's protection lifted again: those pages show as written (and
  // its markers go), as before it; if that cannot be, the tracking ends.
  if (!rearmed_ && !undo_.empty() && !undo_lost_)
    for (const PageRange& u : undo_) {
      uffdio_writeprotect wp{};
      wp.range = {u.start, u.end - u.start};
      wp.mode = 0;
      if (ioctl(uffd_.get(), UFFDIO_WRITEPROTECT, &wp) != 0) {  // part of it gone: which pages were written is lost
        undo_lost_ = true;
        break;
      }
    }
  if (undo_lost_) rearmed_ = true;
  // A dump that failed: before the re-arm the keeper's image still holds;
  // after it, nothing does, and the tracking ends.
  Reply reply{};
  if (!rearmed_ && last_) ask_keeper(pid_, start_time_, {kSet, 0, last_}, &reply, nullptr);
  else ask_keeper(pid_, start_time_, {kExit, 0, 0}, &reply, nullptr);
}

uint64_t DirtyTracker::written_bytes(const std::vector<Vma>& vmas) const {
  ScopedFd pagemap(::open(("/proc/" + std::to_string(pid_) + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC));
  if (pagemap.get() < 0) return 0;
  // No PM_SCAN_WP_MATCHING: nothing is protected again, the collect in the freeze still sees every write.
  PmScanArg query{};
  query.category_mask = kPageIsWritten;
  query.category_anyof_mask = kPageIsPresent | kPageIsSwapped;
  query.return_mask = kPageIsWritten;
  uint64_t bytes = 0;
  for (const Vma& v : vmas) {
    if (!format::vma_is_trackable(v)) continue;
    if (!x86::scan_pages(pagemap.get(), v.start, v.end, query, [&](const PageRegion& r) {
          bytes += r.end - r.start;
          return true;
        }))
      return 0;  // e.g. the area is gone: no estimate
  }
  return bytes;
}

std::unique_ptr<Precopy> DirtyTracker::precopy(const std::vector<Vma>& parent_vmas,
                                               const std::vector<PageRange>& registered) {
  ScopedFd pagemap(::open(("/proc/" + std::to_string(pid_) + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC));
  if (pagemap.get() < 0) return nullptr;
  auto p = std::make_unique<Precopy>();
  std::vector<PageRegion> regions;
  // One scan per registered area (as smaps showed them): one that changed
  // since fails as a whole, and what it protected again is lost.
  size_t ri = 0;
  for (const Vma& v : parent_vmas) {
    if (!format::vma_is_trackable(v)) continue;
    while (ri < registered.size() && registered[ri].end <= v.start) ++ri;
    for (size_t k = ri; k < registered.size() && registered[k].start < v.end; ++k) {
      const uint64_t a = std::max(v.start, registered[k].start), b = std::min(v.end, registered[k].end);
      regions.clear();
      if (scan_and_protect(pagemap.get(), a, b, &regions) != 0) {
        p->lost = undo_lost_ = true;
        return p;
      }
      auto add = [](std::vector<PageRange>& to, const PageRegion& r) {
        if (!to.empty() && to.back().end == r.start) to.back().end = r.end;
        else to.push_back({r.start, r.end});
      };
      for (const PageRegion& r : regions) {
        if (!(r.categories & (kPageIsPresent | kPageIsSwapped))) {
          add(p->absent, r);
          add(undo_, r);
        } else if (r.categories & kPageIsWritten) {
          add(p->written, r);
          add(undo_, r);
        }
      }
    }
  }
  uint64_t bytes = 0;
  for (const PageRange& r : p->written) bytes += r.end - r.start;
  if (!bytes) return p;
  p->data.reset(new (std::nothrow) uint8_t[bytes]);
  if (!p->data) return p;  // nothing copied: the freeze copies them
  // Copied while it runs: a page written after its protection above is
  // written again for the freeze's collect, which copies it again.
  constexpr size_t kIovMax = 1024;
  std::vector<iovec> remote;
  uint64_t at = 0;
  for (size_t i = 0; i < p->written.size();) {
    remote.clear();
    uint64_t n = 0;
    size_t j = i;
    for (; j < p->written.size() && remote.size() < kIovMax; ++j) {
      remote.push_back({reinterpret_cast<void*>(p->written[j].start), p->written[j].end - p->written[j].start});
      n += p->written[j].end - p->written[j].start;
    }
    iovec local{p->data.get() + at, n};
    if (process_vm_readv(pid_, &local, 1, remote.data(), remote.size(), 0) == ssize_t(n)) {
      for (size_t k = i; k < j; ++k) {
        const PageRange& w = p->written[k];
        if (!p->copied.empty() && p->copied.back().end == w.start &&
            p->copied.back().offset + (p->copied.back().end - p->copied.back().start) == at)
          p->copied.back().end = w.end;
        else p->copied.push_back({w.start, w.end, at});
        at += w.end - w.start;
      }
    } else {
      at += n;  // something gone meanwhile: the freeze reads these
    }
    i = j;
  }
  return p;
}

DirtyTracker::Collected DirtyTracker::collect(const std::vector<Vma>& vmas, const ParentRef& parent,
                                              const Precopy* pre) {
  ScopedFd pagemap(::open(("/proc/" + std::to_string(pid_) + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC));
  if (pagemap.get() < 0) fail(pid_, std::string("cannot open its pagemap: ") + std::strerror(errno));
  rearmed_ = true;
  Collected out;
  std::vector<PageRange>& runs = out.from_parent.runs;
  std::vector<PageRegion> regions;
  std::vector<bool> windows;  // of the area being scanned: whether dump_memory must look at it
  auto must_read = [&](const Vma& v, uint64_t a, uint64_t b) {
    for (uint64_t w = (a - v.start) / kWindow; w <= (b - 1 - v.start) / kWindow; ++w) windows[w] = true;
  };
  size_t pi = 0;
  for (const Vma& v : vmas) {
    if (!format::vma_is_trackable(v)) {
      out.to_read.push_back(v);
      continue;
    }
    regions.clear();
    if (scan_and_protect(pagemap.get(), v.start, v.end, &regions) != 0) {
      if (errno != EPERM)
        fail(pid_, "cannot scan the written pages of " + hex(v.start) + "-" + hex(v.end) + ": " + std::strerror(errno));
      out.to_read.push_back(v);  // not registered: saved whole (arm() registers it)
      continue;
    }
    windows.assign((v.size() + kWindow - 1) / kWindow, false);
    // Unwritten since the precopy but written before it: written since the
    // parent, with the precopy's copy as their contents (or, if it lost
    // track, every page is taken as written).
    if (pre) {
      std::vector<PageRegion> split;
      for (const PageRegion& r : regions) {
        if ((r.categories & kPageIsWritten) || !(r.categories & (kPageIsPresent | kPageIsSwapped))) {
          split.push_back(r);
          continue;
        }
        uint64_t at = r.start;
        // Lost track: read, but not known to be written (so not read directly).
        const uint64_t how = pre->lost ? kPageIsWritten | kNotOwnKnown : kPageIsWritten;
        auto emit = [&](uint64_t a, uint64_t b, bool written) {
          if (a < b) split.push_back({a, b, r.categories | (written ? how : 0)});
          if (written && !pre->lost && a < b) {
            if (!out.from_parent.precopied.empty() && out.from_parent.precopied.back().end == a)
              out.from_parent.precopied.back().end = b;
            else out.from_parent.precopied.push_back({a, b});
          }
        };
        if (pre->lost) {
          emit(r.start, r.end, true);
          continue;
        }
        // Each page: written before the precopy (its copy stands), absent
        // then (a marker or a page faulted in since: read, it is zero), or
        // neither (the parent's rules).
        auto in = [](const std::vector<PageRange>& v, uint64_t a) {
          auto it = std::upper_bound(v.begin(), v.end(), a, [](uint64_t x, const PageRange& y) { return x < y.end; });
          return it != v.end() && it->start <= a ? it->end : uint64_t(0);
        };
        auto next_edge = [](const std::vector<PageRange>& v, uint64_t a) {
          auto it = std::upper_bound(v.begin(), v.end(), a, [](uint64_t x, const PageRange& y) { return x < y.end; });
          return it == v.end() ? ~uint64_t(0) : it->start;
        };
        while (at < r.end) {
          if (uint64_t e = in(pre->written, at)) {
            emit(at, std::min(e, r.end), true);
            at = std::min(e, r.end);
          } else if (uint64_t e2 = in(pre->absent, at)) {
            const uint64_t b = std::min(e2, r.end);
            split.push_back({at, b, r.categories | kPageIsWritten | kNotOwnKnown});
            at = b;
          } else {
            const uint64_t b = std::min({r.end, next_edge(pre->written, at), next_edge(pre->absent, at)});
            emit(at, b, false);
            at = b;
          }
        }
      }
      regions.swap(split);
    }
    for (const PageRegion& r : regions) {
      // Written (or no page there at all): the ordinary rules decide.
      if ((r.categories & kPageIsWritten) || !(r.categories & (kPageIsPresent | kPageIsSwapped))) {
        if (r.categories & (kPageIsPresent | kPageIsSwapped)) {
          must_read(v, r.start, r.end);
          std::vector<PageRange>& w = out.from_parent.written;
          // KSM may share a written page again
          if (!(v.flags & format::kVmaMergeable) && !(r.categories & kNotOwnKnown)) {
            if (!w.empty() && w.back().end == r.start) w.back().end = r.end;
            else w.push_back({r.start, r.end});
          }
        }
        continue;
      }
      // Unwritten: the parent's, where the parent had a trackable area (it
      // always did, since the area was registered and protected when the
      // parent was dumped); anything else is read rather than trusted.
      uint64_t at = r.start;
      while (pi < parent.vmas.size() && parent.vmas[pi].end <= r.start) ++pi;
      for (size_t k = pi; k < parent.vmas.size() && parent.vmas[k].start < r.end; ++k) {
        const Vma& p = parent.vmas[k];
        if (!format::vma_is_trackable(p)) continue;
        const uint64_t a = std::max(r.start, p.start), b = std::min(r.end, p.end);
        if (a >= b) continue;
        if (a > at) must_read(v, at, a);
        if (!runs.empty() && runs.back().end == a && a != v.start && a != p.start) runs.back().end = b;
        else runs.push_back({a, b});
        at = b;
      }
      if (at < r.end) must_read(v, at, r.end);
    }
    // dump_memory gets the windows with something to read, joined; in
    // them it leaves out the parent's pages (its `from_parent`).
    for (size_t w = 0; w < windows.size();) {
      if (!windows[w]) {
        ++w;
        continue;
      }
      size_t e = w;
      while (e < windows.size() && windows[e]) ++e;
      Vma part = v;
      part.start = v.start + w * kWindow;
      part.end = std::min(v.end, v.start + e * kWindow);
      out.to_read.push_back(std::move(part));
      w = e;
    }
  }
  if (pre && !pre->lost) out.from_parent.precopy = pre;
  return out;
}

size_t DirtyTracker::arm(const std::vector<Vma>& vmas) {
  ScopedFd pagemap(::open(("/proc/" + std::to_string(pid_) + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC));
  if (pagemap.get() < 0) fail(pid_, std::string("cannot open its pagemap: ") + std::strerror(errno));
  rearmed_ = true;
  size_t missed = 0;
  for (const Vma& v : vmas) {
    if (!format::vma_is_trackable(v)) continue;
    if (scan_and_protect(pagemap.get(), v.start, v.end, nullptr) == 0) continue;  // registered: protected again
    uffdio_register reg{};
    reg.range = {v.start, v.size()};
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    if (ioctl(uffd_.get(), UFFDIO_REGISTER, &reg) != 0) {
      ++missed;  // e.g. the process's own userfaultfd has it: saved whole every time
      continue;
    }
    uffdio_writeprotect wp{};
    wp.range = {v.start, v.size()};
    wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
    if (ioctl(uffd_.get(), UFFDIO_WRITEPROTECT, &wp) != 0) {
      uffdio_range r{v.start, v.size()};
      ioctl(uffd_.get(), UFFDIO_UNREGISTER, &r);
      ++missed;
    }
  }
  return missed;
}

void DirtyTracker::keep(uint64_t image_checksum) {
  settled_ = true;
  last_ = image_checksum;
  Reply reply{};
  if (from_keeper_) {
    if (ask_keeper(pid_, start_time_, {kSet, 0, image_checksum}, &reply, nullptr) != 0)
      fail(pid_, "the image is written, but its tracking keeper is gone: tracking has ended");
    return;
  }
  ScopedFd listener(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  socklen_t len;
  sockaddr_un a = keeper_address(pid_, start_time_, &len);
  if (listener.get() < 0 || bind(listener.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      listen(listener.get(), 8) != 0)
    fail(pid_, std::string("the image is written, but tracking cannot be kept (its keeper's socket: ") +
                   std::strerror(errno) + ")");
  pid_t child = fork();
  if (child < 0) fail(pid_, std::string("the image is written, but tracking cannot be kept: fork: ") + std::strerror(errno));
  if (child == 0) {
    if (fork() != 0) _exit(0);
    run_keeper(listener.get(), uffd_.get(), pidfd_.get(), image_checksum);
  }
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  from_keeper_ = true;
}

void DirtyTracker::stop() {
  settled_ = true;
  if (!from_keeper_) return;
  Reply reply{};
  ask_keeper(pid_, start_time_, {kExit, 0, 0}, &reply, nullptr);
  from_keeper_ = false;
}

}  // namespace ckpt::dumper
