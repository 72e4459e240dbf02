// Semantic validation of a decoded image (docs/format.md, "Rules").
#include "format/Validate.h"

#include <sys/mman.h>
#include <zstd.h>

#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iterator>
#include <utility>

#include "format/DeletedFile.h"
#include "format/Hex.h"
#include "format/InetSocket.h"
#include "format/Inotify.h"
#include "format/Pty.h"
#include "format/UnixSocket.h"
#include "format/FormatError.h"
#include "format/Limits.h"
#include "x86/LdtDescriptor.h"
#include "x86/SigFrame.h"

namespace ckpt::format {

bool vma_kind_takes_pages(VmaKind kind) {
  return kind == VmaKind::AnonPrivate || kind == VmaKind::FilePrivate || kind == VmaKind::Heap ||
         kind == VmaKind::Stack || vma_kind_is_private_object(kind) || kind == VmaKind::DevZeroPrivate || kind == VmaKind::FileSharedOwn ||
         kind == VmaKind::HugetlbShared || kind == VmaKind::DeletedPrivate;
}

static uint64_t section_offset(const std::vector<SectionInfo>& sections, SectionType t) {
  for (const SectionInfo& s : sections)
    if (s.type == t) return s.offset;
  return 0;
}

static bool page_aligned(uint64_t v) { return v % kPageSize == 0; }
static uint64_t page_up(uint64_t v) { return (v + kPageSize - 1) & ~uint64_t(kPageSize - 1); }

// Every rule below is O(n log n) in the image's size or better: lookups go
// through sorted copies or binary search, never a scan per record (a
// crafted image with a million records must not make validation quadratic).

// The index of the VMA holding `addr` (vmas sorted, disjoint), or npos.
static size_t vma_at(const std::vector<Vma>& vmas, uint64_t addr) {
  auto it = std::upper_bound(vmas.begin(), vmas.end(), addr, [](uint64_t a, const Vma& v) { return a < v.start; });
  if (it == vmas.begin() || addr >= std::prev(it)->end) return SIZE_MAX;
  return size_t(std::prev(it) - vmas.begin());
}

// Whether [addr, addr + len) lies in VMAs with all of `prot`, without gaps.
static bool covered(const std::vector<Vma>& vmas, uint64_t addr, uint64_t len, uint32_t prot) {
  size_t i = vma_at(vmas, addr);
  for (uint64_t at = addr; i != SIZE_MAX && i < vmas.size() && vmas[i].start <= at; ++i) {
    if ((vmas[i].prot & prot) != prot) return false;
    if (addr + len <= vmas[i].end) return true;
    at = vmas[i].end;
  }
  return false;
}

static void validate_cpu_state(const Image& image, const std::vector<SectionInfo>& sections);

// The SysV segments: sorted by id, each sane, each attached somewhere.
static void validate_sysv(const Image& image, const std::vector<SectionInfo>& sections) {
  const uint64_t at = section_offset(sections, SectionType::SysvShm);
  const std::vector<SysvSegment>& segs = image.sysv_shm;
  for (size_t i = 0; i < segs.size(); ++i) {
    const SysvSegment& g = segs[i];
    auto bad = [&](const std::string& why) {
      throw FormatError(at, "SysV segment #" + std::to_string(i) + " (id " + std::to_string(g.id) + "): " + why);
    };
    if (g.id < 0 || (i && g.id <= segs[i - 1].id)) bad("ids not ascending");
    if (g.size == 0 || g.size > (1ull << 46)) bad("size out of range");
    if (g.mode & ~uint32_t(0777 | kShmDest)) bad("unknown mode bits");
    if ((g.mode & kShmDest) && g.key != 0) bad("marked for removal but has a key");
    uint64_t prev = 0;
    for (const SharedObject::Extent& e : g.data)
      if (e.offset < prev || e.bytes.empty() || e.offset > g.size || e.bytes.size() > g.size - e.offset)
        bad("data extent out of order or outside the segment");
      else prev = e.offset + e.bytes.size();
  }
  std::vector<bool> attached(segs.size(), false);
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    const Vma& v = image.vmas[i];
    if (v.kind != VmaKind::SysvShm) continue;
    auto it = std::lower_bound(segs.begin(), segs.end(), v.file.ino,
                               [](const SysvSegment& g, uint64_t id) { return uint64_t(g.id) < id; });
    if (it == segs.end() || uint64_t(it->id) != v.file.ino)
      throw FormatError(at, "VMA #" + std::to_string(i) + " attaches SysV segment " + std::to_string(v.file.ino) +
                                ", which is not in the image");
    if (v.pgoff != 0 || v.size() != (it->size + kPageSize - 1) / kPageSize * kPageSize)
      throw FormatError(at, "VMA #" + std::to_string(i) + " is not a whole attachment of SysV segment " +
                                std::to_string(it->id));
    attached[size_t(it - segs.begin())] = true;
  }
  for (size_t i = 0; i < segs.size(); ++i)
    if (!attached[i]) throw FormatError(at, "SysV segment " + std::to_string(segs[i].id) + " is attached nowhere");
}

