// Descriptors and shared memory objects (see Descriptors.h).
#include "restorer/Descriptors.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "restorer/DeletedFiles.h"
#include "restorer/Epoll.h"
#include "restorer/Fifo.h"
#include "restorer/FileOwner.h"
#include "restorer/InetSocket.h"
#include "restorer/Inotify.h"
#include "restorer/Locks.h"
#include "restorer/Pty.h"
#include "restorer/RestoreError.h"
#include "restorer/TcpConnection.h"
#include "restorer/TimerFd.h"
#include "restorer/UnixSocket.h"

namespace ckpt::restorer {

using format::FdEntry;
using format::FdKind;

namespace {

std::string fd_text(const FdEntry& f) {
  return "fd " + std::to_string(f.fd) + " (" + format::fd_kind_name(f.kind) +
         (f.file.path.empty() ? "" : " " + f.file.path) + ")";
}

[[noreturn]] void fail(const FdEntry& f, const std::string& why) { throw RestoreError(fd_text(f) + ": " + why); }

int64_t mtime_of(const struct stat& st) { return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec; }

// The status flags F_SETFL can set; the access mode is fixed at open.
// O_ASYNC is left to the trampoline, which sets it on the final fd number
// (the kernel records that number for si_fd).
constexpr uint32_t kSettable = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

void write_all(int fd, const uint8_t* p, size_t n, uint64_t at, const std::string& what) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = pwrite(fd, p + done, n - done, off_t(at + done));
    if (w <= 0) throw RestoreError("cannot write " + what + ": " + std::strerror(errno));
    done += size_t(w);
  }
}

int make_object(const format::SharedObject& o) {
  int fd = -1;
  const std::string what = o.memfd ? "memfd " + o.name : "shared memory object " + std::to_string(o.id);
  if (o.memfd) {
    fd = memfd_create(o.name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, off_t(o.size)) != 0) throw RestoreError("cannot create " + what + ": " + std::strerror(errno));
  } else {
    // A MAP_SHARED|MAP_ANONYMOUS object is named "/dev/zero (deleted)" in
    // maps; only mmap makes one. map_files gives a descriptor for it.
    size_t len = std::max<uint64_t>(o.size, 4096);
    void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw RestoreError("cannot create " + what + ": " + std::strerror(errno));
    char link[96];
    std::snprintf(link, sizeof link, "/proc/self/map_files/%" PRIxPTR "-%" PRIxPTR, uintptr_t(m), uintptr_t(m) + len);
    fd = ::open(link, O_RDWR | O_CLOEXEC);
    int e = errno;
    munmap(m, len);
    if (fd < 0)
      throw RestoreError("cannot reopen " + what + " through /proc/self/map_files (needs CAP_CHECKPOINT_RESTORE): " +
                         std::strerror(e));
  }
  for (const auto& ext : o.data) write_all(fd, ext.bytes.data(), ext.bytes.size(), ext.offset, what);
  // memfd_create makes 0777 (0666 with MFD_NOEXEC_SEAL); fchmod may have changed it since.
  if (o.memfd && fchmod(fd, o.mode & 0777) != 0) throw RestoreError("cannot set the mode of " + what + ": " + std::strerror(errno));
  return fd;
}

// A file of the process's own /proc directory, which the dump names under
// /proc/self (its pid is not kept).
bool is_own_proc_file(const std::string& path) { return path == "/proc/self" || path.rfind("/proc/self/", 0) == 0; }

