// File descriptors and shared memory objects (see Descriptors.h).
#include "dumper/Descriptors.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>

#include "dumper/DeletedFiles.h"
#include "dumper/Fifo.h"
#include "dumper/FileExtents.h"
#include "dumper/Inotify.h"
#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"
#include "format/Limits.h"
#include "x86/ProcMaps.h"

namespace ckpt::dumper {

using format::FdEntry;
using format::FdKind;
using format::SharedObject;

namespace {


std::string proc(pid_t pid, const std::string& leaf) { return "/proc/" + std::to_string(pid) + "/" + leaf; }

[[noreturn]] void refuse(pid_t pid, int fd, const std::string& why) {
  throw DumpError("pid " + std::to_string(pid) + ": cannot dump fd " + std::to_string(fd) + ": " + why);
}

std::string link_of(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// "key:\tvalue" lines of /proc/PID/fdinfo/N; keys may repeat (epoll tfd lines).
std::vector<std::pair<std::string, std::string>> fdinfo(pid_t pid, int fd) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(x86::read_proc_file(proc(pid, "fdinfo/" + std::to_string(fd))));
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    size_t v = line.find_first_not_of(" \t", colon + 1);
    out.emplace_back(line.substr(0, colon), v == std::string::npos ? "" : line.substr(v));
  }
  return out;
}

std::string field(const std::vector<std::pair<std::string, std::string>>& info, const char* key) {
  for (const auto& [k, v] : info)
    if (k == key) return v;
  return "";
}

SharedObject read_object(int fd, uint64_t id, bool memfd, const std::string& name, const std::string& what) {
  struct stat st;
  if (fstat(fd, &st) != 0) throw DumpError("cannot stat " + what);
  SharedObject o;
  o.id = id;
  o.memfd = memfd;
  o.name = name;
  o.size = uint64_t(st.st_size);
  o.mode = st.st_mode & 0777;
  if (memfd) {
    int seals = fcntl(fd, F_GET_SEALS);
    o.seals = seals > 0 ? uint32_t(seals) : 0;
  }
  o.data = read_extents(fd, o.size, what);
  return o;
}

// timerfd fdinfo: "it_value: (sec, nsec)".
int64_t timespec_field(const std::string& v) {
  long long sec = 0, nsec = 0;
  std::sscanf(v.c_str(), "(%lld, %lld)", &sec, &nsec);
  return sec * 1000000000LL + nsec;
}

bool is_tty(dev_t rdev) {
  unsigned maj = major(rdev);
  return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143);
}

}  // namespace