// What the restorer could otherwise only find out from a failing system
// call: fd numbers used twice, epoll entries it cannot add, locks or timers
// the kernel would refuse. Sorting makes it O(n log n) in fds, targets, locks.
static void validate_descriptions(const FileTable& files, int32_t lowest_fd,
                                  const std::function<void(const std::string&)>& bad_files) {
  std::vector<int32_t> numbers;
  for (const FdEntry& f : files.fds) {
    auto bad_fd = [&](const std::string& why) { bad_files("fd " + std::to_string(f.fd) + ": " + why); };
    numbers.push_back(f.fd);
    int32_t prev = f.fd;
    for (const FdNumber& d : f.dups) {
      if (d.fd <= prev || d.fd >= int32_t(kMaxFds)) bad_fd("its other fd numbers must be above it, ascending and < 2^20");
      if (d.cloexec > 1) bad_fd("cloexec of fd " + std::to_string(d.fd) + " is not 0 or 1");
      numbers.push_back(prev = d.fd);
    }
    const uint32_t access = f.flags & O_ACCMODE;
    // An O_PATH descriptor only names its file: no other flag O_PATH drops,
    // no offset, lock or owner, and only on what is reopened by path.
    if (f.flags & O_PATH) {
      if (f.kind != FdKind::RegularFile && f.kind != FdKind::Directory && f.kind != FdKind::CharDevice)
        bad_fd("O_PATH on kind " + std::string(fd_kind_name(f.kind)));
      if (f.flags & ~uint32_t(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_LARGEFILE))
        bad_fd("O_PATH with flags it does not keep");
      if (f.pos != 0 || !f.locks.empty() || f.owner != kOwnerNone) bad_fd("O_PATH with an offset, a lock or an owner");
      if (f.file.path.rfind("/proc/self", 0) == 0) bad_fd("O_PATH on a file of the process's own /proc directory");
    }
    for (const FileLock& l : f.locks) {
      std::string what = std::string(lock_kind_name(l.kind)) + " ";
      if (l.write > 1) bad_fd(what + "type is not 0 (read) or 1 (write)");
      bool ranged = l.kind == LockKind::Posix || l.kind == LockKind::Ofd;
      if (ranged && (l.start < 0 || l.length < 0 || l.length > INT64_MAX - l.start)) bad_fd(what + "range out of bounds");
      if (!ranged && (l.start != 0 || l.length != 0)) bad_fd(what + "has a range");
      if (f.kind != FdKind::RegularFile && f.kind != FdKind::DeletedFile && f.kind != FdKind::Memfd &&
          !(l.kind == LockKind::Flock && f.kind == FdKind::Directory))
        bad_fd(what + "on a " + fd_kind_name(f.kind) + ", which this version does not lock");
      if (ranged && (l.write ? access == O_RDONLY : access == O_WRONLY))
        bad_fd(what + (l.write ? "for writing on an fd not open for writing" : "for reading on an fd not open for reading"));
      if (l.kind == LockKind::Lease && f.kind != FdKind::RegularFile) bad_fd("lease on something other than a regular file");
    }
    if (f.kind == FdKind::TimerFd) {
      if (f.timer_flags & ~3u) bad_fd("unknown timerfd flags");
      if (f.clockid != 0 && f.clockid != 1 && f.clockid != 7 && f.clockid != 8 && f.clockid != 9)
        bad_fd("timerfd clock " + std::to_string(f.clockid) + " is not one timerfd takes");
      if (f.expiry_ns < 0) bad_fd("negative timer expiry");
    } else if (f.timer_flags || f.ticks || f.expiry_ns) {
      bad_fd("timer fields on kind " + std::string(fd_kind_name(f.kind)));
    }
    if (f.owner > kOwnerThread) bad_fd("unknown owner kind " + std::to_string(f.owner));
    if (f.owner_signal < 0 || f.owner_signal > int32_t(kSignalCount)) bad_fd("owner signal out of range");
    if (f.kind != FdKind::Epoll && !f.targets.empty()) bad_fd("epoll targets on kind " + std::string(fd_kind_name(f.kind)));
  }
  int32_t prev_stdio = lowest_fd - 1;
  for (const StdioDup& d : files.stdio_dups) {
    std::string what = "fd " + std::to_string(d.fd) + " (a dup of fd " + std::to_string(d.of) + ")";
    if (d.fd <= prev_stdio || d.fd >= int32_t(kMaxFds))
      bad_files(what + ": dups of the root's fds 0-2 must be above " + std::to_string(lowest_fd - 1) +
                ", ascending and < 2^20");
    if (d.of < 0 || d.of > 2) bad_files(what + ": not a dup of fd 0, 1 or 2");
    if (d.cloexec > 1) bad_files(what + ": cloexec is not 0 or 1");
    numbers.push_back(prev_stdio = d.fd);
  }
  std::sort(numbers.begin(), numbers.end());
  for (size_t i = 1; i < numbers.size(); ++i)
    if (numbers[i] == numbers[i - 1]) bad_files("fd " + std::to_string(numbers[i]) + " belongs to two open files");

  // files.fds is sorted by fd (checked by the caller), so a target's file is found by binary search.
  auto find = [&](int32_t fd) -> const FdEntry* {
    auto it = std::lower_bound(files.fds.begin(), files.fds.end(), fd,
                               [](const FdEntry& e, int32_t n) { return e.fd < n; });
    return it != files.fds.end() && it->fd == fd ? &*it : nullptr;
  };
  for (const FdEntry& f : files.fds) {
    if (f.kind != FdKind::Epoll) continue;
    auto bad_fd = [&](const std::string& why) { bad_files("epoll fd " + std::to_string(f.fd) + ": " + why); };
    std::vector<std::pair<int32_t, int32_t>> keys;  // (number, file): what the kernel keys an entry by
    for (const EpollTarget& t : f.targets) {
      std::string what = "entry for fd " + std::to_string(t.fd);
      if (t.fd < 0 || t.fd >= int32_t(kMaxFds)) bad_fd(what + ": number out of range");
      if (t.file < 0 || t.file >= int32_t(kMaxFds)) bad_fd(what + ": watched file out of range");
      if (t.file >= lowest_fd) {
        const FdEntry* g = find(t.file);
        if (!g) bad_fd(what + ": watches fd " + std::to_string(t.file) + "'s file, which is not in the image");
        if (g == &f) bad_fd(what + ": watches itself");
        if (g->kind == FdKind::RegularFile || g->kind == FdKind::Directory || g->kind == FdKind::DeletedFile ||
            g->kind == FdKind::Memfd)
          bad_fd(what + ": watches a " + fd_kind_name(g->kind) + ", which epoll cannot watch");
      }
      // What epoll_ctl(EPOLL_CTL_ADD) refuses with EPOLLEXCLUSIVE.
      constexpr uint32_t kExclusive = 1u << 28, kWakeup = 1u << 29, kEdge = 1u << 31;
      constexpr uint32_t kExclusiveOk = 0x001 | 0x004 | 0x008 | 0x010 | kWakeup | kEdge | kExclusive;  // IN OUT ERR HUP
      if ((t.events & kExclusive) && (t.events & ~kExclusiveOk)) bad_fd(what + ": EPOLLEXCLUSIVE with bits it excludes");
      keys.emplace_back(t.fd, t.file);
    }
    std::sort(keys.begin(), keys.end());
    for (size_t i = 1; i < keys.size(); ++i)
      if (keys[i] == keys[i - 1]) bad_fd("fd " + std::to_string(keys[i].first) + " is watched twice for one file");
  }
}

