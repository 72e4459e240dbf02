// smaps -> image VMAs (see AddressSpace.h).
#include "dumper/AddressSpace.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <cinttypes>
#include <cstdio>

#include "dumper/Tracee.h"
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
               {"nh", format::kVmaNoHugePage},  {"mg", format::kVmaMergeable},  {"nr", format::kVmaNoReserve}};
  uint32_t flags = 0;
  for (const auto& t : table)
    if (e.has_flag(t.name)) flags |= t.bit;
  return flags;
}

std::vector<Vma> read_address_space(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::vector<x86::MapsEntry> entries = x86::parse_maps(x86::read_proc_file(proc + "/smaps"));
  std::vector<Vma> vmas;
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
    if (e.path == "[vdso]") v.kind = VmaKind::Vdso;
    else if (e.path == "[vvar]") v.kind = VmaKind::Vvar;
    else if (e.path == "[vvar_vclock]") v.kind = VmaKind::VvarVclock;
    else if (e.path == "[heap]") v.kind = VmaKind::Heap;
    else if (e.path == "[stack]") v.kind = VmaKind::Stack;
    else if (!e.path.empty() && e.path[0] == '[') refuse("special kernel mapping not supported");
    else if (e.shared && (e.path == "/dev/zero (deleted)" || (e.path.empty() && e.inode != 0))) {
      v.kind = VmaKind::AnonShared;  // MAP_SHARED|MAP_ANONYMOUS: a shmem object named by its inode
      v.pgoff = e.offset;
      v.file.ino = e.inode;
    } else if (e.path.rfind("/memfd:", 0) == 0 && e.path.size() > 17 &&
               e.path.compare(e.path.size() - 10, 10, " (deleted)") == 0) {
      if (!e.shared) refuse("private mappings of a memfd are not supported yet");
      v.kind = VmaKind::MemfdShared;
      v.pgoff = e.offset;
      v.file.path = e.path;
      v.file.ino = e.inode;
    } else if (e.inode == 0 && e.path.empty()) {
      if (e.shared) refuse("shared anonymous memory without an object");
      v.kind = VmaKind::AnonPrivate;
    } else {
      if (e.path.rfind("/SYSV", 0) == 0) refuse("System V shared memory is not supported yet");
      if (e.path.rfind("/memfd:", 0) == 0 || e.path.rfind("/dev/zero", 0) == 0)
        refuse("private mappings of shared memory objects are not supported yet");
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
      // map_files names the very file mapped, even if a path now points elsewhere.
      struct stat st;
      char link[96];
      std::snprintf(link, sizeof link, "%s/map_files/%" PRIx64 "-%" PRIx64, proc.c_str(), e.start, e.end);
      if (stat(link, &st) != 0 && stat(e.path.c_str(), &st) != 0) refuse("cannot stat the file");
      if (!S_ISREG(st.st_mode)) refuse("mappings of devices are not supported");
      if (st.st_ino != e.inode) refuse("the file at this path was replaced since it was mapped");
      v.file.dev = st.st_dev;
      v.file.ino = st.st_ino;
      v.file.size = uint64_t(st.st_size);
      v.file.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    }
    vmas.push_back(std::move(v));
  }
  return vmas;
}

}  // namespace ckpt::dumper