format::FileTable read_files(pid_t pid, const std::vector<format::Vma>& vmas) {
  format::FileTable table;
  std::map<uint64_t, size_t> object_index;  // id -> index in table.objects

  // Shared memory behind mappings, read through map_files (once per object).
  for (const format::Vma& v : vmas) {
    if (!format::vma_kind_is_shm(v.kind) || object_index.count(v.file.ino)) continue;
    char link[96];
    std::snprintf(link, sizeof link, "map_files/%" PRIx64 "-%" PRIx64, v.start, v.end);
    std::string what = "the shared memory at " + std::string(link + 10);
    ScopedFd fd(::open(proc(pid, link).c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw DumpError("pid " + std::to_string(pid) + ": cannot open " + what + ": " + std::strerror(errno));
    bool memfd = v.kind == format::VmaKind::MemfdShared;
    std::string name = memfd ? v.file.path.substr(7, v.file.path.size() - 7 - 10) : "";
    object_index[v.file.ino] = table.objects.size();
    table.objects.push_back(read_object(fd.get(), v.file.ino, memfd, name, what));
  }

  std::vector<int> numbers;
  if (DIR* d = opendir(proc(pid, "fd").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') numbers.push_back(std::atoi(e->d_name));
    closedir(d);
  }
  std::sort(numbers.begin(), numbers.end());
  std::map<uint64_t, unsigned> pipe_ends;  // pipe inode -> bit 1 read end seen, bit 2 write end seen
  DeletedFiles deleted(pid);
  for (const format::Vma& v : vmas)
    if (format::vma_kind_is_deleted(v.kind)) deleted.add_mapping(v);
  deleted.add_cwd();

  for (int n : numbers) {
    if (n <= 2) continue;  // the shell-job convention: restore's own stdio takes their place
    const std::string path = proc(pid, "fd/" + std::to_string(n));
    std::string target = link_of(path);
    struct stat st;
    if (stat(path.c_str(), &st) != 0) refuse(pid, n, "cannot stat it (" + target + ")");
    auto info = fdinfo(pid, n);
    FdEntry f;
    f.fd = n;
    uint32_t raw_flags = uint32_t(std::stoul(field(info, "flags"), nullptr, 8));
    f.cloexec = (raw_flags & O_CLOEXEC) ? 1 : 0;
    f.flags = raw_flags & ~uint32_t(O_CLOEXEC);
    f.pos = std::stoll(field(info, "pos"));
    f.file.path = target;

    if (target.rfind("socket:", 0) == 0) refuse(pid, n, "sockets are not supported yet (" + target + ")");
    if (target == "anon_inode:[eventfd]") {
      f.kind = FdKind::EventFd;
      f.count = std::stoull(field(info, "eventfd-count"), nullptr, 16);
      if (field(info, "eventfd-semaphore") == "1") f.flags |= 1;  // EFD_SEMAPHORE
    } else if (target == "anon_inode:[eventpoll]") {
      f.kind = FdKind::Epoll;
      for (const auto& [k, v] : info) {
        if (k != "tfd") continue;
        int tfd = 0;
        unsigned events = 0;
        unsigned long long data = 0;
        if (std::sscanf(v.c_str(), "%d events: %x data: %llx", &tfd, &events, &data) != 3)
          refuse(pid, n, "unreadable epoll entry: " + v);
        f.targets.push_back({tfd, events, uint64_t(data)});
      }
    } else if (target == "anon_inode:[signalfd]") {
      f.kind = FdKind::SignalFd;
      f.sigmask = std::stoull(field(info, "sigmask"), nullptr, 16);
    } else if (target == "anon_inode:[timerfd]") {
      f.kind = FdKind::TimerFd;
      f.clockid = std::stoi(field(info, "clockid"));
      f.value_ns = timespec_field(field(info, "it_value"));
      f.interval_ns = timespec_field(field(info, "it_interval"));
    } else if (target == "anon_inode:inotify") {
      f.kind = FdKind::Inotify;
      read_inotify(pid, n, f);  // Inotify.h
    } else if (target.rfind("anon_inode:", 0) == 0) {
      refuse(pid, n, target.substr(11) + " descriptors are not supported yet");
    } else if (S_ISFIFO(st.st_mode)) {
      f.object = st.st_ino;
      f.kind = target.rfind("pipe:", 0) == 0 ? FdKind::Pipe : FdKind::Fifo;
      // An unlinked FIFO: its DeletedFile (same id as the pipe inode) recreates it.
      if (std::string name; f.kind == FdKind::Fifo && strip_deleted(target, &name)) {
        f.file.path = name;
        deleted.add_fd(n, target, f.flags & O_ACCMODE);
      }
      ScopedFd probe(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
      int size = probe.get() >= 0 ? fcntl(probe.get(), F_GETPIPE_SZ) : -1;
      f.pipe_size = size > 0 ? uint32_t(size) : 65536;
      pipe_ends[st.st_ino] |= (f.flags & O_ACCMODE) == O_RDONLY ? 1u : (f.flags & O_ACCMODE) == O_WRONLY ? 2u : 3u;
    } else if (target.rfind("/memfd:", 0) == 0 && ends_with(target, " (deleted)")) {
      f.kind = FdKind::Memfd;
      f.object = st.st_ino;
      if (!object_index.count(st.st_ino)) {
        ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0) refuse(pid, n, "cannot open the memfd to read it");
        object_index[st.st_ino] = table.objects.size();
        table.objects.push_back(read_object(fd.get(), st.st_ino, true, target.substr(7, target.size() - 17),
                                            "the memfd at fd " + std::to_string(n)));
      }
    } else if (std::string name; !S_ISFIFO(st.st_mode) && !(S_ISCHR(st.st_mode) && is_tty(st.st_rdev)) &&
                                 strip_deleted(target, &name)) {
      f.kind = FdKind::DeletedFile;  // one object per inode (DeletedFiles.h)
      f.file.path = name;
      f.object = deleted.add_fd(n, target, f.flags & O_ACCMODE);
    } else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      f.kind = S_ISREG(st.st_mode) ? FdKind::RegularFile : FdKind::Directory;
      if (target.empty() || target[0] != '/') refuse(pid, n, "it has no path (" + target + ")");
      f.file.dev = st.st_dev;
      f.file.ino = st.st_ino;
      f.file.size = uint64_t(st.st_size);
      f.file.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    } else if (S_ISCHR(st.st_mode)) {
      if (is_tty(st.st_rdev)) refuse(pid, n, "terminals other than the inherited stdio are not supported yet (" + target + ")");
      f.kind = FdKind::CharDevice;
      f.rdev = st.st_rdev;
    } else {
      refuse(pid, n, "unsupported kind of file (" + target + ")");
    }
    table.fds.push_back(std::move(f));
  }

  // A pipe is recreated whole when both ends are inside; an end whose
  // partner is outside needs --inherit-fd at restore. Unread data belongs
  // with the read end.
  for (FdEntry& f : table.fds) {
    if (f.kind != FdKind::Pipe && f.kind != FdKind::Fifo) continue;
    f.external = pipe_ends[f.object] != 3;
    if (f.kind == FdKind::Fifo) continue;  // Fifo.h
    bool read_end = (f.flags & O_ACCMODE) == O_RDONLY;
    if (!f.external && read_end) {
      bool first = true;
      for (const FdEntry& g : table.fds)
        if (&g != &f && g.object == f.object && (g.flags & O_ACCMODE) == O_RDONLY && g.fd < f.fd) first = false;
      if (first) f.contents = peek_pipe(pid, f.fd, f.pipe_size);
    }
  }
  save_fifo_contents(pid, table.fds);
  table.deleted = deleted.take();
  return table;
}

}  // namespace ckpt::dumper
