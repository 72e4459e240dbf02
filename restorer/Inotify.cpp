// inotify watches at restore (see Inotify.h).
#include "restorer/Inotify.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "restorer/RestoreError.h"

namespace ckpt::restorer {

namespace {

std::string where(const format::FdEntry& f, const format::InotifyWatch& w) {
  return "fd " + std::to_string(f.fd) + " (inotify) watch wd " + std::to_string(w.wd) + " on " + w.path;
}

// Closes an fd on every way out.
struct Owned {
  int fd;
  ~Owned() {
    if (fd >= 0) ::close(fd);
  }
  int release() {
    int r = fd;
    fd = -1;
    return r;
  }
};

}  // namespace

void check_inotify(const format::FdEntry& f) {
  for (const format::InotifyWatch& w : f.watches) {
    struct stat st;
    int r = (w.mask & IN_DONT_FOLLOW) ? lstat(w.path.c_str(), &st) : stat(w.path.c_str(), &st);
    if (r != 0) throw RestoreError(where(f, w) + ": the path is missing (" + std::strerror(errno) + ")");
    if ((w.mask & IN_ONLYDIR) && !S_ISDIR(st.st_mode)) throw RestoreError(where(f, w) + ": no longer a directory");
  }
}

int make_inotify(const format::FdEntry& f) {
  Owned in{inotify_init1(IN_CLOEXEC | IN_NONBLOCK)};
  if (in.fd < 0) throw RestoreError("fd " + std::to_string(f.fd) + " (inotify): " + std::strerror(errno));
  Owned dummy{-1};
  std::string dummy_path;
  int next = 1;  // the wd inotify gives next
  for (const format::InotifyWatch& w : f.watches) {
    while (next < w.wd) {
      if (dummy.fd < 0) {
        dummy.fd = memfd_create("ckpt-inotify-wd", MFD_CLOEXEC);
        if (dummy.fd < 0) throw RestoreError(where(f, w) + ": cannot make a dummy watch: " + std::strerror(errno));
        dummy_path = "/proc/self/fd/" + std::to_string(dummy.fd);
      }
      int d = inotify_add_watch(in.fd, dummy_path.c_str(), IN_ACCESS);
      if (d < 0 || inotify_rm_watch(in.fd, d) != 0)
        throw RestoreError(where(f, w) + ": cannot skip watch descriptors: " + std::strerror(errno));
      next = d + 1;
    }
    int got = inotify_add_watch(in.fd, w.path.c_str(), w.mask);
    if (got < 0) throw RestoreError(where(f, w) + ": " + std::strerror(errno));
    if (got != w.wd)
      throw RestoreError(where(f, w) + ": inotify gave wd " + std::to_string(got) +
                         " (two saved paths may now be one file)");
    next = got + 1;
  }
  // Read away what the dummies (IN_IGNORED) and the restore itself queued.
  char buf[4096];
  while (read(in.fd, buf, sizeof buf) > 0) {
  }
  return in.release();
}

}  // namespace ckpt::restorer