// Opens a path (FIFO, file, directory, device) as the saved fd had it. The
// path comes from the image and may have changed since check_files: it is
// looked at through O_PATH first (no driver's open, never blocks) and must
// still be of the saved kind (and device); the real open goes through that
// descriptor, non-blocking (a FIFO without a writer, a tty), and the saved
// status flags are set afterwards with F_SETFL.
int open_like(const FdEntry& f, const std::string& path, uint32_t extra = 0) {
  // Only flags that say how an existing file is used; never O_CREAT,
  // O_TRUNC, O_TMPFILE or anything else an image could abuse. An O_PATH
  // descriptor (it only names the file) is the probe itself, opened with
  // the flags O_PATH keeps.
  constexpr uint32_t kAllowed = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT | O_NOATIME |
                                O_LARGEFILE | O_DIRECTORY;
  const bool path_only = f.flags & O_PATH;
  int probe = ::open(path.c_str(), O_PATH | O_CLOEXEC | (path_only ? int(f.flags & (O_DIRECTORY | O_NOFOLLOW)) : 0));
  if (probe < 0) fail(f, std::string("cannot open it: ") + std::strerror(errno));
  struct stat st;
  bool same_kind = fstat(probe, &st) == 0;
  switch (f.kind) {
    case FdKind::RegularFile: same_kind &= S_ISREG(st.st_mode); break;
    case FdKind::Directory: same_kind &= S_ISDIR(st.st_mode); break;
    case FdKind::CharDevice: same_kind &= S_ISCHR(st.st_mode) && st.st_rdev == f.rdev; break;
    case FdKind::Fifo: same_kind &= S_ISFIFO(st.st_mode); break;
    default: same_kind = false;
  }
  if (!same_kind) {
    ::close(probe);
    fail(f, std::string("it is no longer a ") + format::fd_kind_name(f.kind) + " (changed since it was checked)");
  }
  if (path_only) return probe;
  uint32_t flags = (f.flags & kAllowed) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | extra;
  int fd = ::open(("/proc/self/fd/" + std::to_string(probe)).c_str(), int(flags));
  int e = errno;
  ::close(probe);
  if (fd < 0) fail(f, std::string("cannot open it: ") + std::strerror(e));
  return fd;
}

// Writes saved unread data into a pipe or FIFO through a description of its
// own opened O_NONBLOCK: restore never blocks on a full pipe, and a short
// write is an error (before the point of no return).
void write_pipe_data(const FdEntry& f, int end, const std::vector<uint8_t>& data) {
  if (data.empty()) return;
  int w = ::open(("/proc/self/fd/" + std::to_string(end)).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (w < 0) fail(f, std::string("cannot reach the pipe to put back its unread data: ") + std::strerror(errno));
  ssize_t n = ::write(w, data.data(), data.size());
  int e = errno;
  ::close(w);
  if (n != ssize_t(data.size()))
    fail(f, "cannot put back the " + std::to_string(data.size()) + " bytes of unread data: " +
                (n < 0 ? std::string(std::strerror(e)) : "only " + std::to_string(n) + " fit"));
}

// Keeps a descriptor of the pipe or FIFO `f`'s unread data goes into, above
// every saved number, until fill_pipes writes it: into a FIFO, that data is
// a side effect others may see, so it is written last of all.
void keep_for_fill(PreparedFiles& out, const FdEntry& f, int end, int base) {
  int fd = fcntl(end, F_DUPFD_CLOEXEC, base);
  if (fd < 0) fail(f, std::string("cannot keep the pipe for its unread data: ") + std::strerror(errno));
  out.fills.emplace_back(&f, fd);
}

}  // namespace

namespace {

// The highest fd number the image uses (epoll keys, dups and stdio dups
// included) and how many numbers it uses in all.
struct FdRoom {
  int top = 2;
  size_t numbers = 0;
};
FdRoom fd_room(const format::Image& image) {
  FdRoom r;
  for (const FdEntry& f : image.files.fds) {
    r.top = std::max(r.top, f.fd);
    r.numbers += 1 + f.dups.size();
    for (const auto& d : f.dups) r.top = std::max(r.top, d.fd);
    for (const auto& t : f.targets) r.top = std::max(r.top, t.fd);
  }
  for (const auto& d : image.files.stdio_dups) r.top = std::max(r.top, d.fd);
  r.numbers += image.files.stdio_dups.size();
  return r;
}

}  // namespace

