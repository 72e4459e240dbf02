// SysV shared memory segments of the target (see SysvShm.h).
#include "dumper/SysvShm.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "dumper/MemoryDump.h"
#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"
#include "format/Hex.h"
#include "format/Limits.h"

namespace ckpt::dumper {

using format::SysvSegment;

namespace {

// A line of /proc/sysvipc/shm: key shmid perms size cpid lpid nattch uid gid cuid cgid ...
struct ShmRow {
  int32_t key = 0, id = 0;
  uint32_t perms = 0, uid = 0, gid = 0;
  uint64_t size = 0, nattch = 0;
};

std::map<int32_t, ShmRow> read_table() {
  std::ifstream in("/proc/sysvipc/shm");
  if (!in) throw DumpError("cannot read /proc/sysvipc/shm");
  std::map<int32_t, ShmRow> rows;
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream l(line);
    ShmRow r;
    long long key;
    unsigned long long cpid, lpid;
    l >> key >> r.id >> std::oct >> r.perms >> std::dec >> r.size >> cpid >> lpid >> r.nattch >> r.uid >> r.gid;
    if (!l) continue;
    r.key = int32_t(key);
    rows[r.id] = r;
  }
  return rows;
}

std::string ns_of(const std::string& pid) {
  char buf[64];
  ssize_t n = readlink(("/proc/" + pid + "/ns/ipc").c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, size_t(n)) : "";
}

}  // namespace

std::vector<SysvSegment> read_sysv_shm(pid_t pid, const std::vector<format::Vma>& vmas) {
  std::map<int32_t, std::vector<const format::Vma*>> attaches;
  for (const format::Vma& v : vmas)
    if (v.kind == format::VmaKind::SysvShm) attaches[int32_t(v.file.ino)].push_back(&v);
  if (attaches.empty()) return {};
  const std::string who = "pid " + std::to_string(pid);
  if (ns_of(std::to_string(pid)) != ns_of("self"))
    throw DumpError(who + " uses SysV shared memory in another IPC namespace than ckpt's; run ckpt in its namespace");
  std::map<int32_t, ShmRow> table = read_table();
  ScopedFd mem(::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
  std::vector<SysvSegment> out;
  for (const auto& [id, list] : attaches) {
    const format::Vma& first = *list.front();
    const std::string where = who + ": cannot dump the SysV shared memory segment " + std::to_string(id) +
                              " attached at " + format::hex(first.start);
    auto row = table.find(id);
    if (row == table.end()) throw DumpError(where + ": it is not in /proc/sysvipc/shm");
    const ShmRow& r = row->second;
    const uint64_t whole = (r.size + format::kPageSize - 1) / format::kPageSize * format::kPageSize;
    for (const format::Vma* v : list)
      if (v->pgoff != 0 || v->size() != whole)
        throw DumpError(who + ": cannot dump the SysV attachment " + format::hex(v->start) + "-" + format::hex(v->end) +
                        " of segment " + std::to_string(id) + ": only part of it is mapped (munmap or mprotect " +
                        "of part of an attachment is not supported)");
    if (r.nattch != list.size())
      throw DumpError(where + ": it is attached " + std::to_string(r.nattch) + " times, " +
                      std::to_string(r.nattch - list.size()) + " of them outside this process (its contents " +
                      "would no longer be shared after restore)");
    if (r.size > format::kMaxBlobBytes)
      throw DumpError(where + ": it holds " + std::to_string(r.size >> 20) + " MiB, more than the " +
                      std::to_string(format::kMaxBlobBytes >> 20) + " MiB this version saves");
    SysvSegment g;
    g.key = r.key;
    g.id = id;
    g.mode = r.perms & (0777 | format::kShmDest);
    g.uid = r.uid;
    g.gid = r.gid;
    g.size = r.size;
    // The shm file cannot be read or seeked; its contents are read through
    // the attachment (a never-touched page is faulted in as zeros).
    std::vector<uint8_t> bytes(r.size);
    read_remote(pid, mem.get(), first.start, bytes.data(), bytes.size());
    // Runs of non-zero pages become extents.
    for (uint64_t at = 0; at < r.size;) {
      uint64_t end = std::min<uint64_t>(at + format::kPageSize, r.size);
      bool zero = std::all_of(bytes.begin() + long(at), bytes.begin() + long(end), [](uint8_t b) { return b == 0; });
      if (zero) {
        at = end;
        continue;
      }
      if (!g.data.empty() && g.data.back().offset + g.data.back().bytes.size() == at)
        g.data.back().bytes.insert(g.data.back().bytes.end(), bytes.begin() + long(at), bytes.begin() + long(end));
      else
        g.data.push_back({at, std::vector<uint8_t>(bytes.begin() + long(at), bytes.begin() + long(end))});
      at = end;
    }
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace ckpt::dumper
