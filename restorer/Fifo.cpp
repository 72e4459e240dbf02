// Ends of unlinked FIFOs at restore (see Fifo.h).
#include "restorer/Fifo.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "format/DeletedFile.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

namespace {
[[noreturn]] void fail(const format::FdEntry& f, const std::string& why) {
  throw RestoreError("fd " + std::to_string(f.fd) + " (fifo " + f.file.path + ", unlinked): " + why);
}
}  // namespace

bool fifo_is_unlinked(const format::Image& image, const format::FdEntry& f) {
  return f.kind == format::FdKind::Fifo && format::find_deleted(image.files.deleted, f.object);
}

int open_unlinked_fifo_end(const format::FdEntry& f, const std::map<uint64_t, int>& deleted) {
  const int holder = deleted.at(f.object);
  // Room for the unread data fill_pipes writes last.
  if (!f.contents.empty() && f.pipe_size && fcntl(holder, F_GETPIPE_SZ) < int(f.pipe_size) &&
      fcntl(holder, F_SETPIPE_SZ, int(f.pipe_size)) < 0)
    fail(f, "cannot grow the FIFO to its saved size " + std::to_string(f.pipe_size));
  // The holder is a reader and a writer: neither end's open blocks or fails.
  int fd = ::open(("/proc/self/fd/" + std::to_string(holder)).c_str(), int((f.flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC));
  if (fd < 0) fail(f, std::string("cannot open its end: ") + std::strerror(errno));
  return fd;
}

}  // namespace ckpt::restorer
