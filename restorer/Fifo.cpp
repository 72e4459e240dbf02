// FIFO ends at restore (see Fifo.h).
#include "restorer/Fifo.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "format/DeletedFile.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

namespace {
[[noreturn]] void fail(const format::FdEntry& f, const std::string& why) {
  throw RestoreError("fd " + std::to_string(f.fd) + " (fifo " + f.file.path + "): " + why);
}
}  // namespace

bool fifo_is_unlinked(const format::Image& image, const format::FdEntry& f) {
  return f.kind == format::FdKind::Fifo && format::find_deleted(image.files.deleted, f.object);
}

FifoOpener::~FifoOpener() {
  for (const auto& [ino, fd] : holders_)
    if (owned_[ino]) ::close(fd);
}

int FifoOpener::holder(const format::FdEntry& f) {
  auto it = holders_.find(f.object);
  if (it != holders_.end()) return it->second;
  int fd;
  if (fifo_is_unlinked(image_, f)) {
    fd = deleted_.at(f.object);
    owned_[f.object] = false;
  } else {
    // O_RDWR on a FIFO never blocks and never fails for want of a partner.
    fd = ::open(f.file.path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) fail(f, std::string("cannot open it: ") + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
      ::close(fd);
      fail(f, "the path is no longer a FIFO");
    }
    owned_[f.object] = true;
  }
  holders_[f.object] = fd;
  return fd;
}

int FifoOpener::open(const format::FdEntry& f) {
  int h = holder(f);
  if (!f.contents.empty()) {
    if (f.pipe_size && fcntl(h, F_GETPIPE_SZ) < int(f.pipe_size) && fcntl(h, F_SETPIPE_SZ, int(f.pipe_size)) < 0)
      fail(f, "cannot grow the FIFO to its saved size " + std::to_string(f.pipe_size));
    ssize_t w = ::write(h, f.contents.data(), f.contents.size());
    if (w != ssize_t(f.contents.size()))
      fail(f, "cannot put back its " + std::to_string(f.contents.size()) + " unread bytes (" +
                  (w < 0 ? std::strerror(errno) : "the FIFO is full") + ")");
  }
  int fd = ::open(("/proc/self/fd/" + std::to_string(h)).c_str(), int((f.flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC));
  if (fd < 0) fail(f, std::string("cannot open its end: ") + std::strerror(errno));
  return fd;
}

}  // namespace ckpt::restorer
