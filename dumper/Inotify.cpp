// inotify watches at dump (see Inotify.h).
#include "dumper/Inotify.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <vector>

#include "dumper/FdInfo.h"
#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"
#include "format/Limits.h"
#include "x86/ProcMaps.h"

namespace ckpt::dumper {

namespace {

std::vector<uint8_t> unhex(const std::string& s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(uint8_t(std::stoul(s.substr(i, 2), nullptr, 16)));
  return out;
}

// Mount points of the file system with kernel device number `kdev` (as
// fdinfo's sdev shows it: major << 20 | minor), whole-file-system mounts first.
std::vector<std::string> mounts_of(pid_t pid, unsigned kdev) {
  std::vector<std::string> whole, part;
  std::istringstream in(x86::read_proc_file("/proc/" + std::to_string(pid) + "/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, point;
    unsigned maj = 0, min = 0;
    if (!(f >> id >> parent >> devno >> root >> point) || std::sscanf(devno.c_str(), "%u:%u", &maj, &min) != 2) continue;
    if (((maj << 20) | min) != kdev) continue;
    (root == "/" ? whole : part).push_back(point);
  }
  whole.insert(whole.end(), part.begin(), part.end());
  return whole;
}

}  // namespace

void read_inotify(pid_t pid, int fd, format::FdEntry& f) {
  // refuse_fd, so that --ignore-fds can leave the fd out instead.
  auto refuse = [&](const std::string& why) { refuse_fd(pid, fd, "inotify: " + why); };
  // Unread events: counted on a copy of the very file (pidfd_getfd), not read.
  {
    ScopedFd pidfd(int(syscall(SYS_pidfd_open, pid, 0)));
    ScopedFd copy(pidfd.get() < 0 ? -1 : int(syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
    int queued = 0;
    if (copy.get() < 0 || ioctl(copy.get(), FIONREAD, &queued) != 0)
      refuse(std::string("cannot measure its queue of unread events: ") + std::strerror(errno));
    if (queued > 0)
      refuse(std::to_string(queued) + " bytes of unread events are queued; ckpt does not carry them (dump when the "
             "process has read its events)");
  }
  std::istringstream in(x86::read_proc_file("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd)));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("inotify ", 0) != 0) continue;
    int wd = 0;
    unsigned long ino = 0;
    unsigned sdev = 0, mask = 0, ignored = 0, hbytes = 0;
    int htype = 0;
    char handle_hex[2 * format::kMaxFileHandleBytes + 2] = {};
    if (std::sscanf(line.c_str(),
                    "inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x f_handle:%258s",
                    &wd, &ino, &sdev, &mask, &ignored, &hbytes, &htype, handle_hex) != 8)
      refuse("unreadable watch line: " + line);
    const std::string which = "watch wd " + std::to_string(wd);
    if (wd > format::kMaxInotifyWd)
      refuse(which + ": restore recreates wds up to " + std::to_string(format::kMaxInotifyWd) +
             " only (it adds and removes a dummy watch for each skipped number)");
    std::vector<uint8_t> bytes = unhex(handle_hex);
    if (bytes.size() != hbytes || hbytes > format::kMaxFileHandleBytes) refuse(which + ": unreadable file handle");
    std::vector<uint8_t> buf(sizeof(file_handle) + hbytes);
    auto* h = reinterpret_cast<file_handle*>(buf.data());
    h->handle_bytes = hbytes;
    h->handle_type = htype;
    std::memcpy(h->f_handle, bytes.data(), hbytes);
    format::InotifyWatch w;
    w.wd = wd;
    w.mask = mask;
    w.ino = ino;
    w.dev = makedev(sdev >> 20, sdev & 0xfffff);
    for (const std::string& mount : mounts_of(pid, sdev)) {
      // open_by_handle_at wants a mount fd that is not O_PATH.
      ScopedFd mfd(::open(mount.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      ScopedFd file(mfd.get() < 0 ? -1 : open_by_handle_at(mfd.get(), h, O_PATH | O_CLOEXEC));
      if (file.get() < 0) continue;
      char path[4096];
      ssize_t n = readlink(("/proc/self/fd/" + std::to_string(file.get())).c_str(), path, sizeof path - 1);
      if (n <= 0) continue;
      std::string p(path, size_t(n));
      struct stat st;
      // The name must lead to the watched inode now (not " (deleted)", not replaced).
      if (p[0] == '/' && stat(p.c_str(), &st) == 0 && st.st_ino == ino && st.st_dev == w.dev) {
        w.path = p;
        break;
      }
    }
    if (w.path.empty())
      refuse(which + ": its file (inode " + std::to_string(ino) +
             ") has no path ckpt can find (deleted, not visible, or not root to open file handles)");
    f.watches.push_back(std::move(w));
  }
  std::sort(f.watches.begin(), f.watches.end(),
            [](const format::InotifyWatch& a, const format::InotifyWatch& b) { return a.wd < b.wd; });
}

}  // namespace ckpt::dumper
