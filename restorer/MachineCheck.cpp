// Machine and caller checks (see MachineCheck.h).
#include "restorer/MachineCheck.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "format/Hex.h"
#include "format/Checksum.h"
#include "restorer/RestoreError.h"
#include "restorer/TaskRestore.h"
#include "x86/Cpu.h"
#include "x86/SigFrame.h"

namespace ckpt::restorer {

using format::hex;

using format::Vma;
using format::VmaKind;

// The saved CPU state's own rules (leader first, XSAVE layout, selectors,
// LDT) are the format's (format/Validate.cpp), checked by ImageReader for
// restore and ckpt dump alike; here only what depends on this CPU.
static void check_cpu(const format::Image& image) {
  // Asked once: each CPUID traps to the hypervisor in a virtual machine.
  const uint64_t xcr0 = x86::xcr0();
  const uint32_t xsave_size = x86::xsave_size();
  const uint64_t on_request = x86::xfeatures_on_request(xcr0);
  for (const format::ThreadState& t : image.threads) {
    std::string why = x86::xsave_incompatibility(t.xfeatures, uint32_t(t.xsave.size()), xcr0, xsave_size);
    if (!why.empty()) throw RestoreError("this CPU cannot resume the image: " + why);
    uint64_t in_use;
    std::memcpy(&in_use, t.xsave.data() + x86::kXsaveHeaderOffset, 8);
    if (in_use & on_request)
      throw RestoreError("thread " + std::to_string(t.tid) + ": the XSAVE area holds state of components granted only "
                         "on request (" + format::hex(in_use & on_request) + "), which sigreturn cannot load");
  }
}

static void check_credentials(const format::ProcessInfo& p) {
  uid_t r, e, s;
  gid_t gr, ge, gs;
  getresuid(&r, &e, &s);
  getresgid(&gr, &ge, &gs);
  // A restore installed setuid/setgid (or run by a setuid program) would
  // hand its borrowed ids to whatever the image holds: refused outright.
  if (r != e || gr != ge)
    throw RestoreError("restore is running with effective ids (" + std::to_string(e) + "/" + std::to_string(ge) +
                       ") other than its real ones (" + std::to_string(r) + "/" + std::to_string(gr) +
                       "); it must not be installed setuid or setgid");
  // The restored process runs with the caller's credentials: an image never
  // grants any, and is refused if its owner and the caller differ.
  if (p.uid != r || p.euid != e || p.gid != gr || p.egid != ge)
    throw RestoreError("the image belongs to uid " + std::to_string(p.uid) + " gid " + std::to_string(p.gid) +
                       " (effective " + std::to_string(p.euid) + "/" + std::to_string(p.egid) +
                       "); restore it as that user");
}

static VdsoGroup check_vdso(const format::Image& image, const std::vector<x86::MapsEntry>& self) {
  VdsoGroup g;
  for (const auto& e : self)
    if (e.path == "[vvar]" || e.path == "[vvar_vclock]" || e.path == "[vdso]") g.parts.push_back(e);
  std::vector<const Vma*> saved;
  for (const Vma& v : image.vmas)
    if (format::vma_kind_is_special(v.kind)) saved.push_back(&v);
  if (saved.empty()) return g;  // the process had none: the launcher's is simply unmapped
  if (saved.size() != g.parts.size())
    throw RestoreError("the image's vdso/vvar layout (" + std::to_string(saved.size()) +
                       " areas) differs from this kernel's (" + std::to_string(g.parts.size()) +
                       "); it was dumped on another kernel version");
  for (size_t i = 0; i < saved.size(); ++i) {
    const auto& cur = g.parts[i];
    std::string name = format::vma_kind_name(saved[i]->kind);
    if ("[" + name + "]" != cur.path || saved[i]->size() != cur.end - cur.start ||
        saved[i]->start - saved[0]->start != cur.start - g.parts[0].start)
      throw RestoreError("the image's " + name + " differs in size or placement from this kernel's; it was dumped "
                         "on another kernel version");
    if (saved[i]->kind == VmaKind::Vdso &&
        format::checksum(reinterpret_cast<const void*>(cur.start), cur.end - cur.start) != image.mm.vdso_hash)
      throw RestoreError("the image's vdso differs from this kernel's; it was dumped on another kernel version (" +
                         image.process.kernel_release + ")");
  }
  return g;
}

// A shared file mapping that is writable, or may be made so by mprotect
// (VmFlags "mw": the file was open for writing when it was mapped), needs
// the file open read-write, or mprotect(PROT_WRITE) would fail with EACCES.
static bool needs_write(const Vma& v) {
  return v.kind == VmaKind::FileShared && ((v.prot & PROT_WRITE) || (v.flags & format::kVmaMayWrite));
}

// Opens the file a VMA maps, checked to be a regular file; `st` gets its
// status. The VMA's own expectations are checked by check_mapped_file.
static int open_mapped_file(const Vma& v, struct stat& st) {
  const format::FileId& f = v.file;
  // The path comes from the image: look at what it names (O_PATH runs no
  // driver's open and never blocks) before really opening it, so that a
  // FIFO cannot hang restore and a device's open cannot act (a watchdog, a
  // tape, a tty). The real open goes through the O_PATH descriptor, so it
  // reaches the very file that was checked.
  int probe = ::open(f.path.c_str(), O_PATH | O_CLOEXEC);
  if (probe < 0)
    throw RestoreError("cannot open " + f.path + ", mapped at " + hex(v.start) + ": " + std::strerror(errno));
  fstat(probe, &st);
  if (!S_ISREG(st.st_mode)) {
    ::close(probe);
    throw RestoreError("file " + f.path + ", mapped at " + hex(v.start) + ", differs from the dump: it is no longer a regular file");
  }
  int fd = ::open(("/proc/self/fd/" + std::to_string(probe)).c_str(),
                  (needs_write(v) ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  int open_errno = errno;
  ::close(probe);
  if (fd < 0)
    throw RestoreError("cannot open " + f.path + (needs_write(v) ? " for writing" : "") + ", mapped at " +
                       hex(v.start) + (needs_write(v) && !(v.prot & PROT_WRITE) ? " (shared, may be made writable)" : "") +
                       ": " + std::strerror(open_errno));
  fstat(fd, &st);
  return fd;
}

// Whether the opened file (status `st`) is still the one the VMA mapped.
static void check_mapped_file(const Vma& v, const struct stat& st) {
  const format::FileId& f = v.file;
  int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  std::string why;
  if (!S_ISREG(st.st_mode)) why = "it is no longer a regular file";
  else if (uint64_t(st.st_size) != f.size)
    why = "its size changed (" + std::to_string(f.size) + " -> " + std::to_string(st.st_size) + " bytes)";
  else if (mtime != f.mtime_ns) why = "it was modified after the dump";
  else if (st.st_mode & (S_ISUID | S_ISGID)) why = "it is setuid or setgid";
  if (!why.empty())
    throw RestoreError("file " + f.path + ", mapped at " + hex(v.start) + ", differs from the dump: " + why);
}

// MemAvailable + SwapFree from /proc/meminfo, in bytes; 0 when unknown.
static uint64_t memory_available() {
  FILE* f = std::fopen("/proc/meminfo", "re");
  if (!f) return 0;
  char line[256];
  uint64_t avail = 0, swap = 0, kib;
  while (std::fgets(line, sizeof line, f)) {
    if (line[0] != 'M' && line[0] != 'S') continue;  // sscanf on each of ~55 lines costs more than the read
    if (std::sscanf(line, "MemAvailable: %" SCNu64, &kib) == 1) avail = kib << 10;
    if (std::sscanf(line, "SwapFree: %" SCNu64, &kib) == 1) swap = kib << 10;
  }
  std::fclose(f);
  return avail ? avail + swap : 0;
}

void check_memory(const format::Image& image) {
  // Only saved pages are certain to be committed: untouched anonymous
  // memory costs nothing until the program writes to it (a JVM's 32 GiB
  // reservation), and file pages are the page cache's, reclaimable. So the
  // image is refused only when it cannot possibly be staged, not when the
  // program might later run short as it could have before the dump.
  uint64_t saved = 0, mapped = 0;
  for (const format::PageChunk& c : image.chunks)
    if (!c.inherited()) saved += c.size();  // inherited pages are the parent's, counted there
  for (const Vma& v : image.vmas) mapped += v.size();
  uint64_t avail = memory_available();
  if (avail && saved > avail)
    throw RestoreError("the image holds " + std::to_string(saved >> 20) + " MiB of saved memory but this machine has " +
                       std::to_string(avail >> 20) + " MiB available (MemAvailable + SwapFree)");
  rlimit as;
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY && mapped > as.rlim_cur)
    throw RestoreError("the image maps " + std::to_string(mapped >> 20) + " MiB of address space, above this " +
                       "caller's RLIMIT_AS of " + std::to_string(uint64_t(as.rlim_cur) >> 20) + " MiB");
}

// Huge-page memory (MAP_HUGETLB) needs free huge pages of its size now:
// mmap reserves them all (unless MAP_NORESERVE), and without them the
// staging would fail, or, worse, a later fault would kill the process.
static void check_huge_pages(const format::Image& image) {
  uint64_t need[2] = {0, 0};  // 2 MiB, 1 GiB pages
  uint64_t first[2] = {0, 0};
  for (const Vma& v : image.vmas) {
    if (!(v.flags & format::kVmaHugetlb)) continue;
    int k = (v.flags & format::kVmaHuge1G) ? 1 : 0;
    if (!first[k]) first[k] = v.start;
    need[k] += v.size() / format::vma_alignment(v);
  }
  static const char* const dir[2] = {"/sys/kernel/mm/hugepages/hugepages-2048kB/",
                                     "/sys/kernel/mm/hugepages/hugepages-1048576kB/"};
  for (int k = 0; k < 2; ++k) {
    if (!need[k]) continue;
    auto read_count = [&](const char* leaf) -> uint64_t {
      FILE* f = std::fopen((std::string(dir[k]) + leaf).c_str(), "re");
      unsigned long long n = 0;
      if (!f) return 0;
      if (std::fscanf(f, "%llu", &n) != 1) n = 0;
      std::fclose(f);
      return n;
    };
    uint64_t free_pages = read_count("free_hugepages"), reserved = read_count("resv_hugepages");
    uint64_t avail = free_pages > reserved ? free_pages - reserved : 0;
    if (avail < need[k])
      throw RestoreError("the image has huge-page memory (MAP_HUGETLB, from " + hex(first[k]) + ") needing " +
                         std::to_string(need[k]) + (k ? " pages of 1 GiB" : " pages of 2 MiB") + " and this machine has " +
                         std::to_string(avail) + " free (vm.nr_hugepages, " + dir[k] + ")");
  }
}

// Guard pages (MADV_GUARD_INSTALL) need Linux 6.13+: tried once on a page
// of our own, so that an older kernel refuses here, not while staging.
static void check_guard_pages(const format::Image& image) {
  for (const Vma& v : image.vmas) {
    if (v.guards.empty()) continue;
    void* p = mmap(nullptr, format::kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool ok = p != MAP_FAILED && madvise(p, format::kPageSize, 102 /* MADV_GUARD_INSTALL */) == 0;
    int e = errno;
    if (p != MAP_FAILED) munmap(p, format::kPageSize);
    if (!ok)
      throw RestoreError("the memory area at " + hex(v.start) + " has guard pages (from " + hex(v.guards[0].start) +
                         ") and this kernel cannot install them (MADV_GUARD_INSTALL, Linux 6.13+): " + std::strerror(e));
    return;
  }
}

// The trampoline queues every saved pending signal again under the
// caller's RLIMIT_SIGPENDING (the saved limit is set only after it), which
// counts every signal queued for the caller's user: a real-time signal
// sent with information (si_code other than SI_USER) that does not fit is
// refused with EAGAIN, after the point of no return. /proc/self/status
// says "SigQ: queued/limit" for this user now. (Other processes of the
// user may queue more in between: that cannot be known here.)
static void check_signal_room(const format::Image& image) {
  uint64_t total = 0;
  bool realtime = false;
  auto count = [&](const std::vector<format::SigInfo>& infos) {
    for (const format::SigInfo& i : infos) {
      int32_t signo, code;
      std::memcpy(&signo, i.data(), 4);
      std::memcpy(&code, i.data() + 8, 4);
      realtime |= signo >= 32 && code != 0;
      ++total;
    }
  };
  count(image.task.shared_pending);
  for (const format::ThreadState& t : image.threads) count(t.pending);
  if (!realtime) return;
  FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) throw RestoreError(std::string("cannot read /proc/self/status: ") + std::strerror(errno));
  char line[256];
  uint64_t queued = 0, limit = 0;
  bool found = false;
  while (!found && std::fgets(line, sizeof line, f))
    found = std::sscanf(line, "SigQ: %" SCNu64 "/%" SCNu64, &queued, &limit) == 2;
  std::fclose(f);
  if (found && queued + total > limit)
    throw RestoreError("the image has " + std::to_string(total) + " pending signals, real-time ones among them, but " +
                       "only " + std::to_string(limit > queued ? limit - queued : 0) + " more can be queued for this " +
                       "user now (RLIMIT_SIGPENDING " + std::to_string(limit) + ", " + std::to_string(queued) + " queued)");
}

// epoll_ctl refuses to watch a file that cannot be polled (EPERM). An
// epoll entry may watch restore's own fd 0, 1 or 2 (the process's stdio),
// which only this machine knows: each such entry is tried on a scratch
// epoll set, so that restore --check refuses what the restore's own
// epoll_ctl would (validation already refuses kinds that cannot be polled).
static void check_epoll_targets(const format::Image& image) {
  int scratch = -1;
  for (const format::FdEntry& ep : image.files.fds) {
    if (ep.kind != format::FdKind::Epoll) continue;
    for (const format::EpollTarget& t : ep.targets) {
      if (t.file < 0 || t.file > 2) continue;
      if (scratch < 0) scratch = epoll_create1(EPOLL_CLOEXEC);
      epoll_event ev{};
      ev.events = t.events & ~uint32_t(EPOLLEXCLUSIVE);  // validated; a trial on one set either way
      int r = scratch < 0 ? -1 : epoll_ctl(scratch, EPOLL_CTL_ADD, t.file, &ev);
      int err = errno;
      if (r == 0) epoll_ctl(scratch, EPOLL_CTL_DEL, t.file, nullptr);
      if (r != 0) {
        if (scratch >= 0) ::close(scratch);
        throw RestoreError("epoll fd " + std::to_string(ep.fd) + " cannot watch fd " + std::to_string(t.file) +
                           " (restore's own): " + std::strerror(err));
      }
    }
  }
  if (scratch >= 0) ::close(scratch);
}

MachineFit check_machine(const format::Image& image, const std::vector<x86::MapsEntry>& self_maps) {
  check_cpu(image);
  check_signal_room(image);
  check_epoll_targets(image);
  check_credentials(image.process);
  check_task(image);
  check_memory(image);
  check_guard_pages(image);
  check_huge_pages(image);
  MachineFit fit;
  fit.vdso = check_vdso(image, self_maps);
  fit.file_fds.assign(image.vmas.size(), -1);
  // Open each distinct file once (twice if a writable shared mapping needs
  // it read-write), keep one descriptor per VMA index; check every VMA's
  // expectations against what was opened. Looked up by path, not by a scan
  // of the VMAs before: an image may hold a million mappings.
  std::map<std::pair<std::string, bool>, std::pair<int, struct stat>> opened;
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    const Vma& v = image.vmas[i];
    if (!format::vma_kind_has_file(v.kind)) continue;
    auto [it, fresh] = opened.try_emplace({v.file.path, needs_write(v)});
    if (fresh) it->second.first = open_mapped_file(v, it->second.second);
    fit.file_fds[i] = it->second.first;
    check_mapped_file(v, it->second.second);
  }
  return fit;
}

}  // namespace ckpt::restorer