void validate_image(const Image& image, const std::vector<SectionInfo>& sections, bool root, const Image* parent) {
  // The root's fds 0-2 are restore's own; another member's are its own records.
  const int32_t lowest_fd = root ? 3 : 0;
  validate_sysv(image, sections);
  validate_tcp_connections(image, sections);
  const uint64_t files_at = section_offset(sections, SectionType::Files);
  auto bad_files = [&](const std::string& why) { throw FormatError(files_at, "files: " + why); };
  // Shared objects by id, sorted: duplicates are neighbours, lookups binary searches.
  std::vector<std::pair<uint64_t, size_t>> object_ids;
  object_ids.reserve(image.files.objects.size());
  for (size_t i = 0; i < image.files.objects.size(); ++i) object_ids.emplace_back(image.files.objects[i].id, i);
  std::sort(object_ids.begin(), object_ids.end());
  for (size_t i = 1; i < object_ids.size(); ++i)
    if (object_ids[i].first == object_ids[i - 1].first)
      bad_files("duplicate shared object " + std::to_string(object_ids[i].first));
  auto find_object = [&](uint64_t id) -> const SharedObject* {
    auto it = std::lower_bound(object_ids.begin(), object_ids.end(), std::make_pair(id, size_t(0)));
    return it != object_ids.end() && it->first == id ? &image.files.objects[it->second] : nullptr;
  };

  const uint64_t vmas_at = section_offset(sections, SectionType::Vmas);
  const std::vector<Vma>& vmas = image.vmas;
  if (vmas.empty()) throw FormatError(vmas_at, "image has no memory areas");
  int specials[3] = {};
  uint64_t prev_end = 0;
  for (size_t i = 0; i < vmas.size(); ++i) {
    const Vma& v = vmas[i];
    auto bad = [&](const std::string& why) {
      throw FormatError(vmas_at, "VMA #" + std::to_string(i) + " [" + hex(v.start) + "-" + hex(v.end) + "): " + why);
    };
    if (!page_aligned(v.start) || !page_aligned(v.end)) bad("not page-aligned");
    if (v.start >= v.end) bad("empty or inverted range");
    if (v.end > kUserSpaceEnd) bad("beyond the user-space limit " + hex(kUserSpaceEnd));
    if (v.start < prev_end) bad("overlaps or is out of order with the previous VMA");
    prev_end = v.end;
    if (v.prot & ~uint32_t(PROT_READ | PROT_WRITE | PROT_EXEC)) bad("unknown protection bits");
    if (v.flags & ~uint32_t(kVmaKnownFlags)) bad("unknown flag bits");
    if (vma_kind_has_object(v.kind)) {
      const SharedObject* o = find_object(v.file.ino);
      if (!o) bad("shared memory object " + std::to_string(v.file.ino) + " is not in the files section");
      if (!page_aligned(v.pgoff) || v.pgoff > (1ull << 46)) bad("shared memory offset out of range");
      if (o->memfd != vma_kind_is_memfd(v.kind)) bad("shared memory object of the wrong kind");
      // F_ADD_SEALS refuses F_SEAL_WRITE while a writable shared mapping exists.
      if (o->memfd && (o->seals & 0x0008) && (v.prot & PROT_WRITE) && vma_kind_is_shm(v.kind)) bad("writable mapping of a write-sealed memfd");
    } else if (vma_kind_has_file(v.kind)) {
      if (v.file.path.empty() || v.file.path[0] != '/') bad("file mapping without an absolute path");
      if (!page_aligned(v.pgoff)) bad("file offset not page-aligned");
      if (v.pgoff > (1ull << 62)) bad("file offset out of range");
    } else if (vma_kind_is_deleted(v.kind)) {
      // checked by validate_deleted_files
    } else if (v.kind == VmaKind::HugetlbShared) {
      if (v.pgoff != 0) bad("a shared huge-page mapping at an offset");
    } else if (v.kind == VmaKind::FileSharedOwn) {
      const std::string& p = v.file.path;
      size_t slash = p.rfind('/');
      if (p.empty() || p[0] != '/' || slash == 0 || slash + 1 >= p.size() ||
          p.find_first_not_of("0123456789", slash + 1) != std::string::npos || p.find("/../") != std::string::npos)
        bad("a per-process file mapping whose path is not /DIR/PID");
      if (v.pgoff != 0 || v.file.size > v.size()) bad("a per-process file mapping that does not map its whole file");
    } else if (v.kind == VmaKind::SysvShm) {
      if (v.file.path.rfind("/SYSV", 0) != 0) bad("a SysV attachment without its /SYSV name");
    } else if (v.kind == VmaKind::DevZeroPrivate) {
      if (v.file.path != "/dev/zero" || !page_aligned(v.pgoff) || v.pgoff > (1ull << 46))
        bad("a devzero-private mapping not of /dev/zero, or at an offset out of range");
    } else if (!v.file.path.empty() || v.pgoff != 0) {
      bad("a " + std::string(vma_kind_name(v.kind)) + " mapping has a file");
    }
    if ((v.flags & kVmaHugetlb) != 0) {
      if (v.kind != VmaKind::AnonPrivate && v.kind != VmaKind::HugetlbShared) bad("huge-page flag on a kind without huge pages");
      if (v.start % vma_alignment(v) || v.end % vma_alignment(v)) bad("huge-page memory not aligned to its page size");
    } else if (v.kind == VmaKind::HugetlbShared || (v.flags & kVmaHuge1G)) {
      bad("huge-page kind or size without the huge-page flag");
    }
    // The kernel takes MADV_WIPEONFORK only on memory with no file behind
    // it (not shared, not huge-page, not even /dev/zero's).
    if ((v.flags & kVmaWipeOnFork) &&
        ((v.kind != VmaKind::AnonPrivate && v.kind != VmaKind::Heap && v.kind != VmaKind::Stack) || (v.flags & kVmaHugetlb)))
      bad("wipe-on-fork flag on a kind with a file behind it");
    uint64_t guard_end = v.start;
    for (const GuardRange& g : v.guards) {
      if (!page_aligned(g.start) || !page_aligned(g.end) || g.start >= g.end) bad("guard range not page-aligned or empty");
      if (g.start < guard_end || g.end > v.end) bad("guard range " + hex(g.start) + " out of order or outside the VMA");
      guard_end = g.end;
    }
    if (!v.guards.empty() && (vma_kind_is_special(v.kind) || (v.flags & (kVmaLocked | kVmaHugetlb))))
      bad("guard pages in a vdso/vvar, locked or huge-page VMA");
    if (vma_kind_is_special(v.kind) && ++specials[uint32_t(v.kind) - uint32_t(VmaKind::Vdso)] > 1)
      bad(std::string("second ") + vma_kind_name(v.kind));
    if (v.kind == VmaKind::Vdso && v.size() != image.mm.vdso_size) bad("vdso size differs from the mm section's");
  }
  if (!specials[0] && image.mm.vdso_size != 0) throw FormatError(vmas_at, "mm section names a vdso but no VMA is one");

  const uint64_t mm_at = section_offset(sections, SectionType::Mm);
  const MmInfo& m = image.mm;
  for (uint64_t a : {m.start_code, m.end_code, m.start_data, m.end_data, m.start_brk, m.brk, m.start_stack, m.arg_start,
                     m.arg_end, m.env_start, m.env_end})
    if (a >= kUserSpaceEnd) throw FormatError(mm_at, "mm address " + hex(a) + " beyond the user-space limit");
  if (m.start_code > m.end_code || m.start_data > m.end_data || m.start_brk > m.brk || m.arg_start > m.arg_end ||
      m.env_start > m.env_end)
    throw FormatError(mm_at, "mm ranges are inverted");
  if (m.auxv.size() % 16) throw FormatError(mm_at, "auxv is not a whole number of entries");
  for (uint64_t g : {m.syscall_gadget, m.sigreturn_gadget}) {
    if (!g) continue;
    size_t vi = vma_at(vmas, g);
    bool in_code = vi != SIZE_MAX && (vmas[vi].prot & PROT_EXEC) &&
                   (vmas[vi].kind == VmaKind::FilePrivate || vmas[vi].kind == VmaKind::Vdso);
    if (!in_code) throw FormatError(mm_at, "resume gadget " + hex(g) + " is not inside the process's code");
  }

  const uint64_t task_at = section_offset(sections, SectionType::Task);
  const TaskState& task = image.task;
  auto bad_task = [&](const std::string& why) { throw FormatError(task_at, "task: " + why); };
  if (task.umask & ~0777u) bad_task("umask has bits beyond 0777");
  if (task.pdeath_signal < 0 || task.pdeath_signal > int32_t(kSignalCount)) bad_task("invalid parent-death signal");
  if (task.dumpable < 0 || task.dumpable > 2) bad_task("invalid dumpable mode");
  if (task.no_new_privs > 1 || task.thp_disable > 1) bad_task("invalid no_new_privs or THP-disable flag");
  for (unsigned sig = 1; sig <= kSignalCount; ++sig) {
    const SigAction& a = task.sigactions[sig - 1];
    if ((sig == 9 || sig == 19) && a.handler != 0) bad_task("SIGKILL and SIGSTOP cannot have a handler");
    if (a.handler >= kUserSpaceEnd || a.restorer >= kUserSpaceEnd)
      bad_task("signal " + std::to_string(sig) + " has a handler beyond user space");
  }
  for (const Itimer& i : task.itimers)
    if (i.interval_sec < 0 || i.value_sec < 0 || i.interval_usec < 0 || i.value_usec < 0 ||
        i.interval_usec > 999999 || i.value_usec > 999999)
      bad_task("invalid interval timer");
  if (task.oom_score_adj < -1000 || task.oom_score_adj > 1000) bad_task("oom_score_adj out of [-1000, 1000]");
  if (task.membarrier & ~kMembarrierRegistrations) bad_task("unknown membarrier registration bits");
  if ((task.mdwe & ~kMdweFlags) || task.mdwe == 2) bad_task("invalid memory-deny-write-execute flags");
  if (task.monotonic_ns < 0 || task.boottime_ns < 0) bad_task("negative clock value");


  for (const SharedObject& o : image.files.objects) {
    if (o.size > (1ull << 46)) bad_files("shared object size out of range");
    if (o.mode & ~0777u) bad_files("shared object " + std::to_string(o.id) + " has mode bits beyond 0777");
    // F_SEAL_SEAL, SHRINK, GROW, WRITE, FUTURE_WRITE, EXEC: anything else F_ADD_SEALS refuses.
    if (o.seals & ~uint32_t(0x3f)) bad_files("shared object " + std::to_string(o.id) + " has unknown seals");
    if (o.seals && !o.memfd) bad_files("shared object " + std::to_string(o.id) + " is sealed but not a memfd");
    uint64_t end = 0;
    for (const SharedObject::Extent& e : o.data) {
      if (e.offset < end || e.offset > o.size || e.bytes.size() > o.size - e.offset)
        bad_files("shared object " + std::to_string(o.id) + " has an extent out of order or beyond its size");
      end = e.offset + e.bytes.size();
    }
  }
  const std::vector<FdEntry>& fds = image.files.fds;
  // Sorted and unique first: validate_descriptions looks fds up by binary search.
  int32_t prev_fd = lowest_fd - 1;
  for (const FdEntry& f : fds) {
    if (f.fd <= prev_fd)
      bad_files("fd " + std::to_string(f.fd) + ": fds must be above " + std::to_string(lowest_fd - 1) +
                ", sorted and unique");
    prev_fd = f.fd;
  }
  // Pipe ends by pipe: (inode, fd index), for the per-pipe rules below.
  std::vector<std::pair<uint64_t, size_t>> pipe_ends;
  for (const FdEntry& f : fds) {
    auto bad_fd = [&](const std::string& why) { bad_files("fd " + std::to_string(f.fd) + ": " + why); };
    if (f.fd >= int32_t(kMaxFds)) bad_fd("number too large");
    bool has_path = f.kind == FdKind::RegularFile || f.kind == FdKind::Directory || f.kind == FdKind::CharDevice ||
                    f.kind == FdKind::DeletedFile || f.kind == FdKind::Fifo;
    if (has_path && (f.file.path.empty() || f.file.path[0] != '/')) bad_fd("no absolute path");
    if (f.kind == FdKind::Memfd) {
      const SharedObject* o = find_object(f.object);
      if (!o || !o->memfd) bad_fd("its memfd object is not in the files section");
    }
    if (f.kind == FdKind::TimerFd && (f.value_ns < 0 || f.interval_ns < 0)) bad_fd("negative timer");
    if ((f.kind == FdKind::Pipe || f.kind == FdKind::Fifo) && f.contents.size() > f.pipe_size)
      bad_fd("more unread data than the pipe holds");
    // The data goes back through the pipe with this end holding it open for
    // reading; written into a pipe nobody reads, it would raise SIGPIPE.
    if ((f.kind == FdKind::Pipe || f.kind == FdKind::Fifo) && !f.contents.empty() && (f.flags & O_ACCMODE) == O_WRONLY)
      bad_fd("unread data on an end that cannot read");
    validate_inotify(f, bad_fd);
    if (f.kind == FdKind::Pipe && !f.external) pipe_ends.emplace_back(f.object, size_t(&f - fds.data()));
  }
  // A pipe's unread data is written back through its one buffer, whichever
  // fds carry it: together it must fit, and all ends must agree on the size.
  std::sort(pipe_ends.begin(), pipe_ends.end());
  for (size_t i = 0; i < pipe_ends.size();) {
    size_t j = i;
    uint64_t total = 0;
    const FdEntry& first = fds[pipe_ends[i].second];
    for (; j < pipe_ends.size() && pipe_ends[j].first == pipe_ends[i].first; ++j) {
      const FdEntry& f = fds[pipe_ends[j].second];
      if (f.pipe_size != first.pipe_size)
        bad_files("fd " + std::to_string(f.fd) + ": pipe size differs from fd " + std::to_string(first.fd) +
                  "'s, an end of the same pipe");
      total += f.contents.size();
    }
    if (total > first.pipe_size)
      bad_files("fd " + std::to_string(first.fd) + ": its pipe's ends carry " + std::to_string(total) +
                " bytes of unread data, more than the pipe holds (" + std::to_string(first.pipe_size) + ")");
    i = j;
  }
  validate_descriptions(image.files, lowest_fd, bad_files);
  const uint64_t sockets_at = section_offset(sections, SectionType::InetSockets);
  validate_inet_sockets(image.files, [&](const std::string& why) {
    throw FormatError(sockets_at ? sockets_at : files_at, "inet_sockets: " + why);
  });
  validate_deleted_files(image, bad_files);
  {
    const uint64_t at = section_offset(sections, SectionType::UnixSockets);
    std::vector<uint64_t> socket_fds;
    for (const FdEntry& f : fds)
      if (f.kind == FdKind::UnixSocket && !f.external) socket_fds.push_back(f.object);
    validate_unix_sockets(image.files.unix_sockets, std::move(socket_fds),
                          [&](const std::string& why) { throw FormatError(at ? at : files_at, "unix_sockets: " + why); });
  }
  auto bad_ptys = [&](const std::string& why) {
    throw FormatError(section_offset(sections, image.ptys.empty() ? SectionType::Files : SectionType::Ptys), why);
  };
  validate_ptys(image, bad_ptys);  // across the tree's members: validate_tree
  const uint64_t terminal_at = image.terminal ? section_offset(sections, SectionType::Terminal) : files_at;
  validate_terminal(image, [&](const std::string& why) { throw FormatError(terminal_at, "terminal: " + why); });
  // Scheduling and credentials: required, since without them a restore
  // could not tell whether the process would run as it did.
  if (!image.scheduling) throw FormatError(task_at, "the member has no scheduling section");
  if (!image.credentials) throw FormatError(task_at, "the member has no credentials section");
  const uint64_t sched_at = section_offset(sections, SectionType::Scheduling);
  validate_scheduling(*image.scheduling, [&](const std::string& why) { throw FormatError(sched_at, "scheduling: " + why); });
  const uint64_t creds_at = section_offset(sections, SectionType::Credentials);
  validate_credentials(*image.credentials,
                       [&](const std::string& why) { throw FormatError(creds_at, "credentials: " + why); });
  if (!image.seccomp.empty()) {
    const uint64_t seccomp_at = section_offset(sections, SectionType::Seccomp);
    auto bad_seccomp = [&](const std::string& why) { throw FormatError(seccomp_at, "seccomp: " + why); };
    validate_seccomp(image.seccomp, bad_seccomp);
    if (image.credentials->seccomp_mode != 2 || image.credentials->seccomp_filters != image.seccomp.size())
      bad_seccomp(std::to_string(image.seccomp.size()) + " filters, where the credentials say " +
                  std::to_string(image.credentials->seccomp_filters) + " in mode " +
                  std::to_string(image.credentials->seccomp_mode));
  }

  const uint64_t threads_at = section_offset(sections, SectionType::Threads);
  std::vector<int32_t> tids;
  for (const ThreadState& t : image.threads) tids.push_back(t.tid);
  std::sort(tids.begin(), tids.end());
  if (auto d = std::adjacent_find(tids.begin(), tids.end()); d != tids.end())
    throw FormatError(threads_at, "thread id " + std::to_string(*d) + " appears twice");
  for (const ThreadState& t : image.threads) {
    if (t.tid <= 0) throw FormatError(threads_at, "thread id " + std::to_string(t.tid) + " is invalid");
    if (t.xsave.size() < 576) throw FormatError(threads_at, "XSAVE area is smaller than its legacy part and header");
    auto bad = [&](const std::string& why) {
      throw FormatError(threads_at, "thread " + std::to_string(t.tid) + ": " + why);
    };
    if (t.gpr[RIP] >= kUserSpaceEnd || t.gpr[RSP] >= kUserSpaceEnd) bad("non-user instruction or stack pointer");
    // arch_prctl(ARCH_SET_FS/GS) refuses a non-user base with EPERM.
    if (t.gpr[FS_BASE] >= kUserSpaceEnd || t.gpr[GS_BASE] >= kUserSpaceEnd) bad("fs or gs base beyond user space");
    // What the kernel would refuse after the point of no return is refused here.
    if (t.robust_list_len != 24) bad("robust list length is not sizeof(struct robust_list_head)");
    if (t.robust_list >= kUserSpaceEnd || t.clear_child_tid >= kUserSpaceEnd) bad("robust list or clear-child-tid address beyond user space");
    if (t.rseq.address &&
        (t.rseq.address % 32 || t.rseq.length < 32 || t.rseq.length > 4096 ||
         t.rseq.address >= kUserSpaceEnd - t.rseq.length))
      bad("rseq area is misaligned, of an invalid length, or beyond user space");
    // The kernel writes the area on every return to user space: outside
    // writable memory, the restored thread would die of SIGSEGV at once.
    if (t.rseq.address && !covered(vmas, t.rseq.address, t.rseq.length, PROT_READ | PROT_WRITE))
      bad("rseq area is not in readable and writable memory");
    if (t.cached_tid_address % 4 || t.cached_tid_address >= kUserSpaceEnd) bad("invalid cached tid address");
    const int32_t known_ss = 1 | 2 | int32_t(1u << 31);  // SS_ONSTACK, SS_DISABLE, SS_AUTODISARM
    if (t.altstack_flags & ~known_ss) bad("unknown alternate stack flags");
    if (!(t.altstack_flags & 2) && (t.altstack_sp >= kUserSpaceEnd || t.altstack_size > kUserSpaceEnd - t.altstack_sp))
      bad("alternate stack beyond user space");
  }

  // POSIX timers, once the threads they may signal are known to be valid.
  {
    std::vector<int32_t> tids;
    for (const ThreadState& t : image.threads) tids.push_back(t.tid);
    std::sort(tids.begin(), tids.end());
    int64_t prev_id = -1;
    for (const PosixTimer& p : task.timers) {
      auto bad_timer = [&](const std::string& why) { bad_task("POSIX timer " + std::to_string(p.id) + ": " + why); };
      if (p.id <= prev_id) bad_timer("ids must be non-negative, sorted and unique");
      prev_id = p.id;
      if (!timer_clock_is_restorable(p.clock)) bad_timer("clock " + std::to_string(p.clock) + " cannot be restored");
      if (p.notify != kNotifySignal && p.notify != kNotifyNone && p.notify != kNotifyThread && p.notify != kNotifyThreadId)
        bad_timer("unknown notification " + std::to_string(p.notify));
      if (p.notify != kNotifyNone && (p.signo < 1 || p.signo > int32_t(kSignalCount)))
        bad_timer("invalid signal " + std::to_string(p.signo));
      if ((p.notify == kNotifyThreadId) != (p.target_tid != 0)) bad_timer("target thread given without SIGEV_THREAD_ID or missing");
      if (p.target_tid && !std::binary_search(tids.begin(), tids.end(), p.target_tid))
        bad_timer("targets thread " + std::to_string(p.target_tid) + ", which is not in the image");
      if (p.value_ns < 0 || p.interval_ns < 0) bad_timer("negative time");
    }
  }
  const uint64_t index_at = section_offset(sections, SectionType::PageIndex);
  uint64_t data_begin = 0, data_end = 0;
  for (const SectionInfo& s : sections)
    if (s.type == SectionType::PageData) data_begin = s.payload(), data_end = s.payload() + s.length;
  size_t vi = 0, gi = 0;
  uint64_t prev = 0;
  for (size_t i = 0; i < image.chunks.size(); ++i) {
    const PageChunk& c = image.chunks[i];
    auto bad = [&](const std::string& why) {
      throw FormatError(index_at, "chunk #" + std::to_string(i) + " at " + hex(c.vaddr) + ": " + why);
    };
    if (c.npages == 0 || c.npages > kMaxChunkPages) bad("page count " + std::to_string(c.npages) + " out of range");
    if (!page_aligned(c.vaddr)) bad("address not page-aligned");
    if (c.vaddr < prev) bad("overlaps or is out of order with the previous chunk");
    if (c.vaddr >= kUserSpaceEnd || c.size() > kUserSpaceEnd - c.vaddr) bad("beyond the user-space limit");
    prev = c.vaddr + c.size();
    while (vi < vmas.size() && vmas[vi].end <= c.vaddr) ++vi;
    if (vi == vmas.size() || c.vaddr < vmas[vi].start || prev > vmas[vi].end) bad("not inside one VMA");
    if (!vma_kind_takes_pages(vmas[vi].kind)) bad(std::string("inside a ") + vma_kind_name(vmas[vi].kind) + " VMA");
    // Guard pages hold nothing: no chunk may cover one (chunks and guards are both sorted).
    if (i == 0 || vmas[vi].start > image.chunks[i - 1].vaddr) gi = 0;
    const std::vector<GuardRange>& guards = vmas[vi].guards;
    while (gi < guards.size() && guards[gi].end <= c.vaddr) ++gi;
    if (gi < guards.size() && guards[gi].start < prev) bad("covers a guard page");
    // A page of a file mapping past the file's last page cannot be touched
    // (SIGBUS), so no real process has one saved; staging would die on it.
    if (vmas[vi].kind == VmaKind::FilePrivate &&
        vmas[vi].pgoff + (prev - vmas[vi].start) > page_up(vmas[vi].file.size))
      bad("saved pages lie past the end of " + vmas[vi].file.path + " (" + std::to_string(vmas[vi].file.size) + " bytes)");
    if (vmas[vi].kind == VmaKind::DeletedPrivate) {
      const DeletedFile* d = find_deleted(image.files.deleted, vmas[vi].file.ino);  // present: checked above
      if (d && vmas[vi].pgoff + (prev - vmas[vi].start) > page_up(d->size))
        bad("saved pages lie past the end of the deleted file " + d->path + " (" + std::to_string(d->size) + " bytes)");
    }
    if (c.inherited()) {
      if (c.offset || c.stored_size || c.checksum) bad("inherited chunk with stored bytes");
      if (!vma_can_inherit(vmas[vi]))
        bad(std::string("inherited in a ") + vma_kind_name(vmas[vi].kind) +
            " VMA whose pages a fork cannot share (flags or guards)");
      continue;  // no stored bytes to check
    }
    if (c.encoding == ChunkEncoding::Raw) {
      if (c.stored_size != c.size()) bad("raw chunk's stored size differs from its page count");
      if (!page_aligned(c.offset)) bad("raw chunk not page-aligned in the file");
    } else if (c.stored_size == 0 || c.stored_size > ZSTD_compressBound(c.size())) {
      bad("compressed size " + std::to_string(c.stored_size) + " out of range");
    }
    if (c.offset < data_begin || c.offset > data_end || c.stored_size > data_end - c.offset)
      bad("stored bytes lie outside the page_data section");
  }
  // Each chunk's stored bytes are its own: chunks sharing bytes would let a
  // small image describe any amount of memory (decompression amplification).
  std::vector<std::pair<uint64_t, size_t>> stored;
  stored.reserve(image.chunks.size());
  for (size_t i = 0; i < image.chunks.size(); ++i)
    if (!image.chunks[i].inherited()) stored.emplace_back(image.chunks[i].offset, i);
  std::sort(stored.begin(), stored.end());
  for (size_t k = 1; k < stored.size(); ++k) {
    const PageChunk& a = image.chunks[stored[k - 1].second];
    if (a.offset + a.stored_size > stored[k].first)
      throw FormatError(index_at, "chunk #" + std::to_string(stored[k].second) + " at " +
                                      hex(image.chunks[stored[k].second].vaddr) + ": its stored bytes overlap chunk #" +
                                      std::to_string(stored[k - 1].second) + "'s");
  }
  validate_inherited(image, parent, index_at);
  validate_cpu_state(image, sections);
}