// Whether this caller can give a pipe `size` bytes (F_SETPIPE_SZ refuses
// sizes above /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE, and
// above 2^31 always): tried on a scratch pipe, once per size, so that
// restore --check refuses what prepare_fds would.
static bool pipe_size_settable(uint32_t size) {
  static std::map<uint32_t, bool> tried;
  auto it = tried.find(size);
  if (it != tried.end()) return it->second;
  int p[2];
  bool ok = false;
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
    ok = fcntl(p[1], F_SETPIPE_SZ, size) >= 0;
    ::close(p[0]), ::close(p[1]);
  }
  return tried[size] = ok;
}

void check_files(const format::Image& image, const ExternalFds& external, bool root) {
  const std::set<int>& inherit = external.inherit;
  check_deleted_files(image);
  check_ptys(image, root);
  for (const FdEntry& f : image.files.fds) {
    struct stat st;
    switch (f.kind) {
      case FdKind::RegularFile:
        if (stat(f.file.path.c_str(), &st) != 0) fail(f, "the file is missing");
        if (!S_ISREG(st.st_mode)) fail(f, "it is no longer a regular file");
        if (is_own_proc_file(f.file.path)) {
          // Generated on reading (the dump saved no size or time): the
          // restored process's own, opened as /proc/self by its launcher.
        } else if (f.flags & O_PATH) {
          // It only names the file: its contents do not matter.
        } else if ((f.flags & O_ACCMODE) == O_RDONLY) {
          if (uint64_t(st.st_size) != f.file.size || mtime_of(st) != f.file.mtime_ns)
            fail(f, "the file changed since the dump (size or modification time)");
        } else if (!(f.flags & O_APPEND) && uint64_t(st.st_size) < uint64_t(f.pos)) {
          fail(f, "the file is now shorter than the saved offset");
        }
        break;
      case FdKind::Directory:
        if (stat(f.file.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) fail(f, "the directory is missing");
        break;
      case FdKind::CharDevice:
        if (stat(f.file.path.c_str(), &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != f.rdev)
          fail(f, "the device is missing or is another device");
        break;
      case FdKind::Pipe:
        if (f.external && !inherit.count(f.fd) && !external.null)
          fail(f, "its other end was outside the process; pass --inherit-fd " + std::to_string(f.fd) +
                      " with a replacement open on that fd of restore, or --external-fds=null");
        if (f.external && inherit.count(f.fd) && fcntl(f.fd, F_GETFD) < 0)
          fail(f, "--inherit-fd " + std::to_string(f.fd) + " was given but restore has no fd " + std::to_string(f.fd));
        if (!f.external && f.pipe_size && !pipe_size_settable(f.pipe_size))
          fail(f, "cannot set the pipe size to " + std::to_string(f.pipe_size) + " here");
        break;
      case FdKind::Inotify: check_inotify(f); break;
      case FdKind::UnixSocket:
        if (!f.external) break;
        if (!inherit.count(f.fd))
          fail(f, "its peer was outside the dumped processes; pass --inherit-fd " + std::to_string(f.fd) +
                      " with a connected socket open on that fd of restore (--external-fds=null stands in for pipes only)");
        if (fstat(f.fd, &st) != 0 || !S_ISSOCK(st.st_mode))
          fail(f, "--inherit-fd " + std::to_string(f.fd) + " was given but restore's fd " + std::to_string(f.fd) +
                      " is not a socket");
        break;
      case FdKind::Terminal:
        if (!external.terminal) fail(f, "it was on the user's terminal, and this restore has none to give it");
        break;
      case FdKind::Fifo:
        if (fifo_is_unlinked(image, f)) break;  // recreated (DeletedFiles.h)
        if (stat(f.file.path.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) fail(f, "the FIFO is missing");
        // A write end whose reader was outside needs a reader now, or its open would fail later.
        if (f.external && (f.flags & O_ACCMODE) != O_RDONLY) {
          int probe = ::open(f.file.path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
          if (probe < 0) fail(f, "the FIFO has no reader now (" + std::string(std::strerror(errno)) + ")");
          ::close(probe);
        }
        break;
      default: break;
    }
    check_locks(f);
  }
  // The room prepare_fds and the trampoline need under the caller's
  // RLIMIT_NOFILE (the saved one is applied only after them): every fd is
  // created above the highest saved number, besides the launcher's own
  // (one per distinct mapped file, the image, a few more), and the
  // threads' rendezvous fds go above those.
  const FdRoom room = fd_room(image);
  std::vector<const std::string*> mapped;
  for (const format::Vma& v : image.vmas)
    if (format::vma_kind_has_file(v.kind)) mapped.push_back(&v.file.path);
  std::sort(mapped.begin(), mapped.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  const size_t distinct = size_t(
      std::unique(mapped.begin(), mapped.end(), [](const std::string* a, const std::string* b) { return *a == *b; }) -
      mapped.begin());
  rlimit nofile;
  getrlimit(RLIMIT_NOFILE, &nofile);
  uint64_t need = uint64_t(room.top) + room.numbers + 64 + distinct + image.threads.size() + 2;
  if (nofile.rlim_cur != RLIM_INFINITY && need > nofile.rlim_cur)
    throw RestoreError("the image needs fd " + std::to_string(room.top) + " and " + std::to_string(need) +
                       " fds in all while it is restored, above this caller's RLIMIT_NOFILE of " +
                       std::to_string(nofile.rlim_cur));
  check_timerfds(image);
  if (root) check_unix_sockets(image.files.unix_sockets, image);
  check_inet_sockets(image);  // InetSocket.h
  check_tcp_connections(image);
  for (const format::StdioDup& d : image.files.stdio_dups)
    if (fcntl(d.of, F_GETFD) < 0)
      throw RestoreError("fd " + std::to_string(d.fd) + " shared fd " + std::to_string(d.of) +
                         "'s open file, which is restore's own, but restore has no fd " + std::to_string(d.of));
  for (int n : inherit) {
    auto it = std::lower_bound(image.files.fds.begin(), image.files.fds.end(), n,
                               [](const FdEntry& f, int x) { return f.fd < x; });
    bool used = it != image.files.fds.end() && it->fd == n && it->external &&
                (it->kind == FdKind::Pipe || it->kind == FdKind::UnixSocket);
    if (!used)
      throw RestoreError("--inherit-fd " + std::to_string(n) + ": the image has no outside pipe end or socket on fd " +
                         std::to_string(n));
  }
}

SharedDescriptions::~SharedDescriptions() {
  for (const auto& [ino, ends] : pipes) {
    ::close(ends.first);
    ::close(ends.second);
  }
  for (const auto& [id, fd] : deleted) ::close(fd);
}

// Deleted files are tree-wide by id: one a member uses that another
// already made is handed to it (a descriptor of its own, which
// finish_deleted_files closes), and one it makes is kept for the others.
static void take_shared_deleted(const format::Image& image, std::map<uint64_t, int>& fds, SharedDescriptions* shared) {
  if (!shared) return;
  for (const format::DeletedFile& d : image.files.deleted)
    if (auto it = shared->deleted.find(d.id); it != shared->deleted.end() && !fds.count(d.id)) {
      int fd = fcntl(it->second, F_DUPFD_CLOEXEC, 3);
      if (fd < 0) throw RestoreError(std::string("cannot share a recreated deleted file: ") + std::strerror(errno));
      fds[d.id] = fd;
    }
}
static void give_shared_deleted(const std::map<uint64_t, int>& fds, SharedDescriptions* shared) {
  if (!shared) return;
  for (const auto& [id, fd] : fds)
    if (!shared->deleted.count(id)) {
      int keep = fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (keep < 0) throw RestoreError(std::string("cannot share a recreated deleted file: ") + std::strerror(errno));
      shared->deleted[id] = keep;
    }
}

int fd_base(const format::Image& image) { return fd_room(image).top + 1; }

PreparedFiles prepare_objects(const format::Image& image, SharedDescriptions* shared) {
  PreparedFiles out;
  take_shared_deleted(image, out.deleted, shared);
  make_mapped_deleted_files(image, out.deleted);  // unnamed: nothing appears in the file system
  give_shared_deleted(out.deleted, shared);
  for (const auto& o : image.files.objects) {
    if (shared && shared->objects.count(o.id)) {  // another member's: one object for the tree
      out.objects[o.id] = shared->objects[o.id];
      continue;
    }
    out.objects[o.id] = make_object(o);
    if (shared) shared->objects[o.id] = out.objects[o.id];
    if (o.memfd && o.seals) out.seals.emplace_back(out.objects[o.id], o.seals);
  }
  return out;
}

void prepare_fds(const format::Image& image, const ExternalFds& external /*checked by check_files*/,
                 PreparedFiles& out, SharedDescriptions* shared) {
  take_shared_deleted(image, out.deleted, shared);
  make_deleted_files(image, out.deleted);
  give_shared_deleted(out.deleted, shared);
  if (const format::DeletedFile* cwd = deleted_cwd(image))
    if (fchdir(out.deleted.at(cwd->id)) != 0)
      throw RestoreError("cannot enter the recreated working directory: " + std::string(std::strerror(errno)));
  SharedDescriptions own;  // a single process: shared with nobody
  SharedDescriptions& tree = shared ? *shared : own;
  std::set<uint64_t>& memfd_given = tree.memfd_given;
  const FdRoom room = fd_room(image);
  const int top = room.top;
  const size_t numbers = room.numbers;
  // Created fds go above every saved number and every fd the launcher holds now.
  rlimit nofile;
  getrlimit(RLIMIT_NOFILE, &nofile);
  if (uint64_t(top) + numbers + 64 > nofile.rlim_cur)
    throw RestoreError("the image needs fd " + std::to_string(top) + ", above this process's RLIMIT_NOFILE");
  int base = std::max(top + 1, tree.base);
  // Every socket (connected pairs, listeners with their queues) at once;
  // the holders close when this returns, the fds below keep them. A
  // tree's were all made before its first member's fds (restore_tree).
  std::optional<UnixSockets> own_sockets;
  if (!tree.unix_sockets) own_sockets.emplace(create_unix_sockets(image.files.unix_sockets, image));
  const UnixSockets& sockets = tree.unix_sockets ? *tree.unix_sockets : *own_sockets;

  std::map<uint64_t, std::pair<int, int>>& pipes = tree.pipes;
  std::map<uint64_t, unsigned>& pipe_ends_used = tree.pipe_ends_used;
  std::map<int32_t, int> created;                 // FdEntry::fd -> launcher fd of its open file
  make_ptys(image, tree.ptys);                    // each pty once, before its fds (Pty.h)
  std::set<int32_t> reused;                       // FdEntry::fd whose description an earlier member made
  // FIFOs: read ends first, so that opening a write end finds a reader.
  std::vector<const FdEntry*> order;
  for (const FdEntry& f : image.files.fds) order.push_back(&f);
  std::stable_sort(order.begin(), order.end(), [](const FdEntry* a, const FdEntry* b) {
    // TCP connections last: one binds its listener's port with the force
    // of repair mode, which a listener bound after it would collide with.
    auto rank = [](const FdEntry* f) {
      return f->kind == FdKind::TcpConnection ? 2 : f->kind == FdKind::Fifo && (f->flags & O_ACCMODE) != O_RDONLY;
    };
    return rank(a) < rank(b);
  });
  // `high` (a descriptor above `base`) goes to f's number, and dups of it
  // to f's other numbers (more fds of one open file description), when the
  // trampoline moves every fd into place.
  auto place = [&](const FdEntry& f, int high) {
    out.moves.push_back({high, f.fd, f.cloexec});
    out.close_upto = std::max(out.close_upto, high + 1);
    created[f.fd] = high;
    for (const format::FdNumber& d : f.dups) {
      int again = fcntl(high, F_DUPFD_CLOEXEC, base);
      if (again < 0) fail(f, "cannot give it fd " + std::to_string(d.fd) + " too: " + std::strerror(errno));
      out.moves.push_back({again, d.fd, d.cloexec});
      out.close_upto = std::max(out.close_upto, again + 1);
    }
  };
  for (const FdEntry* fp : order) {
    const FdEntry& f = *fp;
    const bool nonblock = f.flags & O_NONBLOCK;
    int fd = -1;
    if (f.kind == FdKind::Terminal && external.terminal->fallback()) {
      // No terminal at restore: a dup of restore's stdin or stdout (its
      // description, flags and all, as for fds 0-2 themselves).
      const int of = Terminal::fallback_fd(f);
      int high = fcntl(of, F_DUPFD_CLOEXEC, base);
      if (high < 0) fail(f, "cannot make it a dup of restore's fd " + std::to_string(of) + ": " + std::strerror(errno));
      place(f, high);
      continue;
    }
    if (auto it = f.description ? tree.descriptions.find(f.description) : tree.descriptions.end();
        it != tree.descriptions.end()) {
      // One description, inherited across fork by several members: the
      // same one again (its offset, flags and locks are already set).
      int high = fcntl(it->second, F_DUPFD_CLOEXEC, base);
      if (high < 0) fail(f, std::string("cannot share it: ") + std::strerror(errno));
      reused.insert(f.fd);
      // The dumper attaches a pipe's or FIFO's unread data to one end
      // only, which may be this member's record of the description.
      if ((f.kind == FdKind::Pipe || f.kind == FdKind::Fifo) && !f.contents.empty()) keep_for_fill(out, f, high, base);
      if (f.flags & O_ASYNC) out.fixups.push_back({f.fd, trampoline::kFixupAsync, 0, 0});
      place(f, high);
      continue;
    }
    switch (f.kind) {
      case FdKind::RegularFile:
      case FdKind::Directory:
      case FdKind::CharDevice: fd = open_like(f, f.file.path); break;
      case FdKind::DeletedFile:
        fd = ::open(("/proc/self/fd/" + std::to_string(out.deleted.at(f.object))).c_str(),
                    int((f.flags & (O_ACCMODE | O_APPEND | O_DIRECTORY)) | O_CLOEXEC));
        break;
      case FdKind::Fifo:
        // An unlinked FIFO is reached through its recreated object (Fifo.h).
        fd = fifo_is_unlinked(image, f) ? open_unlinked_fifo_end(f, out.deleted) : open_like(f, f.file.path);
        break;
      case FdKind::Inotify: fd = make_inotify(f); break;
      case FdKind::InetSocket:
      case FdKind::NetlinkSocket: fd = make_inet_socket(image, f); break;
      case FdKind::Terminal: fd = external.terminal->open_for(f); break;
      case FdKind::Pipe:
        if (f.external && external.inherit.count(f.fd)) {
          fd = fcntl(f.fd, F_DUPFD_CLOEXEC, base);  // --inherit-fd: restore's own fd f.fd
          break;
        } else if (f.external) {  // --external-fds=null (check_files made sure)
          fd = ::open("/dev/null", int((f.flags & O_ACCMODE) | O_CLOEXEC | O_NOCTTY));
          break;
        } else {
          auto it = pipes.find(f.object);
          if (it == pipes.end()) {
            int p[2];
            if (pipe2(p, O_CLOEXEC) != 0) fail(f, std::string("pipe2: ") + std::strerror(errno));
            if (f.pipe_size && fcntl(p[1], F_SETPIPE_SZ, f.pipe_size) < 0)
              fail(f, "cannot set the pipe size to " + std::to_string(f.pipe_size));
            it = pipes.emplace(f.object, std::make_pair(p[0], p[1])).first;
          }
          // The dumper attaches the unread data to one read end of the pipe.
          if (!f.contents.empty()) keep_for_fill(out, f, it->second.second, base);  // written last
          // pipe2's own two ends serve the open files that pipe() made (no
          // O_LARGEFILE); any other open file of the pipe was opened again
          // through /proc, and is opened again that way here.
          const uint32_t access = f.flags & O_ACCMODE;
          const unsigned bit = access == O_RDONLY ? 1u : access == O_WRONLY ? 2u : 0u;
          unsigned& used = pipe_ends_used[f.object];
          if (bit && !(f.flags & O_LARGEFILE) && !(used & bit)) {
            used |= bit;
            fd = fcntl(bit == 1 ? it->second.first : it->second.second, F_DUPFD_CLOEXEC, 0);
          } else {
            fd = ::open(("/proc/self/fd/" + std::to_string(it->second.first)).c_str(),
                        int(access | O_CLOEXEC | (f.flags & O_NONBLOCK)));
          }
        }
        break;
      case FdKind::EventFd:
        fd = eventfd(unsigned(f.count), EFD_CLOEXEC | (nonblock ? EFD_NONBLOCK : 0) | ((f.flags & 1) ? EFD_SEMAPHORE : 0));
        break;
      case FdKind::Epoll: fd = epoll_create1(EPOLL_CLOEXEC); break;
      case FdKind::SignalFd: {
        sigset_t mask;
        sigemptyset(&mask);
        std::memcpy(&mask, &f.sigmask, sizeof f.sigmask);
        fd = signalfd(-1, &mask, SFD_CLOEXEC | (nonblock ? SFD_NONBLOCK : 0));
        break;
      }
      case FdKind::TimerFd: fd = make_timerfd(f); break;
      case FdKind::UnixSocket:  // an outside one: restore's own fd f.fd (--inherit-fd, check_files made sure)
        fd = fcntl(f.external ? f.fd : sockets.fd(f.object), F_DUPFD_CLOEXEC, f.external ? base : 0);
        break;
      case FdKind::TcpConnection:
        fd = make_tcp_connection(image, f);  // in repair mode until the trampoline's fixup
        out.fixups.push_back({f.fd, trampoline::kFixupTcpRepairOff, tcp_reuseaddr(image, f), tcp_corked(image, f) ? 0u : 1u});
        break;
      case FdKind::PtyMaster:
      case FdKind::PtySlave: fd = open_pty_end(f, tree.ptys); break;
      case FdKind::Memfd: {
        auto it = out.objects.find(f.object);
        if (it == out.objects.end()) fail(f, "its memfd object is missing");
        // memfd_create's own description is not counted as a writer of the
        // inode (execveat of the memfd works while it is open); a reopen
        // with O_RDWR is, and makes execveat fail with ETXTBSY. So the
        // first O_RDWR fd of a memfd gets the created description itself.
        if ((f.flags & O_ACCMODE) == O_RDWR && memfd_given.insert(f.object).second)
          fd = fcntl(it->second, F_DUPFD_CLOEXEC, 0);
        else
          fd = ::open(("/proc/self/fd/" + std::to_string(it->second)).c_str(), int((f.flags & O_ACCMODE) | O_CLOEXEC));
        break;
      }
    }
    if (fd < 0) fail(f, std::string("cannot recreate it: ") + std::strerror(errno));
    if (f.kind != FdKind::Epoll && !(f.flags & O_PATH) && fcntl(fd, F_SETFL, int(f.flags & kSettable)) != 0)
      fail(f, std::string("cannot set its flags: ") + std::strerror(errno));
    set_file_owner(f, fd);
    if (f.flags & O_ASYNC) out.fixups.push_back({f.fd, trampoline::kFixupAsync, 0, 0});
    for (const format::FileLock& l : f.locks)
      if (l.kind == format::LockKind::Lease)
        out.fixups.push_back({f.fd, trampoline::kFixupLease, l.write ? F_WRLCK : F_RDLCK, 0});
    if ((f.kind == FdKind::RegularFile || f.kind == FdKind::Directory || f.kind == FdKind::DeletedFile ||
         f.kind == FdKind::Memfd) &&
        !(f.flags & O_PATH) && lseek(fd, f.pos, SEEK_SET) != f.pos)
      fail(f, "cannot seek to offset " + std::to_string(f.pos));
    int high = fcntl(fd, F_DUPFD_CLOEXEC, base);
    if (high < 0) fail(f, std::string("cannot move it out of the way: ") + std::strerror(errno));
    if (high != fd) ::close(fd);
    if (f.kind == FdKind::Fifo && !f.contents.empty()) keep_for_fill(out, f, high, base);
    if (f.kind == FdKind::TcpConnection && tcp_record(image, f).unsent) {
      int again = fcntl(high, F_DUPFD_CLOEXEC, base);
      if (again < 0) fail(f, std::string("cannot keep the connection for its unsent data: ") + std::strerror(errno));
      out.tcp_unsent.emplace_back(&tcp_record(image, f), again);
    }
    if (f.description) tree.descriptions[f.description] = high;
    place(f, high);
  }
  for (const format::StdioDup& d : image.files.stdio_dups) {  // restore's own 0-2 stand for the saved ones
    int again = fcntl(d.of, F_DUPFD_CLOEXEC, base);
    if (again < 0)
      throw RestoreError("fd " + std::to_string(d.fd) + ": cannot make it a dup of restore's fd " + std::to_string(d.of) +
                         ": " + std::strerror(errno));
    out.moves.push_back({again, d.fd, d.cloexec});
    out.close_upto = std::max(out.close_upto, again + 1);
  }
  // Every open file exists: the locks held through them (POSIX ones are only
  // reserved here; the trampoline takes them), then the epoll sets.
  // A description another member made holds its own locks already; only
  // this process's POSIX locks through it remain to take.
  for (const FdEntry& f : image.files.fds) {
    FdEntry posix_only;
    const FdEntry* with = &f;
    if (reused.count(f.fd)) {
      posix_only.fd = f.fd;
      posix_only.kind = f.kind;
      posix_only.flags = f.flags;
      posix_only.file = f.file;
      for (const format::FileLock& l : f.locks)
        if (l.kind == format::LockKind::Posix) posix_only.locks.push_back(l);
      with = &posix_only;
    }
    for (int placeholder : take_locks(*with, created.at(f.fd), base, out.posix_locks))
      out.close_upto = std::max(out.close_upto, placeholder + 1);
  }
  fill_epoll_sets(image, created, base, reused);
  if (own_sockets) own_sockets->commit();
  fill_inet_queues(image, created, reused);
  if (!shared) {  // a single process: its ptys are complete (a tree's: restore_tree)
    take_controlling_terminal(image, out.moves);
    finish_ptys(own.ptys);
  }
}

void fill_pipes(PreparedFiles& files) {
  for (auto& [f, fd] : files.fills) {
    write_pipe_data(*f, fd, f->contents);
    ::close(fd);
    fd = -1;
  }
  files.fills.clear();
  for (auto& [c, fd] : files.tcp_unsent) {
    send_unsent(*c, fd);
    ::close(fd);
    fd = -1;
  }
  files.tcp_unsent.clear();
}

PreparedFiles prepare_files(const format::Image& image, const ExternalFds& external) {
  PreparedFiles files = prepare_objects(image);
  prepare_fds(image, external, files);
  fill_pipes(files);
  return files;
}

void seal_memfds(const PreparedFiles& files) {
  for (const auto& [fd, seals] : files.seals)
    if (fcntl(fd, F_ADD_SEALS, int(seals)) != 0)
      throw RestoreError(std::string("cannot seal a memfd again: ") + std::strerror(errno));
}

}  // namespace ckpt::restorer
