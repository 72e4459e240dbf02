// File locks (see Locks.h).
#include "dumper/Locks.h"

#include <sstream>
#include <string>

namespace ckpt::dumper {

using format::FileLock;
using format::LockKind;

std::vector<FileLock> read_locks(pid_t pid, int fd, const FdInfo& info) {
  std::vector<FileLock> out;
  for (const auto& [k, v] : info) {
    if (k != "lock") continue;
    // "1: POSIX  ADVISORY  WRITE 26818 fe:00:10952924 10 14", "2: LEASE  ACTIVE    READ ... 0 EOF"
    std::istringstream in(v);
    std::string id, kind, mode, type, owner, inode, start, end;
    in >> id >> kind >> mode >> type >> owner >> inode >> start >> end;
    auto bad = [&](const std::string& why) { refuse_fd(pid, fd, why + " (fdinfo: " + v + ")"); };
    if (end.empty()) bad("unreadable lock");
    FileLock l;
    if (kind == "POSIX") l.kind = LockKind::Posix;
    else if (kind == "OFDLCK") l.kind = LockKind::Ofd;
    else if (kind == "FLOCK") l.kind = LockKind::Flock;
    else if (kind == "LEASE") l.kind = LockKind::Lease;
    else bad("a " + kind + " lock cannot be taken again");
    if (l.kind == LockKind::Lease ? mode != "ACTIVE" : mode != "ADVISORY")
      bad(l.kind == LockKind::Lease ? "its lease is being broken" : "a mandatory lock");
    if (type != "READ" && type != "WRITE") bad("a lock of unknown type");
    l.write = type == "WRITE";
    if (l.kind == LockKind::Posix || l.kind == LockKind::Ofd) {
      l.start = std::stoll(start);
      l.length = end == "EOF" ? 0 : std::stoll(end) - l.start + 1;
      if (l.start < 0 || l.length < 0) bad("a lock with an impossible range");
    }
    out.push_back(l);
  }
  return out;
}

}  // namespace ckpt::dumper