bool vma_can_inherit(const Vma& v) {
  const bool anon = v.kind == VmaKind::AnonPrivate || v.kind == VmaKind::Heap || v.kind == VmaKind::Stack;
  constexpr uint32_t kNever = kVmaHugetlb | kVmaDroppable | kVmaLocked | kVmaDontFork | kVmaWipeOnFork;
  return anon && !(v.flags & kNever) && v.guards.empty();
}

// Pages a child inherits are its parent's staged copy after the fork: they
// must be there (the parent saved them), and the child's area must be a
// part of one parent area that a fork passes on unchanged, so that the
// child can keep that part as its own. One pass over both sorted lists.
void validate_inherited(const Image& child, const Image* parent, uint64_t index_at) {
  const std::vector<PageChunk>& chunks = child.chunks;
  size_t pj = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const PageChunk& c = chunks[i];
    if (!c.inherited()) continue;
    auto bad = [&](const std::string& why) {
      throw FormatError(index_at, "chunk #" + std::to_string(i) + " at " + hex(c.vaddr) + ": inherited, but " + why);
    };
    if (!parent) bad("the process has no parent in the image");
    const size_t vi = vma_at(child.vmas, c.vaddr);  // inside one VMA: checked before
    const Vma& v = child.vmas[vi];
    const size_t pi = vma_at(parent->vmas, v.start);
    if (pi == SIZE_MAX) bad("its area " + hex(v.start) + "-" + hex(v.end) + " does not start inside an area of the parent");
    const Vma& p = parent->vmas[pi];
    if (p.kind != v.kind || p.flags != v.flags || !vma_can_inherit(p))
      bad("the parent's area " + hex(p.start) + "-" + hex(p.end) + " differs in kind or flags, or is not passed on by fork");
    // The child's area may go on past the parent's (a heap it grew); the
    // parent's pages are only those of the common part.
    if (c.vaddr + c.size() > p.end) bad("it goes past the end of the parent's area at " + hex(p.end));
    const std::vector<PageChunk>& pc = parent->chunks;
    uint64_t at = c.vaddr;
    const uint64_t end = c.vaddr + c.size();
    while (pj < pc.size() && pc[pj].vaddr + pc[pj].size() <= at) ++pj;
    for (size_t k = pj; at < end; ++k) {
      if (k == pc.size() || pc[k].vaddr > at) bad("the parent saved no page at " + hex(at));
      at = pc[k].vaddr + pc[k].size();
    }
  }
}

