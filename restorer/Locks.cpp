// File locks (see Locks.h).
#include "restorer/Locks.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "restorer/RestoreError.h"

namespace ckpt::restorer {

using format::FdEntry;
using format::FileLock;
using format::LockKind;

namespace {

std::string describe(const FdEntry& f, const FileLock& l) {
  std::string range = l.kind == LockKind::Posix || l.kind == LockKind::Ofd
                          ? " on bytes " + std::to_string(l.start) + (l.length ? "-" + std::to_string(l.start + l.length - 1) : "-EOF")
                          : "";
  return std::string(l.write ? "write " : "read ") + format::lock_kind_name(l.kind) + range + " of fd " +
         std::to_string(f.fd) + " (" + (f.file.path.empty() ? format::fd_kind_name(f.kind) : f.file.path) + ")";
}

struct flock range_of(const FileLock& l) {
  struct flock fl{};
  fl.l_type = short(l.write ? F_WRLCK : F_RDLCK);
  fl.l_whence = SEEK_SET;
  fl.l_start = l.start;
  fl.l_len = l.length;
  return fl;
}

[[noreturn]] void held_elsewhere(const FdEntry& f, const FileLock& l, const std::string& why) {
  throw RestoreError("cannot take the " + describe(f, l) + " again: " + why);
}

// Who holds a conflicting lock now, as F_OFD_GETLK tells it ("" if nobody).
std::string conflict(int fd, const FileLock& l) {
  struct flock fl = range_of(l);
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return std::string("F_OFD_GETLK: ") + std::strerror(errno);
  if (fl.l_type == F_UNLCK) return "";
  return fl.l_pid > 0 ? "process " + std::to_string(fl.l_pid) + " holds a conflicting lock"
                      : "another open file holds a conflicting lock";
}

// A second open file description of f's file, for a placeholder: open for
// writing only to hold a write lock (validation made sure f is).
int reopen(const FdEntry& f, int fd, const FileLock& l) {
  int again = ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), (l.write ? O_WRONLY : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
  if (again < 0) held_elsewhere(f, l, std::string("cannot open the file again to hold its range: ") + std::strerror(errno));
  return again;
}

}  // namespace

void check_locks(const FdEntry& f) {
  // Only files found by path can be locked by someone else; recreated ones are new.
  if (f.locks.empty() || f.kind != format::FdKind::RegularFile) return;
  for (const FileLock& l : f.locks) {
    // Read-only is enough to ask (F_OFD_GETLK checks no access mode) and
    // breaks no one's read lease.
    int fd = ::open(f.file.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) held_elsewhere(f, l, std::string("cannot open the file: ") + std::strerror(errno));
    std::string why;
    if (l.kind == LockKind::Flock) {
      if (flock(fd, (l.write ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) why = "another process holds a conflicting flock";
    } else if (l.kind == LockKind::Lease) {
      // Taken and at once let go: whether someone has the file open in a
      // way the lease forbids (writing, for a read lease; at all, for a write lease).
      if (fcntl(fd, F_SETLEASE, l.write ? F_WRLCK : F_RDLCK) != 0)
        why = std::string("the file is open elsewhere in a way the lease forbids (F_SETLEASE: ") + std::strerror(errno) + ")";
      else
        fcntl(fd, F_SETLEASE, F_UNLCK);
    } else {
      why = conflict(fd, l);
    }
    ::close(fd);
    if (!why.empty()) held_elsewhere(f, l, why);
  }
}

std::vector<int> take_locks(const FdEntry& f, int fd, int base, std::vector<trampoline::PosixLock>& posix) {
  std::vector<int> placeholders;
  for (const FileLock& l : f.locks) {
    struct flock fl = range_of(l);
    switch (l.kind) {
      case LockKind::Ofd:
        if (fcntl(fd, F_OFD_SETLK, &fl) != 0) held_elsewhere(f, l, conflict(fd, l) + " (" + std::strerror(errno) + ")");
        break;
      case LockKind::Flock:
        if (flock(fd, (l.write ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0)
          held_elsewhere(f, l, std::string("another process holds a conflicting flock (") + std::strerror(errno) + ")");
        break;
      case LockKind::Lease:
        if (fcntl(fd, F_SETLEASE, l.write ? F_WRLCK : F_RDLCK) != 0)
          held_elsewhere(f, l, std::string("F_SETLEASE: ") + std::strerror(errno));
        break;
      case LockKind::Posix: {
        int holder = reopen(f, fd, l);
        int high = fcntl(holder, F_DUPFD_CLOEXEC, base);
        ::close(holder);
        if (high < 0) held_elsewhere(f, l, std::string("cannot place its placeholder: ") + std::strerror(errno));
        placeholders.push_back(high);
        if (fcntl(high, F_OFD_SETLK, &fl) != 0) held_elsewhere(f, l, conflict(high, l));
        posix.push_back({f.fd, int16_t(fl.l_type), 0, l.start, l.length});
        break;
      }
    }
  }
  return placeholders;
}

}  // namespace ckpt::restorer
