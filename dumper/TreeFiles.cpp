// Open file descriptions, pipes and FIFOs across the members (see TreeFiles.h).
#include "dumper/TreeFiles.h"

#include <fcntl.h>
#include <poll.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "dumper/Fifo.h"
#include "dumper/FdInfo.h"
#include "dumper/OpenFiles.h"
#include "dumper/Tracee.h"

namespace ckpt::dumper {

namespace {

struct End {
  uint64_t dev, ino;
  size_t member;
  pid_t pid;
  format::FdEntry* f;
};

// kcmp's order of two open files of (possibly) two processes: -1, 0, 1.
int compare(const End& a, const End& b) {
  long r = syscall(SYS_kcmp, a.pid, b.pid, KCMP_FILE, a.f->fd, b.f->fd);
  if (r < 0)
    throw DumpError("cannot tell whether pid " + std::to_string(a.pid) + "'s fd " + std::to_string(a.f->fd) +
                    " and pid " + std::to_string(b.pid) + "'s fd " + std::to_string(b.f->fd) +
                    " share an open file (kcmp: " + std::strerror(errno) + ")");
  return r == 0 ? 0 : r == 1 ? -1 : 1;
}

// Whether nobody, inside the tree or out, holds the other end of the pipe
// behind `f`: a read end then reports POLLHUP, a write end POLLERR (asked
// on a copy of the description, which is not another end).
bool other_end_closed(pid_t pid, const format::FdEntry& f) {
  const uint32_t acc = f.flags & O_ACCMODE;
  if (acc != O_RDONLY && acc != O_WRONLY) return false;
  int copy = copy_open_file(pid, f.fd);
  pollfd p{copy, short(acc == O_RDONLY ? POLLIN : POLLOUT), 0};
  bool closed = poll(&p, 1, 0) == 1 && (p.revents & (acc == O_RDONLY ? POLLHUP : POLLERR));
  ::close(copy);
  return closed;
}

}  // namespace

void link_tree_files(const ProcessTree& tree, const std::vector<format::Image*>& images) {
  const auto& ms = tree.members();
  std::vector<End> ends;
  for (size_t i = 0; i < images.size(); ++i) {
    if (!images[i]) continue;
    const pid_t pid = ms[i].pid;
    format::FileTable& files = images[i]->files;
    for (format::FdEntry& f : files.fds) {
      for (const format::FileLock& l : f.locks)
        if (i != 0 && l.kind == format::LockKind::Lease)
          throw DumpError("pid " + std::to_string(pid) + ": cannot dump fd " + std::to_string(f.fd) +
                          ": it holds a lease, whose break signal restore can send only to the tree's root");
      // Unix sockets are resolved against one process's set (UnixSocket.h)
      // and created for the root alone, so far.
      if (i != 0 && f.kind == format::FdKind::UnixSocket)
        throw DumpError("pid " + std::to_string(pid) + ": cannot dump fd " + std::to_string(f.fd) +
                        ": unix sockets are restored only for the tree's root in this version (dump it with --single)");
      // Restore makes every description in the root launcher, which can
      // name only itself (the root) as the SIGIO owner.
      if (i != 0 && f.owner != format::kOwnerNone)
        throw DumpError("pid " + std::to_string(pid) + ": cannot dump fd " + std::to_string(f.fd) +
                        ": its SIGIO owner (F_SETOWN) is that process, which this version restores only for the "
                        "tree's root");
      struct stat st;
      if (stat(proc_path(pid, "fd/" + std::to_string(f.fd)).c_str(), &st) != 0)
        throw DumpError("pid " + std::to_string(pid) + ": fd " + std::to_string(f.fd) + " vanished while being read");
      ends.push_back({uint64_t(st.st_dev), uint64_t(st.st_ino), i, pid, &f});
    }
    if (i != 0 && !images[i]->sysv_shm.empty())
      throw DumpError("pid " + std::to_string(pid) + " (a descendant) has System V shared memory attached, which "
                      "this version restores only for the tree's root");
    for (const format::Vma& v : images[i]->vmas)
      if (i != 0 && v.kind == format::VmaKind::FileSharedOwn)
        throw DumpError("pid " + std::to_string(pid) + " (a descendant) maps its per-process file " + v.file.path +
                        ", which this version restores only for the tree's root");
    for (const format::DeletedFile& d : files.deleted)
      if (i != 0 && (d.flags & format::kDeletedIsCwd))
        throw DumpError("pid " + std::to_string(pid) + " (a descendant) works in the deleted directory " + d.path +
                        ", which this version restores only for the tree's root");
  }
  // One description per kcmp-equal run; fds on one inode are neighbours.
  std::sort(ends.begin(), ends.end(), [](const End& a, const End& b) {
    if (a.dev != b.dev) return a.dev < b.dev;
    if (a.ino != b.ino) return a.ino < b.ino;
    return compare(a, b) < 0;
  });
  uint64_t next = 0;
  for (size_t k = 0; k < ends.size(); ++k) {
    bool same = k > 0 && ends[k].dev == ends[k - 1].dev && ends[k].ino == ends[k - 1].ino &&
                compare(ends[k], ends[k - 1]) == 0;
    if (!same) ++next;
    ends[k].f->description = next;
  }

  // Pipes and FIFOs: an end is outside only if no member holds the other
  // end; unread data goes with the first reading end, by member then fd.
  std::sort(ends.begin(), ends.end(), [](const End& a, const End& b) {
    return a.member != b.member ? a.member < b.member : a.f->fd < b.f->fd;
  });
  std::map<uint64_t, unsigned> sides;  // pipe/FIFO inode -> 1 read, 2 write
  for (const End& e : ends) {
    const format::FdEntry& f = *e.f;
    if (f.kind != format::FdKind::Pipe && f.kind != format::FdKind::Fifo) continue;
    const uint32_t acc = f.flags & O_ACCMODE;
    sides[f.object] |= acc == O_RDONLY ? 1u : acc == O_WRONLY ? 2u : 3u;
  }
  std::map<uint64_t, bool> filled;  // inode -> data already attached
  for (const End& e : ends) {
    format::FdEntry& f = *e.f;
    if (f.kind != format::FdKind::Pipe && f.kind != format::FdKind::Fifo) continue;
    f.external = sides[f.object] != 3;
    // A pipe whose other end nobody holds any more (make gives its jobs
    // such a read end as stdin) is not outside: restore makes a pipe and
    // closes that end, exactly what the process had.
    if (f.external && f.kind == format::FdKind::Pipe && other_end_closed(e.pid, f)) f.external = 0;
    const bool reads = (f.flags & O_ACCMODE) != O_WRONLY;
    if (f.kind == format::FdKind::Fifo) {
      // save_fifo_contents filled the first reading fd of each member.
      if (!f.contents.empty() && filled[f.object]) f.contents.clear();
      if (!f.contents.empty()) filled[f.object] = true;
      continue;
    }
    f.contents.clear();
    if (f.external || !reads || filled[f.object]) continue;
    f.contents = peek_pipe(e.pid, f.fd, f.object, f.pipe_size);
    filled[f.object] = true;
  }
}

}  // namespace ckpt::dumper