// What the restorer would otherwise find only while resuming the threads:
// rules on the saved CPU state that hold on every machine. They live here,
// and not in restorer/, so that `ckpt dump` (which re-reads its image
// before committing it and before --kill) refuses exactly what `restore`
// would refuse.

// A selector the trampoline can load again: null, the user data segment,
// or an LDT selector (TI set, RPL 3) naming a present entry the image restores.
static bool selector_restorable(uint64_t sel, const std::vector<uint64_t>& ldt) {
  if (sel == 0 || sel == 0x2b) return true;
  if ((sel & 7) != 7) return false;
  size_t index = sel >> 3;
  return index < ldt.size() && !x86::descriptor_is_empty(ldt[index]) && ((ldt[index] >> x86::ldt_bits::kP) & 1);
}

static void validate_cpu_state(const Image& image, const std::vector<SectionInfo>& sections) {
  const uint64_t threads_at = section_offset(sections, SectionType::Threads);
  const uint64_t task_at = section_offset(sections, SectionType::Task);
  if (image.threads.empty() || image.threads[0].tid != image.process.pid)
    throw FormatError(threads_at, "the image's first thread is not the thread group leader");
  const std::vector<uint64_t>& ldt = image.task.ldt;
  for (size_t i = 0; i < ldt.size(); ++i)
    if (!x86::descriptor_is_empty(ldt[i]) && !x86::descriptor_is_installable(ldt[i]))
      throw FormatError(task_at, "task: LDT entry " + std::to_string(i) + " cannot be installed with modify_ldt");
  for (const ThreadState& t : image.threads) {
    auto bad = [&](const std::string& why) {
      throw FormatError(threads_at, "thread " + std::to_string(t.tid) + ": " + why);
    };
    std::string why = x86::xsave_area_problem(t.xsave.data(), t.xsave.size(), t.xfeatures);
    if (!why.empty()) bad(why);
    // Selectors are loaded again for the leader only; other threads must hold none.
    for (unsigned reg : {DS, ES, FS, GS})
      if (!selector_restorable(t.gpr[reg], ldt) || (&t != &image.threads[0] && t.gpr[reg] && t.gpr[reg] != 0x2b))
        bad("holds segment selector " + std::to_string(t.gpr[reg]) + ", which cannot be restored");
    // MINSIGSTKSZ (2048 on x86-64): below it, every kernel refuses the stack.
    if (!(t.altstack_flags & 2) && t.altstack_size < 2048) bad("alternate signal stack smaller than MINSIGSTKSZ");
    // glibc's cached thread id is rewritten in place before the point of no return.
    if (t.cached_tid_address) {
      const size_t vi = vma_at(image.vmas, t.cached_tid_address);  // VMAs checked sorted and disjoint above
      const Vma* v = vi == SIZE_MAX ? nullptr : &image.vmas[vi];
      if (!v || !(v->prot & PROT_WRITE) || v->kind == VmaKind::FileShared || vma_kind_is_special(v->kind) ||
          v->end - t.cached_tid_address < 4)
        bad("the C library's cached thread id is not in writable memory (at " + hex(t.cached_tid_address) + ")");
    }
  }
}

}  // namespace ckpt::format

