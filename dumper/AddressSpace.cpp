// smaps -> image VMAs (see AddressSpace.h).
#include "dumper/AddressSpace.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <cerrno>

#include "dumper/Tracee.h"
#include "format/Hex.h"
#include "format/Limits.h"
#include "x86/ProcMaps.h"

namespace ckpt::dumper {

using format::Vma;
using format::VmaKind;

static std::string range_text(const x86::MapsEntry& e) {
  char b[64];
  std::snprintf(b, sizeof b, "%" PRIx64 "-%" PRIx64, e.start, e.end);
  return b;
}

static uint32_t vma_flags(const x86::MapsEntry& e) {
  static const struct {
    const char* name;
    uint32_t bit;
  } table[] = {{"gd", format::kVmaGrowsDown},   {"lo", format::kVmaLocked},     {"dc", format::kVmaDontFork},
               {"dd", format::kVmaDontDump},    {"wf", format::kVmaWipeOnFork}, {"hg", format::kVmaHugePage},
               {"nh", format::kVmaNoHugePage},  {"mg", format::kVmaMergeable},  {"nr", format::kVmaNoReserve},
               {"sr", format::kVmaSeqRead},     {"rr", format::kVmaRandRead},   {"dp", format::kVmaDroppable},
               {"mw", format::kVmaMayWrite},    {"ht", format::kVmaHugetlb}};
  uint32_t flags = 0;
  for (const auto& t : table)
    if (e.has_flag(t.name)) flags |= t.bit;
  return flags;
}

// Whether a mapping named "/dev/zero" really maps the zero device (1:5).
static bool is_dev_zero(const std::string& proc, const x86::MapsEntry& e) {
  struct stat st;
  char link[96];
  std::snprintf(link, sizeof link, "%s/map_files/%" PRIx64 "-%" PRIx64, proc.c_str(), e.start, e.end);
  return stat(link, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 5;
}

static std::vector<x86::MapsEntry> read_smaps(pid_t pid) {
  try {
    return x86::parse_maps(x86::read_proc_file("/proc/" + std::to_string(pid) + "/smaps"));
  } catch (const std::exception& e) {
    throw DumpError("pid " + std::to_string(pid) + ": cannot read its smaps (did it exit?): " + e.what());
  }
}

MapsBefore read_maps_before(pid_t pid) {
  MapsBefore b;
  try {
    b.entries = x86::parse_maps(x86::read_proc_file("/proc/" + std::to_string(pid) + "/smaps"));
  } catch (const std::exception&) {
    return {};  // the freeze reads it and says why
  }
  for (const x86::MapsEntry& e : b.entries)
    if (e.has_flag("ht") || e.has_flag("um") || e.has_flag("ui")) return {};
  return b;
}

// Everything maps shows of an area: what smaps showed of it then is still its own.
static bool same_area(const x86::MapsEntry& a, const x86::MapsEntry& b) {
  return a.start == b.start && a.end == b.end && a.offset == b.offset && a.read == b.read && a.write == b.write &&
         a.exec == b.exec && a.shared == b.shared && a.dev_major == b.dev_major && a.dev_minor == b.dev_minor &&
         a.inode == b.inode && a.path == b.path;
}

std::vector<Vma> read_address_space(pid_t pid, const MapsBefore* before, bool* used_before) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::vector<x86::MapsEntry> entries;
  if (used_before) *used_before = false;
  if (before && !before->entries.empty()) {
    std::vector<x86::MapsEntry> now;
    try {
      now = x86::parse_maps(x86::read_proc_file(proc + "/maps"));
    } catch (const std::exception& e) {
      throw DumpError("pid " + std::to_string(pid) + ": cannot read its maps (did it exit?): " + e.what());
    }
    bool same = now.size() == before->entries.size();
    for (size_t i = 0; same && i < now.size(); ++i) same = same_area(now[i], before->entries[i]);
    if (same) {
      entries = before->entries;
      if (used_before) *used_before = true;
    }
  }
  if (entries.empty()) entries = read_smaps(pid);
  std::vector<Vma> vmas;
  std::vector<std::pair<size_t, uint64_t>> hugetlb_shared;  // VMA index, kB of huge pages it maps
  for (const x86::MapsEntry& e : entries) {
    if (e.path == "[vsyscall]") continue;  // fixed by the kernel, above user space
    Vma v;
    v.start = e.start;
    v.end = e.end;
    v.prot = (e.read ? PROT_READ : 0) | (e.write ? PROT_WRITE : 0) | (e.exec ? PROT_EXEC : 0);
    v.flags = vma_flags(e);
    auto refuse = [&](const std::string& why) {
      throw DumpError("pid " + std::to_string(pid) + ": cannot dump the mapping " + range_text(e) +
                      (e.path.empty() ? "" : " " + e.path) + ": " + why);
    };
    // A userfaultfd-registered area for missing or minor faults ("um",
    // "ui") may still lack pages that its handler has not brought in yet (a
    // `restore --lazy` in progress, or the program's own userfaultfd):
    // pagemap shows them as never touched, so the image would silently read
    // zeros there. Write-protection alone ("uw": the tracking of `ckpt dump
    // --track`, dumper/DirtyPages.h) hides no page: its contents are exact.
    if (e.has_flag("um") || e.has_flag("ui"))
      refuse("it is registered with a userfaultfd (a lazy restore still bringing pages in, or the program's own "
             "userfaultfd), so pages not yet filled cannot be told from untouched ones; dump again once it is done");
    if (e.path == "[vdso]") v.kind = VmaKind::Vdso;
    else if (e.path == "[vvar]") v.kind = VmaKind::Vvar;
    else if (e.path == "[vvar_vclock]") v.kind = VmaKind::VvarVclock;
    else if (e.path == "[heap]") v.kind = VmaKind::Heap;
    else if (e.path == "[stack]") v.kind = VmaKind::Stack;
    else if (!e.path.empty() && e.path[0] == '[') refuse("special kernel mapping not supported");
    else if (e.path == "/dev/zero (deleted)" || (e.shared && e.path.empty() && e.inode != 0)) {
      // MAP_SHARED|MAP_ANONYMOUS: a shmem object named by its inode; a
      // private mapping of one (through map_files) sees its pages until written.
      v.kind = e.shared ? VmaKind::AnonShared : VmaKind::AnonSharedPrivate;
      v.pgoff = e.offset;
      v.file.ino = e.inode;
    } else if (e.path.rfind("/memfd:", 0) == 0 && e.path.size() > 17 &&
               e.path.compare(e.path.size() - 10, 10, " (deleted)") == 0) {
      v.kind = e.shared ? VmaKind::MemfdShared : VmaKind::MemfdPrivate;
      v.pgoff = e.offset;
      v.file.path = e.path;
      v.file.ino = e.inode;
    } else if (!e.shared && e.path == "/dev/zero" && is_dev_zero(proc, e)) {
      v.kind = VmaKind::DevZeroPrivate;  // the old way to get anonymous memory: all of it is the process's own
      v.pgoff = e.offset;
      v.file.path = e.path;
    } else if (e.path.rfind("/SYSV", 0) == 0 && e.path.size() == 23 &&
               e.path.compare(e.path.size() - 10, 10, " (deleted)") == 0) {
      if (!e.shared) refuse("a private mapping of System V shared memory is not supported");
      v.kind = VmaKind::SysvShm;  // a shmat() attachment; the inode is the segment's id (dumper/SysvShm.cpp)
      v.pgoff = e.offset;
      v.file.path = e.path;
      v.file.ino = e.inode;
    } else if (e.path == "/anon_hugepage (deleted)") {
      // MAP_HUGETLB|MAP_ANONYMOUS memory: private is anonymous memory in huge
      // pages; shared is an object on the kernel's internal hugetlbfs, saved
      // as pages when this is its only mapping (checked below).
      if (!(v.flags & format::kVmaHugetlb)) refuse("huge-page memory without the \"ht\" flag");
      if (e.kernel_page_kb == (1u << 20)) v.flags |= format::kVmaHuge1G;
      else if (e.kernel_page_kb != 2048)
        refuse("huge-page memory with " + std::to_string(e.kernel_page_kb) + " kB pages (only 2 MiB and 1 GiB are supported)");
      if (e.shared) {
        v.kind = VmaKind::HugetlbShared;
        v.file.path = e.path;
        v.file.ino = e.inode;
        hugetlb_shared.push_back({vmas.size(), e.hugetlb_kb});
        if (e.offset != 0) refuse("only part of this shared huge-page memory is mapped");
      } else {
        v.kind = VmaKind::AnonPrivate;
      }
    } else if (v.flags & format::kVmaHugetlb) {
      refuse("mappings of hugetlbfs files are not supported");
    } else if (e.inode == 0 && e.path.empty()) {
      if (e.shared) refuse("shared anonymous memory without an object");
      v.kind = VmaKind::AnonPrivate;
    } else {
      if (e.path.size() > 10 && e.path.compare(e.path.size() - 10, 10, " (deleted)") == 0) {
        // Saved once with the deleted file it maps (dumper/DeletedFiles.h).
        v.kind = e.shared ? VmaKind::DeletedShared : VmaKind::DeletedPrivate;
        v.pgoff = e.offset;
        v.file.path = e.path.substr(0, e.path.size() - 10);
        v.file.ino = e.inode;
        vmas.push_back(std::move(v));
        continue;
      }
      if (e.path[0] != '/') refuse("unrecognised mapping");
      v.kind = e.shared ? VmaKind::FileShared : VmaKind::FilePrivate;
      v.pgoff = e.offset;
      v.file.path = e.path;
      // map_files names the very file mapped (root only); the path is what
      // restore will open, resolved here in the dumper's mount namespace,
      // which the target's owner may have filled differently from the
      // target's. Both must be the mapped inode. stat() opens nothing, so a
      // FIFO or a device at the path costs nothing here.
      struct stat st, at_path;
      char link[96];
      std::snprintf(link, sizeof link, "%s/map_files/%" PRIx64 "-%" PRIx64, proc.c_str(), e.start, e.end);
      bool exact = stat(link, &st) == 0;
      if (stat(e.path.c_str(), &at_path) != 0) refuse("cannot stat the file");
      if (!exact) st = at_path;
      if (!S_ISREG(st.st_mode)) refuse("mappings of devices are not supported");
      if (st.st_ino != e.inode) refuse("the file at this path was replaced since it was mapped");
      if (at_path.st_dev != st.st_dev || at_path.st_ino != st.st_ino)
        refuse("this path names another file here (the target's mount namespace differs, or the file was replaced)");
      v.file.dev = st.st_dev;
      v.file.ino = st.st_ino;
      v.file.size = uint64_t(st.st_size);
      v.file.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      // The process's own per-process file, named after its pid (a JVM's
      // /tmp/hsperfdata_USER/PID), mapped shared and writable: it changes
      // as long as the process runs and is deleted when it exits, so its
      // contents travel in the image (docs/architecture.md, "Per-process files").
      const std::string name = e.path.substr(e.path.rfind('/') + 1);
      if (e.shared && name == std::to_string(pid) && ((v.prot & PROT_WRITE) || (v.flags & format::kVmaMayWrite))) {
        if (e.offset != 0 || uint64_t(st.st_size) > v.size())
          refuse("only part of this per-process file (named after the pid) is mapped");
        if (uint64_t(st.st_size) > format::kMaxBlobBytes) refuse("the per-process file is larger than 48 MiB");
        v.kind = VmaKind::FileSharedOwn;
      }
    }
    vmas.push_back(std::move(v));
  }
  // A shared huge-page object is saved through its one mapping: each of its
  // pages must be mapped there (a page mapped nowhere, or elsewhere, would be lost).
  for (const auto& [i, mapped_kb] : hugetlb_shared) {
    const Vma& v = vmas[i];
    char link[96];
    std::snprintf(link, sizeof link, "%s/map_files/%" PRIx64 "-%" PRIx64, proc.c_str(), v.start, v.end);
    struct stat st;
    std::string why;
    if (stat(link, &st) != 0) why = std::string("cannot stat it: ") + std::strerror(errno);
    else if (uint64_t(st.st_size) != v.size()) why = "the object is " + std::to_string(st.st_size) + " bytes, its mapping " + std::to_string(v.size());
    else if (uint64_t(st.st_blocks) * 512 != mapped_kb * 1024)
      why = "the object holds " + std::to_string(uint64_t(st.st_blocks) / 2) + " kB of huge pages, its mapping here " +
            std::to_string(mapped_kb) + " kB (is it shared with another process?)";
    for (const Vma& w : vmas)
      if (&w != &v && w.kind == VmaKind::HugetlbShared && w.file.ino == v.file.ino) why = "it is mapped more than once";
    if (!why.empty())
      throw DumpError("pid " + std::to_string(pid) + ": cannot dump the shared huge-page memory " + format::hex(v.start) +
                      "-" + format::hex(v.end) + ": " + why);
  }
  return vmas;
}

void check_flags_kept(pid_t pid, const std::vector<Vma>& vmas) {
  std::vector<x86::MapsEntry> now;
  try {
    now = x86::parse_maps(x86::read_proc_file("/proc/" + std::to_string(pid) + "/smaps"));
  } catch (const std::exception&) {
    return;  // gone: every area it had is unmapped, nothing left to differ
  }
  // Both sorted by address: each area now against the image's areas it overlaps.
  size_t vi = 0;
  for (const x86::MapsEntry& e : now) {
    while (vi < vmas.size() && vmas[vi].end <= e.start) ++vi;
    for (size_t k = vi; k < vmas.size() && vmas[k].start < e.end; ++k) {
      const Vma& v = vmas[k];
      const uint32_t had = v.flags & ~format::kVmaHuge1G, has = vma_flags(e);
      if (had == has && !e.has_flag("um") && !e.has_flag("ui")) continue;
      throw DumpError("pid " + std::to_string(pid) + ": the flags of its memory at " + format::hex(v.start) + "-" +
                      format::hex(v.end) + " changed around the freeze (madvise, mlock or a userfaultfd: VmFlags " +
                      format::hex(had) + " then, " + format::hex(has) +
                      (e.has_flag("um") || e.has_flag("ui") ? " and registered for missing pages" : "") +
                      " now), so they are not known as they were at the freeze; nothing was written: dump it again");
    }
  }
}

}  // namespace ckpt::dumper