namespace ckpt::format {

// A wait status as wait4 reports it for a process that ended: exited with
// a code, or killed by a signal (with the core-dump bit).
static bool wait_status_is_valid(int32_t s) {
  if (s < 0 || s > 0xffff) return false;
  if ((s & 0x7f) == 0) return (s & 0x80) == 0;        // WIFEXITED: code in bits 8-15
  return (s & 0x7f) != 0x7f && (s & 0x7f) <= 64 && (s >> 8) == 0;  // WIFSIGNALED
}

void validate_tree(const ProcessTree& tree, const std::vector<Image>& members, const std::vector<SectionInfo>& sections) {
  const uint64_t at = section_offset(sections, SectionType::Tree);
  auto bad = [&](size_t i, const std::string& why) {
    throw FormatError(at, "tree: member " + std::to_string(i) + " (pid " + std::to_string(tree.members[i].pid) + "): " + why);
  };
  const auto& ms = tree.members;
  if (ms.empty()) throw FormatError(at, "tree: no members");
  std::vector<std::pair<int32_t, size_t>> by_pid;
  for (size_t i = 0; i < ms.size(); ++i) by_pid.emplace_back(ms[i].pid, i);
  std::sort(by_pid.begin(), by_pid.end());
  for (size_t i = 1; i < by_pid.size(); ++i)
    if (by_pid[i].first == by_pid[i - 1].first) bad(by_pid[i].second, "its pid appears twice");
  auto index_of = [&](int32_t pid) -> size_t {
    auto it = std::lower_bound(by_pid.begin(), by_pid.end(), std::make_pair(pid, size_t(0)));
    return it != by_pid.end() && it->first == pid ? it->second : SIZE_MAX;
  };
  for (size_t i = 0; i < ms.size(); ++i) {
    const TreeMember& m = ms[i];
    if (m.pid <= 0 || m.pid > (1 << 22)) bad(i, "pid out of range");
    if (m.state != kMemberLive && m.state != kMemberZombie) bad(i, "unknown state " + std::to_string(m.state));
    if (m.subreaper > 1 || m.reserved != 0) bad(i, "subreaper is not 0 or 1, or reserved bits are set");
    if (m.state == kMemberZombie ? !wait_status_is_valid(m.exit_status) : m.exit_status != 0)
      bad(i, "exit status " + std::to_string(m.exit_status) + " is not a zombie's wait status");
    if (m.state == kMemberLive && members[i].process.pid != m.pid) bad(i, "its process section names another pid");
    if (m.state == kMemberLive && !m.comm.empty()) bad(i, "a live member's comm belongs in its process section");
    if (i == 0) {
      if (m.parent != -1) bad(i, "the root has a parent");
      if (m.state != kMemberLive) bad(i, "the root is not live");
      continue;
    }
    if (m.parent < 0 || size_t(m.parent) >= i) bad(i, "its parent must be a member listed before it");
    const TreeMember& p = ms[size_t(m.parent)];
    if (p.state != kMemberLive) bad(i, "its parent is a zombie");
    // What restore can make again: a session of its own (setsid), or its
    // parent's; a group of its own, its parent's, or that of a member
    // listed before it in the same session.
    if (m.sid != m.pid && m.sid != p.sid) bad(i, "its session is neither its own nor its parent's");
    if (m.sid == m.pid && m.pgid != m.pid) bad(i, "a session leader outside its own process group");
    if (m.pgid != m.pid && m.pgid != p.pgid) {
      size_t g = index_of(m.pgid);
      if (g == SIZE_MAX || g >= i || ms[g].pgid != ms[g].pid || ms[g].sid != m.sid)
        bad(i, "its process group " + std::to_string(m.pgid) +
                   " is not its own, its parent's, or led by a member of its session listed before it");
    }
  }

  // Open file descriptions, pipes and objects shared between members must agree.
  struct Ref {
    uint64_t key;
    size_t member;
    const FdEntry* f;
  };
  std::vector<Ref> descs, pipes;
  for (size_t i = 0; i < ms.size(); ++i)
    for (const FdEntry& f : members[i].files.fds) {
      if (f.description) descs.push_back({f.description, i, &f});
      if (f.kind == FdKind::Pipe && !f.external) pipes.push_back({f.object, i, &f});
    }
  auto by_key = [](const Ref& a, const Ref& b) { return a.key != b.key ? a.key < b.key : a.member < b.member; };
  std::sort(descs.begin(), descs.end(), by_key);
  for (size_t i = 1; i < descs.size(); ++i) {
    const Ref &a = descs[i - 1], &b = descs[i];
    if (a.key != b.key) continue;
    if (a.member == b.member)
      bad(b.member, "fds " + std::to_string(a.f->fd) + " and " + std::to_string(b.f->fd) +
                        " are one open file description recorded twice");
    if (a.f->kind != b.f->kind || a.f->flags != b.f->flags || a.f->object != b.f->object ||
        a.f->file.path != b.f->file.path)
      bad(b.member, "fd " + std::to_string(b.f->fd) + " shares an open file description with member " +
                        std::to_string(a.member) + "'s fd " + std::to_string(a.f->fd) + " but differs from it");
  }
  std::sort(pipes.begin(), pipes.end(), by_key);
  for (size_t i = 0; i < pipes.size();) {
    size_t j = i;
    uint64_t total = 0;
    for (; j < pipes.size() && pipes[j].key == pipes[i].key; ++j) {
      if (pipes[j].f->pipe_size != pipes[i].f->pipe_size)
        bad(pipes[j].member, "fd " + std::to_string(pipes[j].f->fd) + ": pipe size differs from another end's");
      total += pipes[j].f->contents.size();
    }
    if (total > pipes[i].f->pipe_size)
      bad(pipes[i].member, "fd " + std::to_string(pipes[i].f->fd) + ": its pipe's ends carry more unread data than it holds");
    i = j;
  }
  std::vector<std::pair<uint64_t, const SharedObject*>> objects;
  for (const Image& m : members)
    for (const SharedObject& o : m.files.objects) objects.emplace_back(o.id, &o);
  std::sort(objects.begin(), objects.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 1; i < objects.size(); ++i)
    if (objects[i].first == objects[i - 1].first &&
        (objects[i].second->memfd != objects[i - 1].second->memfd || objects[i].second->size != objects[i - 1].second->size))
      throw FormatError(at, "tree: shared object " + std::to_string(objects[i].first) +
                                " differs between the members that hold it");
  // Unix sockets across the members: each member's records are complete on
  // their own (validate_image); together they are one set, made at once by
  // the root launcher, so it must hold as one too (names unique, peers
  // agreeing), and every socket but a queued connection is held by an fd.
  // Only the root's sockets can be outside ends (--inherit-fd is restore's).
  {
    auto bad_sockets = [&](const std::string& why) {
      const uint64_t u = section_offset(sections, SectionType::UnixSockets);
      throw FormatError(u ? u : at, "tree: unix_sockets: " + why);
    };
    std::vector<const std::vector<UnixSocket>*> lists;
    std::vector<uint64_t> held;
    for (size_t i = 0; i < ms.size(); ++i) {
      lists.push_back(&members[i].files.unix_sockets);
      for (const FdEntry& f : members[i].files.fds) {
        if (f.kind != FdKind::UnixSocket) continue;
        if (f.external && i != 0) bad(i, "fd " + std::to_string(f.fd) + " is an outside unix socket, which only the root may hold");
        if (!f.external) held.push_back(f.object);
      }
    }
    const std::vector<UnixSocket> all = merge_unix_sockets(lists, bad_sockets);
    validate_unix_sockets(all, held, bad_sockets);
    std::sort(held.begin(), held.end());
    for (const UnixSocket& s : all)
      if (s.state != kUnixQueued && !std::binary_search(held.begin(), held.end(), s.ino))
        bad_sockets("unix socket " + std::to_string(s.ino) + " is held by no fd of the tree");
  }
  // Ptys across the members (a tree without its section: one process, which
  // then leads its session and group if a pty says so).
  std::vector<PtyProcess> pty_set;
  for (size_t i = 0; i < ms.size(); ++i)
    if (ms[i].state == kMemberLive)
      pty_set.push_back({&members[i], ms[i].sid ? ms[i].sid : ms[i].pid, ms[i].pgid ? ms[i].pgid : ms[i].pid});
  validate_pty_set(pty_set, [&](const std::string& why) { throw FormatError(at, why); });
}

}  // namespace ckpt::format
